#include <gtest/gtest.h>

#include "metrics/summary.hpp"

namespace scalebench {
namespace {

StepRecord rec(bool warmup, double step_s, double exposed, double busy, double samples, double rss) {
  StepRecord r;
  r[StepField::kWarmup] = warmup ? 1 : 0;
  r[StepField::kStepS] = step_s;
  r[StepField::kCommExposedS] = exposed;
  r[StepField::kCommBusyS] = busy;
  r[StepField::kSamples] = samples;
  r[StepField::kPeakRssBytes] = rss;
  r[StepField::kDevicePeakAllocatedBytes] = -1;
  return r;
}

TEST(Summary, Median) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({}), 0.0);
}

TEST(Summary, HandComputedTwoRanks) {
  // Step-major, 2 ranks: one warm-up step (excluded, though its RSS counts), three measured.
  const std::vector<StepRecord> records = {
      rec(true, 9.0, 0, 0, 8, 100), rec(true, 9.0, 0, 0, 8, 900),
      rec(false, 1.0, 0.1, 0.4, 8, 100), rec(false, 2.0, 0.2, 0.4, 8, 200),
      rec(false, 1.0, 0.1, 0.4, 8, 100), rec(false, 3.0, 0.3, 0.4, 8, 200),
      rec(false, 1.0, 0.1, 0.4, 8, 100), rec(false, 4.0, 0.4, 0.4, 8, 200),
  };
  const RunSummary s = summarize(records, 2);
  EXPECT_EQ(s.measured_steps, 3);
  EXPECT_DOUBLE_EQ(s.median_step_s, 3.0);            // slowest rank per step: 2, 3, 4
  EXPECT_DOUBLE_EQ(s.throughput_samples_s, 16.0 / 3.0);
  EXPECT_NEAR(s.exposed_comm_share, 0.1, 1e-12);    // every rank's exposed/step is 0.1
  EXPECT_NEAR(s.comm_overlap, 1.0 - 1.2 / 2.4, 1e-12);
  EXPECT_DOUBLE_EQ(s.peak_rss_bytes, 900);
  EXPECT_EQ(s.slowest_rank, 1);
  EXPECT_DOUBLE_EQ(s.slowest_rank_median_s, 3.0);
  EXPECT_DOUBLE_EQ(s.fastest_rank_median_s, 1.0);
  EXPECT_NE(format_summary(s, 2, 16).find("rank 1"), std::string::npos);
}

}  // namespace
}  // namespace scalebench
