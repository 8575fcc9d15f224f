#include "app/commands.hpp"

#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/run_setup.hpp"
#include "comm/communicator.hpp"
#include "core/errors.hpp"
#include "device/device.hpp"
#include "metrics/process_stats.hpp"
#include "models/registry.hpp"
#include "runtime/versions.hpp"

namespace scalebench {

int run_models(World& world, bool json) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : models::registry()) {
    torch::NoGradGuard no_grad;
    auto model = e.make();
    nlohmann::json j;
    j["name"] = e.name;
    j["source"] = e.source;
    j["description"] = e.description;
    j["input_shape"] = e.input_shape;
    j["num_classes"] = e.num_classes;
    j["params_total"] = models::count_total_params(*model);
    j["params_trainable"] = models::count_trainable_params(*model);
    j["macs_per_sample"] = model->macs_per_sample();
    j["default_batch"] = e.default_batch;
    j["default_optimizer"] = e.default_optimizer;
    j["default_lr"] = e.default_lr;
    list.push_back(j);
  }
  if (!world.is_root()) return kExitOk;
  if (json) {
    std::cout << list.dump(2) << std::endl;
    return kExitOk;
  }
  std::cout << std::left << std::setw(14) << "model" << std::right << std::setw(14) << "input"
            << std::setw(14) << "params" << std::setw(14) << "trainable" << std::setw(16)
            << "MACs/sample" << "  " << std::left << std::setw(16) << "optimizer/lr" << "source\n";
  for (const auto& j : list) {
    std::ostringstream opt;
    opt << j["default_optimizer"].get<std::string>() << "/" << j["default_lr"].get<double>();
    std::cout << std::left << std::setw(14) << j["name"].get<std::string>() << std::right
              << std::setw(14) << shape_string(j["input_shape"].get<std::vector<std::int64_t>>())
              << std::setw(14) << j["params_total"].get<std::int64_t>() << std::setw(14)
              << j["params_trainable"].get<std::int64_t>() << std::setw(16)
              << j["macs_per_sample"].get<std::int64_t>() << "  " << std::left << std::setw(16)
              << opt.str() << j["source"].get<std::string>() << "\n";
  }
  return kExitOk;
}

int run_info(World& world) {
  const auto hosts = world.gather_strings_to_root(
      world.hostname() + " (local rank " + std::to_string(world.local_rank()) + ", CPUs " +
      cpu_affinity_string() + ")");
  if (!world.is_root()) return kExitOk;
  std::cout << "libraries\n";
  for (const auto& [name, version] : library_versions()) {
    std::cout << "  " << std::left << std::setw(14) << name << version << "\n";
  }
  std::cout << "backends\n  mpi           CPU tensors (CUDA tensors staged through host memory)\n"
            << "  nccl          " << (nccl_compiled_in() ? "CUDA tensors" : "not built") << "\n";
  std::cout << "devices\n  cpu           " << host_cpu_model() << " (" << std::thread::hardware_concurrency()
            << " hardware threads; LibTorch uses " << torch::get_num_threads() << ")\n";
  const int gpus = device::cuda_device_count();
  if (gpus == 0) std::cout << "  cuda          none visible\n";
  for (int i = 0; i < gpus; ++i) {
    const auto info = device::describe(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::cout << "  cuda:" << i << "        " << info.name << " (" << info.bus_id << ")\n";
  }
  std::cout << "ranks\n  world size " << world.size() << " on " << world.nodes() << " node(s)\n";
  for (std::size_t r = 0; r < hosts.size(); ++r) std::cout << "  rank " << r << "  " << hosts[r] << "\n";
  return kExitOk;
}

}  // namespace scalebench
