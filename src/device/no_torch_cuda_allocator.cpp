#include "device/torch_allocator_stats.hpp"

namespace scalebench::device {

// This LibTorch has no CUDA allocator to ask: not measured.
void torch_allocator_peaks(int, std::int64_t* peak_allocated, std::int64_t* peak_reserved) {
  *peak_allocated = -1;
  *peak_reserved = -1;
}

void torch_allocator_reset_peaks(int) {}

}  // namespace scalebench::device
