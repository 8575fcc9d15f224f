#pragma once
// How the ranks of one node hold one copy of a dataset: one rank of the node (the reader,
// node-local rank 0) reads and decodes it into memory that every rank of the node maps. datasets/
// sees only this interface, free of MPI: the MPI implementation (a shared-memory window on the
// node's communicator, src/runtime/node_share_mpi.hpp) is passed in by the caller, and
// process_local_share() is a node of one process without MPI (unit tests, which have no MPI).
//
// COLLECTIVE: every call, including dropping the last owner of a SharedBytes, is collective over
// the node. Every rank of a node makes the same calls in the same order, or the node hangs.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace scalebench::datasets {

// Memory that the node's ranks share. Only the reader writes it, and only before publish().
class SharedBytes {
 public:
  virtual ~SharedBytes() = default;  // the last owner on each rank frees it (collective)
  virtual std::uint8_t* data() = 0;  // the same bytes on every rank of the node
  virtual std::size_t size() const = 0;
  // Called by every rank once the reader has filled the memory: when it returns, every rank sees
  // the reader's bytes.
  virtual void publish() = 0;
};

class NodeShare {
 public:
  virtual ~NodeShare() = default;
  virtual bool is_reader() const = 0;
  // The reader's `value` on every rank of the node (the others' values are ignored).
  virtual std::string from_reader(const std::string& value) = 0;
  // True on every rank of the node iff every rank of the node passed true.
  virtual bool all(bool mine) = 0;
  // `bytes` (the same on every rank) that the node's ranks share: one allocation per node.
  virtual std::shared_ptr<SharedBytes> allocate(std::size_t bytes) = 0;
};

// A node of one process: is_reader(), the memory is the process's own.
std::shared_ptr<NodeShare> process_local_share();

}  // namespace scalebench::datasets
