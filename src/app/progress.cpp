#include "app/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace scalebench {
namespace {
constexpr double kLogIntervalS = 10.0;
constexpr double kSmoothing = 0.2;  // exponential moving average weight of the newest step

// The target of /proc/<pid>/fd/1, "" if it cannot be read (another user's process, no /proc).
std::string stdout_target_of(long pid) {
  std::error_code ec;
  const auto target = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/1", ec);
  return ec ? std::string() : target.string();
}
}  // namespace

bool is_terminal_device(const std::string& target) {
  return target.rfind("/dev/pts/", 0) == 0 || target.rfind("/dev/tty", 0) == 0 || target == "/dev/console";
}

bool started_by_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_PROCID"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

ProgressStyle resolve_progress_style(const std::string& mode, bool quiet) {
  if (quiet || mode == "none") return ProgressStyle::kNone;
  if (mode == "inplace") return ProgressStyle::kInPlace;
  if (mode == "lines") return ProgressStyle::kLines;
  if (isatty(STDOUT_FILENO) != 1) return ProgressStyle::kLines;
  if (!started_by_launcher()) return ProgressStyle::kInPlace;
  // A terminal under a launcher: in place only if the launcher's own output is a terminal too.
  return is_terminal_device(stdout_target_of(static_cast<long>(getppid()))) ? ProgressStyle::kInPlace
                                                                          : ProgressStyle::kLines;
}

Progress::Progress(std::int64_t total_steps, std::int64_t global_batch, ProgressStyle style)
    : total_(total_steps), global_batch_(global_batch), enabled_(style != ProgressStyle::kNone),
      in_place_(style == ProgressStyle::kInPlace) {}

void Progress::update(std::int64_t step, double step_s, double loss, bool warmup) {
  if (!enabled_) return;
  smoothed_step_s_ = smoothed_step_s_ == 0.0 ? step_s : (1 - kSmoothing) * smoothed_step_s_ + kSmoothing * step_s;
  const std::int64_t done_steps = step + 1;
  const auto now = Clock::now();
  const bool last = done_steps == total_;
  const std::int64_t every = total_ >= 20 ? total_ / 20 : 1;
  const bool due = in_place_ || last || done_steps % every == 0 ||
                   std::chrono::duration<double>(now - last_print_).count() >= kLogIntervalS;
  if (!due) return;
  last_print_ = now;
  const double rate = smoothed_step_s_ > 0 ? static_cast<double>(global_batch_) / smoothed_step_s_ : 0.0;
  const double eta = smoothed_step_s_ * static_cast<double>(total_ - done_steps);
  std::printf("%sstep %lld/%lld%s  loss %.4f  %.1f samples/s  step %.4f s  ETA %.0f s%s",
              in_place_ ? "\r" : "", static_cast<long long>(done_steps), static_cast<long long>(total_),
              warmup ? " (warm-up)" : "", loss, rate, smoothed_step_s_, eta,
              in_place_ ? "   " : "\n");
  std::fflush(stdout);
}

void Progress::done() {
  if (enabled_ && in_place_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace scalebench
