// Communicator factory of a build without NCCL: MPI for every device.
#include "comm/communicator.hpp"
#include "comm/mpi_communicator.hpp"
#include "core/errors.hpp"

namespace scalebench {

bool nccl_compiled_in() { return false; }
std::string nccl_version() { return ""; }

std::unique_ptr<Communicator> make_communicator(BackendChoice choice, const torch::Device&,
                                                const CommOptions& options) {
  if (choice == BackendChoice::kNccl) {
    throw UsageError("--backend nccl: this scalebench was built without NCCL; allowed: auto, mpi");
  }
  return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, options.mpi_chunk_bytes);
}

}  // namespace scalebench
