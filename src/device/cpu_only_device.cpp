// Device layer of a build without CUDA: the CPU is the only device.
#include "device/device.hpp"
#include "metrics/process_stats.hpp"

namespace scalebench::device {

int cuda_device_count() { return 0; }

std::vector<std::string> visible_gpu_bus_ids() { return {}; }

void select_cuda_device(int) {}

DeviceInfo describe(const torch::Device&) { return {"cpu: " + host_cpu_model(), ""}; }

DeviceMemory memory(const torch::Device&) { return {}; }

void reset_peak_memory(const torch::Device&) {}

std::unique_ptr<PhaseClock> make_phase_clock(const torch::Device&) {
  return make_host_phase_clock();
}

std::function<bool()> enqueue_fence(const torch::Device&) {
  return [] { return true; };
}

std::string cuda_runtime_version() { return ""; }
std::string cuda_driver_version() { return ""; }

}  // namespace scalebench::device
