// Device layer of a CUDA build. It uses the CUDA runtime directly, so it compiles against a CPU-only
// LibTorch too (then no tensor is ever on a GPU and --device cuda is refused up front). Peak memory
// of torch's caching allocator comes from torch_allocator_stats(), compiled from a file that needs
// torch's CUDA headers where they exist.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <memory>

#include "device/cuda_check.hpp"
#include "device/device.hpp"
#include "device/torch_allocator_stats.hpp"
#include "metrics/process_stats.hpp"

namespace scalebench::device {
namespace {
// torch computes on the device's legacy default stream (scalebench sets no stream guard).
const cudaStream_t kTorchStream = cudaStreamLegacy;

class CudaPhaseClock final : public PhaseClock {
 public:
  CudaPhaseClock() {
    CUDA_CHECK(cudaEventCreate(&start_));
    for (auto& e : marks_) CUDA_CHECK(cudaEventCreate(&e));
  }
  ~CudaPhaseClock() override {
    cudaEventDestroy(start_);
    for (auto& e : marks_) cudaEventDestroy(e);
  }
  void begin_step() override {
    CUDA_CHECK(cudaEventRecord(start_, kTorchStream));
    last_mark_ = -1;
  }
  void mark(Phase ended) override {
    const auto i = static_cast<std::size_t>(ended);
    CUDA_CHECK(cudaEventRecord(marks_[i], kTorchStream));
    recorded_[i] = true;
    last_mark_ = static_cast<int>(i);
  }
  bool completed() override {
    return last_mark_ < 0 || cuda_event_completed(marks_[static_cast<std::size_t>(last_mark_)]);
  }
  PhaseTimes resolve() override {
    PhaseTimes times;
    if (last_mark_ < 0) return times;
    CUDA_CHECK(cudaEventSynchronize(marks_[static_cast<std::size_t>(last_mark_)]));
    cudaEvent_t previous = start_;
    for (std::size_t i = 0; i < kNumPhases; ++i) {
      if (!recorded_[i]) continue;
      float ms = 0.f;
      CUDA_CHECK(cudaEventElapsedTime(&ms, previous, marks_[i]));
      times.seconds[i] = ms * 1e-3;
      previous = marks_[i];
      recorded_[i] = false;
    }
    float total_ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&total_ms, start_, marks_[static_cast<std::size_t>(last_mark_)]));
    times.step_s = total_ms * 1e-3;
    return times;
  }

 private:
  cudaEvent_t start_ = nullptr;
  std::array<cudaEvent_t, kNumPhases> marks_{};
  std::array<bool, kNumPhases> recorded_{};
  int last_mark_ = -1;
};

std::string format_version(int v) {  // CUDA encodes 1000*major + 10*minor
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}
}  // namespace

int cuda_device_count() {
  int n = 0;
  // No driver or no GPU is an answer here (0), not an error.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::vector<std::string> visible_gpu_bus_ids() {
  std::vector<std::string> out;
  const int n = cuda_device_count();
  for (int i = 0; i < n; ++i) {
    char bus_id[32] = {0};
    CUDA_CHECK(cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), i));
    out.emplace_back(bus_id);
  }
  return out;
}

void select_cuda_device(int index) { CUDA_CHECK(cudaSetDevice(index)); }

DeviceInfo describe(const torch::Device& device) {
  if (!device.is_cuda()) return {"cpu: " + host_cpu_model(), ""};
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device.index()));
  char bus_id[32] = {0};
  CUDA_CHECK(cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), device.index()));
  return {prop.name, bus_id};
}

DeviceMemory memory(const torch::Device& device) {
  DeviceMemory mem;
  if (!device.is_cuda()) return mem;
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  mem.used_bytes = static_cast<std::int64_t>(total_bytes - free_bytes);
  torch_allocator_peaks(device.index(), &mem.peak_allocated_bytes, &mem.peak_reserved_bytes);
  return mem;
}

void reset_peak_memory(const torch::Device& device) {
  if (device.is_cuda()) torch_allocator_reset_peaks(device.index());
}

std::unique_ptr<PhaseClock> make_phase_clock(const torch::Device& device) {
  if (device.is_cuda()) return std::make_unique<CudaPhaseClock>();
  return make_host_phase_clock();
}

std::function<bool()> enqueue_fence(const torch::Device& device) {
  if (!device.is_cuda()) return [] { return true; };
  cudaEvent_t raw = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&raw, cudaEventDisableTiming));
  std::shared_ptr<CUevent_st> event(raw, [](cudaEvent_t e) { cudaEventDestroy(e); });
  CUDA_CHECK(cudaEventRecord(raw, kTorchStream));
  return [event] { return cuda_event_completed(event.get()); };
}

std::string cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return "";
  return format_version(v);
}

std::string cuda_driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess || v == 0) return "";
  return format_version(v);
}

}  // namespace scalebench::device
