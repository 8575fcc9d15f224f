#include "metrics/summary.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace scalebench {

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

SummaryAccumulator::SummaryAccumulator(int world_size)
    : ranks_(static_cast<std::size_t>(world_size)), per_rank_(static_cast<std::size_t>(world_size)) {}

void SummaryAccumulator::add_steps(const std::vector<StepRecord>& records) {
  const std::size_t n = ranks_;
  const std::size_t steps = records.size() / n;
  for (std::size_t st = 0; st < steps; ++st) {
    const StepRecord* row = &records[st * n];
    for (std::size_t r = 0; r < n; ++r) {
      peak_rss_ = std::max(peak_rss_, row[r][StepField::kPeakRssBytes]);
      peak_device_ = std::max(peak_device_, row[r][StepField::kDevicePeakAllocatedBytes]);
    }
    if (row[0][StepField::kWarmup] != 0.0) continue;
    double step_max = 0.0, wall_max = 0.0, global_samples = 0.0, share = 0.0;
    double d = 0, f = 0, b = 0, e = 0, o = 0, sync = 0, control = 0, other = 0;
    for (std::size_t r = 0; r < n; ++r) {
      const StepRecord& rec = row[r];
      step_max = std::max(step_max, rec[StepField::kStepS]);
      wall_max = std::max(wall_max, rec[StepField::kWallS]);
      global_samples += rec[StepField::kSamples];
      if (rec[StepField::kStepS] > 0) share += rec[StepField::kCommExposedS] / rec[StepField::kStepS];
      per_rank_[r].add(rec[StepField::kStepS]);
      busy_total_ += rec[StepField::kCommBusyS];
      exposed_total_ += rec[StepField::kCommExposedS];
      d += rec[StepField::kDataS];
      f += rec[StepField::kForwardS];
      b += rec[StepField::kBackwardS];
      e += rec[StepField::kCommExposedS];
      o += rec[StepField::kOptimizerS];
      sync += rec[StepField::kBufferSyncS];
      control += rec[StepField::kControlS];
      other += rec[StepField::kOtherS];
    }
    const double inv = 1.0 / static_cast<double>(n);
    ++measured_;
    slowest_.add(step_max);
    slowest_wall_.add(wall_max);
    samples_.add(global_samples);
    exposed_share_.add(share * inv);
    data_.add(d * inv);
    forward_.add(f * inv);
    backward_.add(b * inv);
    exposed_.add(e * inv);
    optimizer_.add(o * inv);
    buffer_sync_.add(sync * inv);
    control_.add(control * inv);
    other_.add(other * inv);
  }
}

RunSummary SummaryAccumulator::summary() const {
  RunSummary s;
  s.peak_rss_bytes = peak_rss_;
  s.peak_device_allocated_bytes = peak_device_;
  s.measured_steps = measured_;
  if (measured_ == 0) return s;
  s.median_step_s = slowest_.median();
  s.median_wall_s = slowest_wall_.median();
  const double pace = s.median_wall_s > 0 ? s.median_wall_s : s.median_step_s;
  s.throughput_samples_s = pace > 0 ? samples_.median() / pace : 0.0;
  s.exposed_comm_share = exposed_share_.median();
  s.comm_concurrent_share = busy_total_ > 0 ? std::max(0.0, 1.0 - exposed_total_ / busy_total_) : 0.0;
  s.fastest_rank_median_s = 1e300;
  for (std::size_t r = 0; r < ranks_; ++r) {
    const double m = per_rank_[r].median();
    if (m < s.fastest_rank_median_s) s.fastest_rank_median_s = m;
    if (m > s.slowest_rank_median_s) {
      s.slowest_rank_median_s = m;
      s.slowest_rank = static_cast<int>(r);
    }
  }
  s.median_data_s = data_.median();
  s.median_forward_s = forward_.median();
  s.median_backward_s = backward_.median();
  s.median_comm_exposed_s = exposed_.median();
  s.median_optimizer_s = optimizer_.median();
  s.median_buffer_sync_s = buffer_sync_.median();
  s.median_control_s = control_.median();
  s.median_other_s = other_.median();
  return s;
}

std::size_t SummaryAccumulator::memory_bytes() const {
  std::size_t total = 0;
  for (const QuantileSketch* q : {&slowest_, &slowest_wall_, &samples_, &exposed_share_, &data_, &forward_,
                                  &backward_, &exposed_, &optimizer_, &buffer_sync_, &control_, &other_}) {
    total += q->memory_bytes();
  }
  for (const auto& q : per_rank_) total += q.memory_bytes();
  return total;
}

RunSummary summarize(const std::vector<StepRecord>& records, int world_size) {
  SummaryAccumulator acc(world_size);
  acc.add_steps(records);
  return acc.summary();
}

std::string format_summary(const RunSummary& s, int world_size, std::int64_t global_batch) {
  char buf[2048];
  const double mib = 1024.0 * 1024.0;
  std::ostringstream out;
  std::snprintf(buf, sizeof(buf),
                "summary (%lld measured steps, %d rank%s, global batch %lld, warm-up excluded)\n"
                "  median step time      %10.4f s   (slowest rank per step; %.4f s wall, start to start)\n"
                "  throughput            %10.1f samples/s (per wall time)\n"
                "  phases (median)       data %.4f  buffer sync %.4f  forward %.4f  backward %.4f  "
                "comm wait %.4f  optimizer %.4f s\n"
                "  between steps         control %.4f  other %.4f s\n"
                "  exposed comm share    %10.1f %%   (%.0f%% of allreduce time ran concurrently with compute)\n"
                "  peak host RSS         %10.1f MiB (max over ranks)\n",
                static_cast<long long>(s.measured_steps), world_size, world_size == 1 ? "" : "s",
                static_cast<long long>(global_batch), s.median_step_s, s.median_wall_s, s.throughput_samples_s,
                s.median_data_s, s.median_buffer_sync_s, s.median_forward_s, s.median_backward_s,
                s.median_comm_exposed_s, s.median_optimizer_s, s.median_control_s, s.median_other_s,
                100.0 * s.exposed_comm_share, 100.0 * s.comm_concurrent_share, s.peak_rss_bytes / mib);
  out << buf;
  if (s.peak_device_allocated_bytes >= 0) {
    std::snprintf(buf, sizeof(buf), "  peak device allocated %10.1f MiB (max over ranks)\n",
                  s.peak_device_allocated_bytes / mib);
    out << buf;
  }
  const double spread = s.fastest_rank_median_s > 0
                            ? 100.0 * (s.slowest_rank_median_s / s.fastest_rank_median_s - 1.0)
                            : 0.0;
  std::snprintf(buf, sizeof(buf),
                "  per-rank spread       %10.1f %%   (median step %.4f s fastest, %.4f s slowest: rank %d)",
                spread, s.fastest_rank_median_s, s.slowest_rank_median_s, s.slowest_rank);
  out << buf;
  return out.str();
}

}  // namespace scalebench
