// Communicator factory of a build with NCCL: NCCL for CUDA tensors unless --backend mpi.
#include <nccl.h>

#include "comm/comm_group.hpp"
#include "comm/communicator.hpp"
#include "comm/mpi_communicator.hpp"
#include "comm/nccl_communicator.hpp"
#include "core/errors.hpp"

namespace scalebench {

bool nccl_compiled_in() { return true; }

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." +
         std::to_string(v % 100);
}

std::unique_ptr<Communicator> make_communicator(BackendChoice choice, const torch::Device& device,
                                                const CommOptions& options, CommGroup group) {
  if (choice == BackendChoice::kNccl && !device.is_cuda()) {
    throw UsageError("--backend nccl needs --device cuda (NCCL reduces CUDA tensors only); "
                     "allowed on cpu: auto, mpi");
  }
  const MPI_Comm comm = mpi_comm_of(group);
  if (comm == MPI_COMM_NULL) return nullptr;
  if (device.is_cuda() && choice != BackendChoice::kMpi) {
    return std::make_unique<NcclCommunicator>(device.index(), comm);
  }
  return std::make_unique<MpiCommunicator>(comm, options.mpi_chunk_bytes);
}

}  // namespace scalebench
