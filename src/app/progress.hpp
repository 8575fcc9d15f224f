#pragma once
// Rank 0's progress display: step, samples/s and ETA, redrawn in place on a terminal and as plain
// lines (every ~5 % of the run, and at least every 10 s) in a log.
#include <chrono>
#include <cstdint>

namespace scalebench {

class Progress {
 public:
  Progress(std::int64_t total_steps, std::int64_t global_batch, bool enabled);
  // After step `step` (0-based) that took `step_s` seconds on rank 0.
  void update(std::int64_t step, double step_s, double loss, bool warmup);
  void done();

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t total_;
  std::int64_t global_batch_;
  bool enabled_;
  bool tty_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_print_ = Clock::now();
  double smoothed_step_s_ = 0.0;
};

}  // namespace scalebench
