#pragma once
// The per-step control exchange, in one place and in one fixed order. Before a step, the rank
// notes on the progress board which step it begins (memory only, no message). After the step,
// every rank joins one small allreduce (5 doubles, so O(log N) in the ranks): a stop signal, a
// non-finite loss, running out of memory, and the step number both ways, so that all ranks stop
// after the same step and a rank that lost count is caught at the next step. Its time goes into
// the step's record as control_s (outside step_s). Nothing else crosses ranks per step: records
// are gathered every --flush-every steps (RunRecorder) and the board is asked only when the
// watchdog fires (ProgressBoard).
#include <chrono>
#include <cstdint>

#include "metrics/step_record.hpp"
#include "runtime/progress_board.hpp"
#include "runtime/watchdog.hpp"
#include "runtime/world.hpp"

namespace scalebench {

// Why a run ends before its last step, agreed by every rank after the same step.
struct StopVerdict {
  int signal = 0;              // a stop signal some rank received (0: none)
  bool diverged = false;       // some rank's loss was NaN or infinite
  bool out_of_memory = false;  // some rank ran out of memory in this step
  std::int64_t lowest_step = 0, highest_step = 0;  // the step each rank believes it just ran
  bool desync() const { return lowest_step != highest_step; }
  bool any() const { return signal != 0 || diverged || out_of_memory || desync(); }
};

class StepControl {
 public:
  StepControl(const World& world, Watchdog& watchdog, ProgressBoard& board)
      : world_(world), watchdog_(watchdog), board_(board) {}

  // Every rank, before any collective of `step`.
  void begin(std::int64_t step) { board_.begin_step(step); }
  // Collective, after the step. `loss` is this rank's (0 when it has none); `record` is this
  // rank's record of the step (null when it has none, e.g. it ran out of memory) and gets
  // control_s.
  StopVerdict agree(std::int64_t step, double loss, bool out_of_memory, StepRecord* record);

 private:
  const World& world_;
  Watchdog& watchdog_;
  ProgressBoard& board_;
};

}  // namespace scalebench
