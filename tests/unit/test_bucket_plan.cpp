#include <gtest/gtest.h>

#include "ddp/bucket_plan.hpp"

namespace scalebench {
namespace {

TEST(BucketPlan, ReverseRegistrationOrderAndCap) {
  // Four parameters of 4-byte elements: 10, 20, 30, 40 elements; cap 100 bytes (25 elements).
  const BucketPlan plan = make_bucket_plan({10, 20, 30, 40}, 4, 100);
  // Backward produces the last parameter first: 40 fills a bucket alone (160 B >= 100 B), then 30
  // alone (120 B), then 20 + 10 (120 B).
  ASSERT_EQ(plan.buckets.size(), 3u);
  EXPECT_EQ(plan.buckets[0].slots.size(), 1u);
  EXPECT_EQ(plan.buckets[0].slots[0].param, 3u);
  EXPECT_EQ(plan.buckets[1].slots[0].param, 2u);
  ASSERT_EQ(plan.buckets[2].slots.size(), 2u);
  EXPECT_EQ(plan.buckets[2].slots[0].param, 1u);
  EXPECT_EQ(plan.buckets[2].slots[1].param, 0u);
  EXPECT_EQ(plan.buckets[2].slots[1].offset, 20);
  EXPECT_EQ(plan.buckets[2].bytes, 120);
  EXPECT_EQ(plan.total_bytes(), 400);
  EXPECT_EQ(plan.bucket_of_param[0], 2u);
  EXPECT_EQ(plan.slot_of_param[0], 1u);
}

TEST(BucketPlan, LargeCapGivesOneBucket) {
  const BucketPlan plan = make_bucket_plan({5, 6, 7}, 4, 1 << 20);
  ASSERT_EQ(plan.buckets.size(), 1u);
  EXPECT_EQ(plan.buckets[0].numel, 18);
  // Offsets are contiguous in reverse order.
  EXPECT_EQ(plan.buckets[0].slots[0].offset, 0);
  EXPECT_EQ(plan.buckets[0].slots[1].offset, 7);
  EXPECT_EQ(plan.buckets[0].slots[2].offset, 13);
}

TEST(BucketPlan, EveryParameterInExactlyOneSlot) {
  std::vector<std::int64_t> numels;
  for (int i = 1; i <= 50; ++i) numels.push_back(i * 37 % 101 + 1);
  const BucketPlan plan = make_bucket_plan(numels, 4, 256);
  std::vector<int> seen(numels.size(), 0);
  for (std::size_t b = 0; b < plan.buckets.size(); ++b) {
    std::int64_t offset = 0;
    for (const auto& s : plan.buckets[b].slots) {
      ++seen[s.param];
      EXPECT_EQ(s.offset, offset);
      EXPECT_EQ(s.numel, numels[s.param]);
      EXPECT_EQ(plan.bucket_of_param[s.param], b);
      offset += s.numel;
    }
    EXPECT_EQ(offset, plan.buckets[b].numel);
    // Every bucket but the last reached the cap; none went past it by more than its last slot.
    if (b + 1 < plan.buckets.size()) EXPECT_GE(plan.buckets[b].bytes, 256);
    EXPECT_LT(plan.buckets[b].bytes - 4 * plan.buckets[b].slots.back().numel, 256);
  }
  for (int count : seen) EXPECT_EQ(count, 1);
}

TEST(BucketPlan, FingerprintSeesAnyDifference) {
  const auto a = make_bucket_plan({10, 20, 30}, 4, 64).fingerprint();
  EXPECT_EQ(a, make_bucket_plan({10, 20, 30}, 4, 64).fingerprint());
  EXPECT_NE(a, make_bucket_plan({10, 20, 31}, 4, 64).fingerprint());
  EXPECT_NE(a, make_bucket_plan({10, 20, 30}, 4, 128).fingerprint());
  EXPECT_NE(a, make_bucket_plan({20, 10, 30}, 4, 64).fingerprint());
}

TEST(BucketPlan, FollowsTheObservedOrder) {
  // Gradients arrived as 2, 0, 3, 1 (a shortcut branch finishing early): buckets fill in that
  // order, so the first bucket holds the first gradients to arrive.
  const BucketPlan plan = make_bucket_plan({10, 10, 10, 10}, 4, 80, 0, {2, 0, 3, 1});
  ASSERT_EQ(plan.buckets.size(), 2u);
  EXPECT_EQ(bucket_params(plan), (std::vector<std::vector<std::size_t>>{{2, 0}, {3, 1}}));
  EXPECT_EQ(plan.bucket_of_param, (std::vector<std::size_t>{0, 1, 0, 1}));
  EXPECT_EQ(plan.slot_of_param, (std::vector<std::size_t>{1, 1, 0, 0}));
  EXPECT_EQ(plan.buckets[1].slots[1].offset, 10);
  // No order: reverse registration, the plan of the three-argument call.
  EXPECT_EQ(make_bucket_plan({10, 10, 10, 10}, 4, 80, 0, {}).fingerprint(),
            make_bucket_plan({10, 10, 10, 10}, 4, 80).fingerprint());
  EXPECT_NE(plan.fingerprint(), make_bucket_plan({10, 10, 10, 10}, 4, 80).fingerprint());
}

TEST(BucketPlan, ASmallFirstBucket) {
  // 6 parameters of 40 bytes, first cap 40, others 120: [p5] [p4 p3 p2] [p1 p0].
  const BucketPlan plan = make_bucket_plan({10, 10, 10, 10, 10, 10}, 4, 120, 40, {});
  EXPECT_EQ(bucket_params(plan), (std::vector<std::vector<std::size_t>>{{5}, {4, 3, 2}, {1, 0}}));
  // A first cap at or above the cap changes nothing.
  EXPECT_EQ(make_bucket_plan({10, 10, 10, 10, 10, 10}, 4, 120, 500, {}).fingerprint(),
            make_bucket_plan({10, 10, 10, 10, 10, 10}, 4, 120).fingerprint());
}

TEST(BucketPlan, AnOrderMustListEveryParameterOnce) {
  EXPECT_THROW(make_bucket_plan({1, 2, 3}, 4, 16, 0, {0, 1}), std::invalid_argument);
  EXPECT_THROW(make_bucket_plan({1, 2, 3}, 4, 16, 0, {0, 1, 1}), std::invalid_argument);
  EXPECT_THROW(make_bucket_plan({1, 2, 3}, 4, 16, 0, {0, 1, 3}), std::invalid_argument);
}

TEST(BucketPlan, RejectsNonsense) {
  EXPECT_THROW(make_bucket_plan({1, 2}, 4, 0), std::invalid_argument);
  EXPECT_THROW(make_bucket_plan({1, 0}, 4, 16), std::invalid_argument);
}

}  // namespace
}  // namespace scalebench
