#pragma once
// Rank 0's progress display: step, samples/s and ETA, redrawn in place on a terminal and as plain
// lines (every ~5 % of the run, and at least every 10 s) in a log.
#include <chrono>
#include <cstdint>
#include <string>

namespace scalebench {

enum class ProgressStyle { kInPlace, kLines, kNone };

// Where "in place" makes sense. Under Open MPI every rank's stdout is a pseudo-terminal even when
// the user wrote `mpirun ... > log` (mpirun forwards it), so a rank's own isatty() says nothing:
// in place would leave one line of carriage returns in the log. `auto` therefore follows the
// launcher's output when the process runs under one: the parent's (mpirun's, for the ranks it
// starts itself) standard output, read from /proc; a launcher whose output cannot be seen gets lines.
// mode: "auto", "inplace", "lines" or "none" (RunConfig::progress); quiet wins over mode.
ProgressStyle resolve_progress_style(const std::string& mode, bool quiet);

// The pieces of `auto`, exposed for tests. Is `target` (a /proc/PID/fd/N link target) a terminal
// device? Does the environment say an MPI or Slurm launcher started this process?
bool is_terminal_device(const std::string& target);
bool started_by_launcher();

class Progress {
 public:
  Progress(std::int64_t total_steps, std::int64_t global_batch, ProgressStyle style);
  // After step `step` (0-based) that took `step_s` seconds on rank 0.
  void update(std::int64_t step, double step_s, double loss, bool warmup);
  void done();

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t total_;
  std::int64_t global_batch_;
  bool enabled_;
  bool in_place_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_print_ = Clock::now();
  double smoothed_step_s_ = 0.0;
};

}  // namespace scalebench
