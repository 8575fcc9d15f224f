#pragma once
// --overlap auto: whether bucket allreduces overlap backward, chosen by measuring both in warm-up.
//
// On a CPU rank with one core, the communicator thread runs beside backward on the core backward
// needs, and overlap can be slower than reducing after backward (fcn_r, 2 ranks x 1 thread: 1.19x,
// docs/performance.md); with spare cores or large exposed transfers it wins (fcn_s: 0.92x). Which
// one is faster depends on the model and the machine, so the warm-up steps try both: step 0 (cold
// caches, first allocations) runs with overlap and is not counted, then the remaining warm-up steps
// alternate without / with overlap. After the last warm-up step the mode with the lower median of
// the slowest rank's step time is kept for every measured step; every rank sees the same times (the
// caller takes them as a maximum over ranks), so every rank chooses alike.
#include <cstdint>
#include <string>
#include <vector>

namespace scalebench {

enum class OverlapMode { kOn, kOff, kAuto };

// "on", "off" or "auto"; throws std::invalid_argument otherwise.
OverlapMode parse_overlap_mode(const std::string& text);
const char* overlap_mode_name(OverlapMode mode);

class OverlapChooser {
 public:
  // The fewest warm-up steps that measure both modes once (the cold step 0, then off, then on).
  static constexpr std::int64_t kMinWarmupSteps = 3;

  // world_size 1: auto keeps overlap without measuring (a rank alone reduces nothing, so both
  // schedules are the same work and a choice would only be noise).
  OverlapChooser(OverlapMode mode, std::int64_t warmup_steps, int world_size = 2);

  // Whether the step about to run overlaps its allreduces with backward.
  bool overlap_for(std::int64_t step) const;
  // Whether the caller must report this step's time (the slowest rank's) through observe().
  bool measures(std::int64_t step) const;
  // Records a measured warm-up step; returns true when it completed the choice.
  bool observe(std::int64_t step, double slowest_step_s);

  OverlapMode mode() const { return mode_; }
  bool chosen_overlap() const { return chosen_; }
  // Medians of the warm-up steps with and without overlap (NaN where none was measured).
  double median_on_s() const;
  double median_off_s() const;
  // One line for the log and the file: what was chosen, and from what.
  std::string reason() const;

 private:
  OverlapMode mode_;
  std::int64_t warmup_steps_;
  int world_size_;
  bool chosen_;  // before the choice: the mode warm-up starts from (on, unless --overlap off)
  bool decided_ = false;
  std::vector<double> on_s_, off_s_;
};

}  // namespace scalebench
