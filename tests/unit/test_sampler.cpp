// ShardedSampler and the contiguous evaluation shard: over the ranks of an epoch every sample is
// taken exactly once, slices are disjoint and balanced, epochs are reshuffled, every rank computes
// the same order from the same seed, for divisible sizes and for remainders smaller than the world.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <ostream>
#include <set>
#include <stdexcept>

#include "datasets/sampler.hpp"

namespace scalebench::datasets {
namespace {

struct Case {
  std::int64_t n, global_batch;
  int world;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "n=" << c.n << " global_batch=" << c.global_batch << " world=" << c.world;
}

class SamplerCases : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerCases, EveryEpochCoversAllSamplesOnceAcrossRanks) {
  const Case c = GetParam();
  std::vector<ShardedSampler> ranks;
  for (int r = 0; r < c.world; ++r) ranks.emplace_back(c.n, c.global_batch, c.world, r, 7);
  const std::int64_t steps = ranks[0].steps_per_epoch();
  EXPECT_EQ(steps, (c.n + c.global_batch - 1) / c.global_batch);
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<std::int64_t> seen;
    for (std::int64_t s = 0; s < steps; ++s) {
      const std::int64_t step = epoch * steps + s;
      const std::int64_t expected_global =
          s + 1 < steps ? c.global_batch : c.n - (steps - 1) * c.global_batch;
      std::int64_t in_step = 0, smallest = c.n, largest = 0;
      for (int r = 0; r < c.world; ++r) {
        EXPECT_EQ(ranks[r].global_size(step), expected_global);
        const auto idx = ranks[r].indices(step);
        in_step += static_cast<std::int64_t>(idx.size());
        smallest = std::min<std::int64_t>(smallest, static_cast<std::int64_t>(idx.size()));
        largest = std::max<std::int64_t>(largest, static_cast<std::int64_t>(idx.size()));
        seen.insert(seen.end(), idx.begin(), idx.end());
      }
      EXPECT_EQ(in_step, expected_global) << "step " << step;
      EXPECT_LE(largest - smallest, 1) << "unbalanced slices at step " << step;
    }
    // Exactly once: sorted, the union is 0..n-1 with no duplicate (pairwise disjoint).
    std::sort(seen.begin(), seen.end());
    std::vector<std::int64_t> all(static_cast<std::size_t>(c.n));
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(seen, all) << "epoch " << epoch;
  }
}

TEST_P(SamplerCases, ReshuffledBetweenEpochsAndIdenticalForTheSameSeed) {
  const Case c = GetParam();
  ShardedSampler a(c.n, c.global_batch, c.world, 0, 123), b(c.n, c.global_batch, c.world, 0, 123);
  ShardedSampler other_seed(c.n, c.global_batch, c.world, 0, 124);
  const auto e0 = a.epoch_order(0), e1 = a.epoch_order(1);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(b.epoch_order(1), e1);  // what another rank computes, in another order of calls
  EXPECT_EQ(b.epoch_order(0), e0);
  EXPECT_NE(other_seed.epoch_order(0), e0);
  // A rank's indices are its slice of the shared permutation.
  const std::int64_t step = a.steps_per_epoch();  // first step of epoch 1
  ShardedSampler r_last(c.n, c.global_batch, c.world, c.world - 1, 123);
  const auto slice = r_last.slice(step, c.world - 1);
  const auto idx = r_last.indices(step);
  ASSERT_EQ(static_cast<std::int64_t>(idx.size()), slice.count);
  for (std::int64_t k = 0; k < slice.count; ++k) EXPECT_EQ(idx[k], e1[slice.first + k]);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SamplerCases,
                         ::testing::Values(Case{100, 10, 1}, Case{100, 10, 2}, Case{100, 12, 4},
                                           Case{101, 8, 4},   // last global batch 5: one rank 2
                                           Case{10, 4, 4},    // last global batch 2 < world 4
                                           Case{7, 8, 3},     // one step, smaller than the batch
                                           Case{33, 6, 3}, Case{5, 5, 8}));

TEST(Sampler, RemainderSmallerThanWorldGivesEmptySlices) {
  // n=10, global 4, world 4: steps of 4, 4, 2; in the last, ranks 2 and 3 get nothing.
  ShardedSampler r0(10, 4, 4, 0, 1), r3(10, 4, 4, 3, 1);
  EXPECT_EQ(r0.steps_per_epoch(), 3);
  EXPECT_EQ(r0.global_size(2), 2);
  EXPECT_EQ(r0.indices(2).size(), 1u);
  EXPECT_TRUE(r3.indices(2).empty());
  EXPECT_EQ(r3.indices(1).size(), 1u);
  EXPECT_EQ(r3.global_size(5), 2);  // epoch 1's last step
}

TEST(Sampler, RefusesBadArguments) {
  EXPECT_THROW(ShardedSampler(0, 4, 1, 0, 1), std::invalid_argument);
  EXPECT_THROW(ShardedSampler(10, 0, 1, 0, 1), std::invalid_argument);
  EXPECT_THROW(ShardedSampler(10, 4, 2, 2, 1), std::invalid_argument);
  EXPECT_THROW(ShardedSampler(10, 4, 0, 0, 1), std::invalid_argument);
}

TEST(Sampler, SeededPermutationIsAPermutationAndFixed) {
  const auto p = seeded_permutation(1000, 99);
  std::set<std::int64_t> s(p.begin(), p.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 999);
  EXPECT_EQ(seeded_permutation(1000, 99), p);
  EXPECT_NE(seeded_permutation(1000, 100), p);
  EXPECT_TRUE(seeded_permutation(0, 1).empty());
}

TEST(Sampler, ContiguousShardsCoverTheSplit) {
  for (std::int64_t n : {0, 1, 7, 10, 64}) {
    for (int w : {1, 2, 3, 4}) {
      std::int64_t next = 0;
      for (int r = 0; r < w; ++r) {
        const Shard s = contiguous_shard(n, w, r);
        EXPECT_EQ(s.first, next);
        EXPECT_TRUE(s.count == n / w || s.count == n / w + 1);
        next += s.count;
      }
      EXPECT_EQ(next, n);
    }
  }
}

}  // namespace
}  // namespace scalebench::datasets
