#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "metrics/quantile_sketch.hpp"
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
  EXPECT_NEAR(s.comm_concurrent_share, 1.0 - 1.2 / 2.4, 1e-12);
  EXPECT_DOUBLE_EQ(s.peak_rss_bytes, 900);
  EXPECT_EQ(s.slowest_rank, 1);
  EXPECT_DOUBLE_EQ(s.slowest_rank_median_s, 3.0);
  EXPECT_DOUBLE_EQ(s.fastest_rank_median_s, 1.0);
  EXPECT_NE(format_summary(s, 2, 16).find("rank 1"), std::string::npos);
}

TEST(Summary, ThroughputComesFromWallTimeWhenRecorded) {
  // Two ranks, two measured steps: step_s 1.0 everywhere, but the steps are 1.5 and 2.5 s apart
  // (rank 1's between-step work): the run delivers 16 samples per 2.0 s, not per 1.0 s.
  std::vector<StepRecord> records;
  for (const double wall : {1.5, 2.5}) {
    for (int r = 0; r < 2; ++r) {
      StepRecord x = rec(false, 1.0, 0.0, 0.0, 8, 100);
      x[StepField::kDataS] = 0.25;
      x[StepField::kForwardS] = 0.25;
      x[StepField::kBackwardS] = 0.5;
      x[StepField::kControlS] = 0.125;
      set_wall_time(x, r == 1 ? wall : 1.25);
      records.push_back(x);
    }
  }
  const RunSummary s = summarize(records, 2);
  EXPECT_DOUBLE_EQ(s.median_step_s, 1.0);
  EXPECT_DOUBLE_EQ(s.median_wall_s, 2.0);
  EXPECT_DOUBLE_EQ(s.throughput_samples_s, 16.0 / 2.0);
  EXPECT_DOUBLE_EQ(s.median_control_s, 0.125);
  // other = wall - phases - control: rank 0 0.125 both steps, rank 1 0.375 and 1.375.
  EXPECT_DOUBLE_EQ(records[1][StepField::kOtherS], 0.375);
  EXPECT_DOUBLE_EQ(s.median_other_s, 0.5 * (0.25 + 0.75));
}

TEST(StepRecord, WallTimeSplitsIntoPhasesControlAndOther) {
  StepRecord r;
  r[StepField::kDataS] = 0.5;
  r[StepField::kBufferSyncS] = 0.25;
  r[StepField::kForwardS] = 1.0;
  r[StepField::kBackwardS] = 2.0;
  r[StepField::kCommExposedS] = 0.5;
  r[StepField::kOptimizerS] = 0.25;
  r[StepField::kControlS] = 0.5;
  r[StepField::kCommBusyS] = 9.0;  // concurrent with backward: not part of the sum
  set_wall_time(r, 6.0);
  EXPECT_DOUBLE_EQ(r[StepField::kWallS], 6.0);
  EXPECT_DOUBLE_EQ(r[StepField::kOtherS], 1.0);
}

TEST(QuantileSketch, ExactUpToItsCapacityThenWithinAlpha) {
  std::mt19937_64 gen(5);
  std::lognormal_distribution<double> step_time(std::log(0.1), 0.3);
  QuantileSketch sketch(0.001, 64);
  std::vector<double> all;
  for (int i = 0; i < 64; ++i) {
    all.push_back(step_time(gen));
    sketch.add(all.back());
  }
  EXPECT_TRUE(sketch.exact());
  EXPECT_DOUBLE_EQ(sketch.median(), median(all));
  for (int i = 0; i < 200000; ++i) {
    all.push_back(step_time(gen));
    sketch.add(all.back());
  }
  EXPECT_FALSE(sketch.exact());
  EXPECT_EQ(sketch.count(), 200064);
  // The lower middle value, as the sketch reports it, within alpha.
  std::nth_element(all.begin(), all.begin() + (all.size() - 1) / 2, all.end());
  const double truth = all[(all.size() - 1) / 2];
  EXPECT_NEAR(sketch.median() / truth, 1.0, 0.001);
  // Bounded by the values' range, not their count: e^(+-5 sigma) at 0.1 % is ~1500 buckets.
  EXPECT_LT(sketch.memory_bytes(), 100000u);
}

TEST(QuantileSketch, ZerosAndEmpty) {
  QuantileSketch empty;
  EXPECT_EQ(empty.median(), 0.0);
  QuantileSketch zeros(0.01, 2);
  for (int i = 0; i < 10; ++i) zeros.add(0.0);
  zeros.add(5.0);
  EXPECT_EQ(zeros.median(), 0.0);  // an empty phase (data_s on synthetic data) stays 0
}

// Rank 0's summary memory must not grow with the steps: fed 20,000 steps of 16 ranks a flush at a
// time, the accumulator holds no more after the last flush than after the first few thousand.
TEST(Summary, AccumulatorMemoryIsBoundedInSteps) {
  constexpr int kRanks = 16;
  std::mt19937_64 gen(9);
  std::normal_distribution<double> noise(1.0, 0.05);
  SummaryAccumulator acc(kRanks);
  SummaryAccumulator exact(kRanks);
  std::vector<StepRecord> flush;
  std::size_t after_warm = 0;
  for (int step = 0; step < 20000; ++step) {
    for (int r = 0; r < kRanks; ++r) {
      flush.push_back(rec(step < 2, 0.05 * noise(gen) * (r == 3 ? 1.2 : 1.0), 0.01, 0.02, 8, 1e6));
    }
    if (flush.size() == 20u * kRanks) {
      acc.add_steps(flush);
      flush.clear();
    }
    if (step == 5000) after_warm = acc.memory_bytes();
  }
  const std::size_t at_end = acc.memory_bytes();
  EXPECT_LE(at_end, after_warm * 1.5) << after_warm << " -> " << at_end;
  const RunSummary s = acc.summary();
  EXPECT_EQ(s.measured_steps, 19998);
  EXPECT_EQ(s.slowest_rank, 3);
  EXPECT_NEAR(s.slowest_rank_median_s / 0.06, 1.0, 0.01);
}

}  // namespace
}  // namespace scalebench
