#pragma once
// Peak allocated / reserved bytes of torch's CUDA caching allocator. Needs torch's CUDA headers
// (c10/cuda), which only a CUDA build of LibTorch ships: CMake compiles torch_cuda_allocator.cpp
// there and no_torch_cuda_allocator.cpp (which reports -1, "not measured") elsewhere.
#include <cstdint>

namespace scalebench::device {

void torch_allocator_peaks(int cuda_device, std::int64_t* peak_allocated, std::int64_t* peak_reserved);
// Makes the peaks start again from the current figures (a no-op without torch's CUDA allocator).
void torch_allocator_reset_peaks(int cuda_device);

}  // namespace scalebench::device
