// Which GPU each node-local rank uses, decided from the GPUs' identities (device/gpu_placement).
#include <gtest/gtest.h>

#include "device/gpu_placement.hpp"

namespace scalebench::device {
namespace {

const std::string kA = "0000:3B:00.0", kB = "0000:5E:00.0", kC = "0000:86:00.0", kD = "0000:AF:00.0";

std::vector<int> indices(const std::vector<GpuAssignment>& a) {
  std::vector<int> out;
  for (const auto& x : a) out.push_back(x.visible_index);
  return out;
}
std::vector<std::string> buses(const std::vector<GpuAssignment>& a) {
  std::vector<std::string> out;
  for (const auto& x : a) out.push_back(x.bus_id);
  return out;
}

TEST(GpuPlacement, OneGpuPerRankByLocalRank) {
  // mpirun on a 4-GPU node: every rank sees all four, in the same order.
  const std::vector<std::vector<std::string>> visible(4, {kA, kB, kC, kD});
  const auto a = assign_gpus(visible);
  EXPECT_EQ(indices(a), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(buses(a), (std::vector<std::string>{kA, kB, kC, kD}));
  EXPECT_TRUE(shared_gpus(a).empty());
  EXPECT_EQ(describe_shared_gpus(a), "");
}

TEST(GpuPlacement, OneVisibleGpuPerRankIsNotSharing) {
  // srun --gpus-per-task=1: each rank sees one GPU, a different one; "4 ranks, 1 visible GPU each".
  const std::vector<std::vector<std::string>> visible{{kA}, {kB}, {kC}, {kD}};
  const auto a = assign_gpus(visible);
  EXPECT_EQ(indices(a), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(buses(a), (std::vector<std::string>{kA, kB, kC, kD}));
  EXPECT_TRUE(shared_gpus(a).empty());
}

TEST(GpuPlacement, TwoRanksTrulyOnOneGpuAreNamed) {
  const std::vector<std::vector<std::string>> visible{{kA}, {kA}};
  const auto a = assign_gpus(visible);
  EXPECT_EQ(indices(a), (std::vector<int>{0, 0}));
  EXPECT_EQ(shared_gpus(a), (std::vector<std::vector<int>>{{0, 1}}));
  EXPECT_EQ(describe_shared_gpus(a), "local ranks 0,1 share GPU " + kA);
}

TEST(GpuPlacement, MoreRanksThanGpusShareInTurn) {
  // Four ranks that all see two GPUs: 0 and 2 on the first, 1 and 3 on the second.
  const std::vector<std::vector<std::string>> visible(4, {kA, kB});
  const auto a = assign_gpus(visible);
  EXPECT_EQ(indices(a), (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(shared_gpus(a), (std::vector<std::vector<int>>{{0, 2}, {1, 3}}));
  EXPECT_EQ(describe_shared_gpus(a), "local ranks 0,2 share GPU " + kA + "; local ranks 1,3 share GPU " + kB);
}

TEST(GpuPlacement, MoreGpusThanRanks) {
  const std::vector<std::vector<std::string>> visible(2, {kA, kB, kC, kD});
  const auto a = assign_gpus(visible);
  EXPECT_EQ(buses(a), (std::vector<std::string>{kA, kB}));
  EXPECT_TRUE(shared_gpus(a).empty());
}

TEST(GpuPlacement, APreferredGpuHeldByALowerRankIsAvoided) {
  // Rank 1 sees the GPUs in another order (a per-rank CUDA_VISIBLE_DEVICES=1,0): its preferred
  // index 1 is GPU A, held by rank 0, so it takes B rather than share.
  const std::vector<std::vector<std::string>> visible{{kA, kB}, {kB, kA}};
  const auto a = assign_gpus(visible);
  EXPECT_EQ(buses(a), (std::vector<std::string>{kA, kB}));
  EXPECT_EQ(indices(a), (std::vector<int>{0, 0}));
  EXPECT_TRUE(shared_gpus(a).empty());
}

TEST(GpuPlacement, RanksWithoutGpusGetNone) {
  const std::vector<std::vector<std::string>> visible{{}, {}};
  const auto a = assign_gpus(visible);
  EXPECT_EQ(indices(a), (std::vector<int>{-1, -1}));
  EXPECT_TRUE(shared_gpus(a).empty());
}

}  // namespace
}  // namespace scalebench::device
