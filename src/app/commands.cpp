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
#include "io/run_file.hpp"
#include "metrics/step_record.hpp"
#include "runtime/math_libraries.hpp"
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
  const MathLibraries math = detect_math_libraries();
  std::cout << "math\n"
            << "  blas          " << math.blas << " (" << (math.blas_library.empty() ? "-" : math.blas_library) << ")\n"
            << "  lapack        " << math.lapack << " (" << (math.lapack_library.empty() ? "-" : math.lapack_library) << ")\n"
            << "  onednn        " << (math.onednn ? "used" : "not used") << "\n"
            << "  threads       intra-op " << math.intra_op_threads << ", inter-op " << math.inter_op_threads
            << ", OpenMP max " << math.omp_max_threads << "\n"
            << "  cuda math     TF32 matmul " << (math.tf32_matmul ? "on" : "off") << ", TF32 cuDNN "
            << (math.tf32_cudnn ? "on" : "off") << ", cuDNN benchmark " << (math.cudnn_benchmark ? "on" : "off")
            << ", deterministic " << (math.cudnn_deterministic ? "on" : "off") << "\n";
  if (const std::string w = reference_blas_warning(math); !w.empty()) std::cout << "  warning       " << w << "\n";
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

int run_schema(World& world, bool json) {
  if (!world.is_root()) return kExitOk;
  nlohmann::json fields = nlohmann::json::array();
  for (const StepFieldInfo& f : step_fields()) {
    fields.push_back({{"name", f.name}, {"type", f.is_integer ? "int64" : "float64"}, {"unit", f.unit},
                      {"description", f.doc}});
  }
  nlohmann::json phases = nlohmann::json::array();
  for (const StepField p : kPhaseFields) phases.push_back(step_fields()[static_cast<std::size_t>(p)].name);
  if (json) {
    const nlohmann::json out = {
        {"format", io::kFormatName},
        {"schema_version", io::kSchemaVersion},
        {"steps", fields},
        // wall_s = sum of the phases + control_s + other_s; step_s spans the phases.
        {"phases", phases},
        {"between_steps", {"control_s", "other_s"}},
    };
    std::cout << out.dump(2) << std::endl;
    return kExitOk;
  }
  std::cout << io::kFormatName << " schema_version " << io::kSchemaVersion << ": /steps/<name>, [step, rank]\n";
  for (const auto& f : fields) {
    std::cout << "  " << std::left << std::setw(30) << f["name"].get<std::string>() << std::setw(9)
              << f["type"].get<std::string>() << std::setw(9) << f["unit"].get<std::string>()
              << f["description"].get<std::string>() << "\n";
  }
  std::cout << "wall_s = " << phases.size() << " phases (" ;
  for (std::size_t i = 0; i < phases.size(); ++i) std::cout << (i ? " + " : "") << phases[i].get<std::string>();
  std::cout << ") + control_s + other_s\n";
  return kExitOk;
}

}  // namespace scalebench
