#include "runtime/versions.hpp"

#include <torch/torch.h>

#include "comm/communicator.hpp"
#include "device/device.hpp"
#include "io/h5_version.hpp"
#include "runtime/world.hpp"
#include "runtime/build_info.hpp"

namespace scalebench {
namespace {
std::string or_none(const std::string& v) { return v.empty() ? "none" : v; }

std::string cudnn_version() {
  // Only a CUDA build of LibTorch can answer; the CPU build throws.
  try {
    if (!torch::cuda::cudnn_is_available()) return "";
    const long v = at::detail::getCUDAHooks().versionCuDNN();
    // cuDNN 9 encodes major*10000 + minor*100 + patch; cuDNN 8 major*1000 + minor*100 + patch.
    const long major_unit = v >= 90000 ? 10000 : 1000;
    return std::to_string(v / major_unit) + "." + std::to_string((v % major_unit) / 100) + "." +
           std::to_string(v % 100);
  } catch (const std::exception&) {
    return "";
  }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> library_versions() {
  return {
      {"scalebench", std::string(scalebench_version()) + " (git " + scalebench_git_revision() + ")"},
      {"libtorch", TORCH_VERSION},
      {"cuda_runtime", or_none(device::cuda_runtime_version())},
      {"cuda_driver", or_none(device::cuda_driver_version())},
      {"cudnn", or_none(cudnn_version())},
      {"nccl", or_none(nccl_version())},
      {"mpi", World::get().mpi_library_version()},
      {"hdf5", io::hdf5_version()},
  };
}

}  // namespace scalebench
