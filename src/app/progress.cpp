#include "app/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace scalebench {
namespace {
constexpr double kLogIntervalS = 10.0;
constexpr double kSmoothing = 0.2;  // exponential moving average weight of the newest step
}  // namespace

Progress::Progress(std::int64_t total_steps, std::int64_t global_batch, bool enabled)
    : total_(total_steps), global_batch_(global_batch), enabled_(enabled),
      tty_(isatty(STDOUT_FILENO) == 1) {}

void Progress::update(std::int64_t step, double step_s, double loss, bool warmup) {
  if (!enabled_) return;
  smoothed_step_s_ = smoothed_step_s_ == 0.0 ? step_s : (1 - kSmoothing) * smoothed_step_s_ + kSmoothing * step_s;
  const std::int64_t done_steps = step + 1;
  const auto now = Clock::now();
  const bool last = done_steps == total_;
  const std::int64_t every = total_ >= 20 ? total_ / 20 : 1;
  const bool due = tty_ || last || done_steps % every == 0 ||
                   std::chrono::duration<double>(now - last_print_).count() >= kLogIntervalS;
  if (!due) return;
  last_print_ = now;
  const double rate = smoothed_step_s_ > 0 ? static_cast<double>(global_batch_) / smoothed_step_s_ : 0.0;
  const double eta = smoothed_step_s_ * static_cast<double>(total_ - done_steps);
  std::printf("%sstep %lld/%lld%s  loss %.4f  %.1f samples/s  step %.4f s  ETA %.0f s%s",
              tty_ ? "\r" : "", static_cast<long long>(done_steps), static_cast<long long>(total_),
              warmup ? " (warm-up)" : "", loss, rate, smoothed_step_s_, eta,
              tty_ ? "   " : "\n");
  std::fflush(stdout);
}

void Progress::done() {
  if (enabled_ && tty_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace scalebench
