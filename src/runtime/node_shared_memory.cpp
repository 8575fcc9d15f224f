#include "runtime/node_shared_memory.hpp"

#include <exception>

#include "runtime/log.hpp"
#include "runtime/mpi_check.hpp"

namespace scalebench {

NodeSharedMemory::NodeSharedMemory(MPI_Comm node_comm, std::size_t bytes) : comm_(node_comm), bytes_(bytes) {
  int local_rank = 0;
  MPI_CHECK(MPI_Comm_rank(comm_, &local_rank));
  // All of it on local rank 0, none on the others: one segment, one copy. At least one byte, so
  // that the base address exists even for an empty block.
  const auto mine = static_cast<MPI_Aint>(local_rank == 0 ? (bytes > 0 ? bytes : 1) : 0);
  void* own_base = nullptr;
  MPI_CHECK(MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, comm_, &own_base, &win_));
  // Errors on the window must return codes to MPI_CHECK, as on the communicators (world.cpp).
  MPI_CHECK(MPI_Win_set_errhandler(win_, MPI_ERRORS_RETURN));
  MPI_Aint size = 0;
  int disp_unit = 0;
  void* base = nullptr;
  MPI_CHECK(MPI_Win_shared_query(win_, 0, &size, &disp_unit, &base));
  base_ = static_cast<std::uint8_t*>(base);
  // One passive-target epoch for the window's life: MPI_Win_sync (publish) needs one.
  MPI_CHECK(MPI_Win_lock_all(MPI_MODE_NOCHECK, win_));
}

void NodeSharedMemory::publish() {
  MPI_CHECK(MPI_Win_sync(win_));
  MPI_CHECK(MPI_Barrier(comm_));
  MPI_CHECK(MPI_Win_sync(win_));
}

NodeSharedMemory::~NodeSharedMemory() {
  if (win_ == MPI_WIN_NULL) return;
  // A destructor must not throw: a failure is reported, and the job's end frees the segment.
  try {
    MPI_CHECK(MPI_Win_unlock_all(win_));
    MPI_CHECK(MPI_Win_free(&win_));
  } catch (const std::exception& e) {
    log::error(std::string("freeing the node's shared memory: ") + e.what());
  }
}

}  // namespace scalebench
