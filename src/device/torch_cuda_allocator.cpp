#include <c10/cuda/CUDACachingAllocator.h>

#include "device/torch_allocator_stats.hpp"

namespace scalebench::device {

void torch_allocator_peaks(int cuda_device, std::int64_t* peak_allocated,
                           std::int64_t* peak_reserved) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
      static_cast<c10::DeviceIndex>(cuda_device));
  // Index 0 is StatType::AGGREGATE (all pools) in every torch release since 1.8; the enum moved
  // namespace across releases, the index did not.
  *peak_allocated = stats.allocated_bytes[0].peak;
  *peak_reserved = stats.reserved_bytes[0].peak;
}

void torch_allocator_reset_peaks(int cuda_device) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(cuda_device));
}

}  // namespace scalebench::device
