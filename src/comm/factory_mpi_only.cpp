// Communicator factory of a build without NCCL: MPI for every device.
#include "comm/comm_group.hpp"
#include "comm/communicator.hpp"
#include "comm/mpi_communicator.hpp"
#include "core/errors.hpp"

namespace scalebench {

bool nccl_compiled_in() { return false; }
std::string nccl_version() { return ""; }

std::unique_ptr<Communicator> make_communicator(BackendChoice choice, const torch::Device&,
                                                const CommOptions& options, CommGroup group) {
  if (choice == BackendChoice::kNccl) {
    throw UsageError("--backend nccl: this scalebench was built without NCCL; allowed: auto, mpi");
  }
  const MPI_Comm comm = mpi_comm_of(group);
  if (comm == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiCommunicator>(comm, options.mpi_chunk_bytes);
}

}  // namespace scalebench
