#include "app/step_control.hpp"

#include <cmath>
#include <vector>

#include "runtime/stop_signals.hpp"

namespace scalebench {

StopVerdict StepControl::agree(std::int64_t step, double loss, bool out_of_memory, StepRecord* record) {
  board_.finish_step(step);  // the step's own work is done: what is missing now is in the agreement
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> v;
  {
    Watchdog::Guard guard(&watchdog_, step, "agreement on stopping (signals, divergence, memory)");
    v = world_.max_over_ranks(std::vector<double>{
        static_cast<double>(stop_signals::pending()), std::isfinite(loss) ? 0.0 : 1.0,
        out_of_memory ? 1.0 : 0.0, static_cast<double>(step), -static_cast<double>(step)});
  }
  if (record != nullptr) {
    (*record)[StepField::kControlS] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  StopVerdict verdict;
  verdict.signal = static_cast<int>(v[0]);
  verdict.diverged = v[1] > 0.0;
  verdict.out_of_memory = v[2] > 0.0;
  verdict.highest_step = static_cast<std::int64_t>(v[3]);
  verdict.lowest_step = static_cast<std::int64_t>(-v[4]);
  return verdict;
}

}  // namespace scalebench
