// scalebench's CPU allocator (runtime/memory_budget.hpp): its cache of large blocks hands a freed
// block back to the next request of its size, holds no more than it may, and gives everything
// back before a budget refuses an allocation.
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "runtime/memory_budget.hpp"

namespace scalebench {
namespace {

constexpr std::int64_t kFloatsOf4MiB = (std::int64_t{4} << 20) / 4;

class CpuAllocator : public ::testing::Test {
 protected:
  void SetUp() override {
    enable_cpu_block_cache();
    release_cpu_block_cache();
  }
  void TearDown() override {
    set_cpu_tensor_budget(0);  // the process's other tests run without a budget
    release_cpu_block_cache();
  }
};

TEST_F(CpuAllocator, IsLibTorchsCpuAllocatorOnceEnabled) {
  ASSERT_TRUE(cpu_block_cache_enabled());
  const std::int64_t before = cpu_tensor_bytes_in_use();
  torch::Tensor t = torch::empty({kFloatsOf4MiB});
  EXPECT_EQ(cpu_tensor_bytes_in_use() - before, std::int64_t{4} << 20);
  t = torch::Tensor();
  EXPECT_EQ(cpu_tensor_bytes_in_use(), before);
}

TEST_F(CpuAllocator, AFreedLargeBlockServesTheNextRequestOfItsSize) {
  void* first = nullptr;
  {
    torch::Tensor t = torch::ones({kFloatsOf4MiB});
    first = t.data_ptr();
  }
  EXPECT_EQ(cpu_cached_bytes(), std::int64_t{4} << 20);
  torch::Tensor other_size = torch::empty({kFloatsOf4MiB + 16});
  EXPECT_NE(other_size.data_ptr(), first) << "blocks are matched by exact size, never split";
  torch::Tensor same = torch::empty({kFloatsOf4MiB});
  EXPECT_EQ(same.data_ptr(), first);
  EXPECT_EQ(cpu_cached_bytes(), 0);
  // A reused block is the tensor's memory like any other: writable, and its data as written.
  same.fill_(3.0f);
  EXPECT_EQ(same.sum().item<double>(), 3.0 * static_cast<double>(kFloatsOf4MiB));
}

TEST_F(CpuAllocator, SmallBlocksAreNotCached) {
  { torch::Tensor t = torch::empty({1000}); }
  EXPECT_EQ(cpu_cached_bytes(), 0);
}

TEST_F(CpuAllocator, TheCacheNeverHoldsMoreThanTheMostEverInUse) {
  // 64 blocks of ever new sizes, one at a time: were each kept, the cache would hold 256 MiB, far
  // more than this process ever had in use at once (nothing here resets the peak, so the peak is
  // the high-water mark the cache is capped at).
  for (int i = 1; i <= 64; ++i) {
    torch::Tensor t = torch::empty({kFloatsOf4MiB + 64 * i});
  }
  EXPECT_GT(cpu_cached_bytes(), 0);
  EXPECT_LE(cpu_cached_bytes(), cpu_tensor_peak_bytes());
  EXPECT_LT(cpu_cached_bytes(), std::int64_t{64} * (std::int64_t{4} << 20));
  release_cpu_block_cache();
  EXPECT_EQ(cpu_cached_bytes(), 0);
}

TEST_F(CpuAllocator, ABudgetCountsCachedBlocksAndFreesThemBeforeRefusing) {
  { torch::Tensor t = torch::empty({kFloatsOf4MiB}); }
  ASSERT_EQ(cpu_cached_bytes(), std::int64_t{4} << 20);
  // Room for what is in use plus 6 MiB: the cached 4 MiB and a new 4 MiB do not both fit, so the
  // cache is given back and the new block fits.
  const auto in_use = static_cast<std::uint64_t>(cpu_tensor_bytes_in_use());
  set_cpu_tensor_budget(in_use + (std::uint64_t{6} << 20));
  torch::Tensor t = torch::empty({kFloatsOf4MiB + 16});
  EXPECT_EQ(cpu_cached_bytes(), 0);
  // Beyond the budget even with nothing cached: refused as out of memory, as on a GPU.
  EXPECT_THROW(torch::empty({kFloatsOf4MiB}), c10::OutOfMemoryError);
}

}  // namespace
}  // namespace scalebench
