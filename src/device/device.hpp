#pragma once
// What scalebench needs to know and do about the compute device, behind one small interface. A
// CUDA build compiles cuda_device.cpp, a CPU-only build cpu_only_device.cpp (chosen in CMake).
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/phase_clock.hpp"

namespace scalebench::device {

int cuda_device_count();  // 0 where CUDA is absent or no GPU is visible
// The PCI bus id of every GPU this process sees, in CUDA's order (empty without GPUs): the GPUs'
// identities, which tell ranks that see "one GPU" each apart from ranks that share one.
std::vector<std::string> visible_gpu_bus_ids();

// Makes `index` the current CUDA device for this process (CUDA runtime and torch).
void select_cuda_device(int index);

struct DeviceInfo {
  std::string name;    // "cpu: <model name>" or the GPU's name
  std::string bus_id;  // PCI bus id of a GPU, "" on CPU
};
DeviceInfo describe(const torch::Device& device);

struct DeviceMemory {
  std::int64_t peak_allocated_bytes = -1;  // torch's caching allocator, -1 = not measured
  std::int64_t peak_reserved_bytes = -1;
  std::int64_t used_bytes = -1;            // device-wide, cudaMemGetInfo
};
DeviceMemory memory(const torch::Device& device);
// The device allocator's peaks start again from now (a no-op on CPU).
void reset_peak_memory(const torch::Device& device);

std::unique_ptr<PhaseClock> make_phase_clock(const torch::Device& device);

// Marks everything enqueued so far on the device's compute stream; the returned poll never blocks
// and says whether that work has finished (CPU: always). What a host waits on, under the watchdog
// (runtime/guarded_wait.hpp), before a call that would block on the device (a copy to the host).
std::function<bool()> enqueue_fence(const torch::Device& device);

// Library versions for `scalebench info` and the run metadata ("" when absent).
std::string cuda_runtime_version();
std::string cuda_driver_version();

}  // namespace scalebench::device
