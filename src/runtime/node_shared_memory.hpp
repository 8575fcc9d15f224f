#pragma once
// One block of memory per node that every rank of the node maps (MPI_Win_allocate_shared on the
// node's communicator): the node's rank 0 allocates it, the others map the same pages, so a node
// holds one copy of what would otherwise be one copy per rank. RAII: the window is freed in the
// destructor.
//
// COLLECTIVE over the node's communicator: the constructor, publish() and the destructor are
// entered by every rank of the node, in the same order (MPI_Win_free waits for the node's ranks).
#include <mpi.h>

#include <cstddef>
#include <cstdint>

namespace scalebench {

class NodeSharedMemory {
 public:
  // `bytes` must be the same on every rank of `node_comm`. Throws (MPI_CHECK) when MPI refuses.
  NodeSharedMemory(MPI_Comm node_comm, std::size_t bytes);
  ~NodeSharedMemory();
  NodeSharedMemory(const NodeSharedMemory&) = delete;
  NodeSharedMemory& operator=(const NodeSharedMemory&) = delete;

  // The node's block, mapped at this rank's address (which may differ between ranks).
  std::uint8_t* data() const { return base_; }
  std::size_t size() const { return bytes_; }
  // After the writing rank's stores: a memory barrier on every rank around the node's barrier, so
  // every rank sees what was written before any of them returns (MPI's unified memory model needs
  // MPI_Win_sync for plain loads and stores).
  void publish();

 private:
  MPI_Comm comm_;
  MPI_Win win_ = MPI_WIN_NULL;
  std::uint8_t* base_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace scalebench
