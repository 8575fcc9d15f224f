#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/phase_clock.hpp"
#include "metrics/process_stats.hpp"
#include "metrics/step_record.hpp"

namespace scalebench {
namespace {

TEST(ProcessStats, CpuTimeAdvancesWithWork) {
  const double before = process_cpu_seconds();
  volatile double sink = 0;
  for (int i = 0; i < 20000000; ++i) sink = sink + i * 1e-9;
  EXPECT_GT(process_cpu_seconds(), before);
}

TEST(ProcessStats, PeakRssSeesAnAllocation) {
  const auto before = peak_rss_bytes();
  std::vector<char> block(256 << 20, 1);  // touched, so resident
  EXPECT_GE(peak_rss_bytes(), before + (200 << 20));
  EXPECT_EQ(block[12345], 1);
}

// --find-max-batch resets the peak between candidates: a smaller one after a larger one must not
// report the larger one's memory. 256 MiB is above glibc's largest mmap threshold (32 MiB), so
// free() returns it to the kernel and the resident size really drops.
TEST(ProcessStats, PeakRssCanBeReset) {
  constexpr std::size_t kBytes = 256u << 20;
  ASSERT_TRUE(reset_peak_rss()) << "/proc/self/clear_refs is not writable here";
  const std::int64_t before = peak_rss_bytes();  // after earlier tests' peaks
  {
    std::vector<char> big(kBytes, 1);
    volatile char sink = big[kBytes / 2];
    (void)sink;
  }
  const std::int64_t with_big = peak_rss_bytes();
  EXPECT_GE(with_big, before + static_cast<std::int64_t>(kBytes) / 2);
  ASSERT_TRUE(reset_peak_rss()) << "/proc/self/clear_refs is not writable here";
  EXPECT_LT(peak_rss_bytes(), with_big - static_cast<std::int64_t>(kBytes) / 2);
}

TEST(ProcessStats, AffinityAndCpuModel) {
  EXPECT_FALSE(cpu_affinity_string().empty());
  EXPECT_NE(cpu_affinity_string(), "unknown");
  EXPECT_FALSE(host_cpu_model().empty());
}

TEST(PhaseClock, PhasesAddUpToTheStep) {
  auto clock = make_host_phase_clock();
  clock->begin_step();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  clock->mark(Phase::kData);
  clock->mark(Phase::kForward);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  clock->mark(Phase::kBackward);
  clock->mark(Phase::kCommWait);
  clock->mark(Phase::kOptimizer);
  const PhaseTimes t = clock->resolve();
  EXPECT_GE(t[Phase::kData], 0.019);
  EXPECT_GE(t[Phase::kBackward], 0.029);
  double sum = 0;
  for (double s : t.seconds) sum += s;
  EXPECT_NEAR(sum, t.step_s, 1e-9);
}

TEST(StepRecord, FieldTableMatchesTheEnum) {
  const auto& fields = step_fields();
  EXPECT_STREQ(fields[static_cast<std::size_t>(StepField::kStepS)].name, "step_s");
  EXPECT_STREQ(fields[static_cast<std::size_t>(StepField::kCommExposedS)].name, "comm_exposed_s");
  EXPECT_STREQ(fields[static_cast<std::size_t>(StepField::kEndTimeS)].name, "end_time_s");
  EXPECT_STREQ(fields[static_cast<std::size_t>(StepField::kControlS)].name, "control_s");
  for (const auto& f : fields) EXPECT_NE(std::string(f.name), "");
}

}  // namespace
}  // namespace scalebench
