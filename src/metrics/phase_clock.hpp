#pragma once
// Times the phases of one training step. The step loop marks the end of each phase; durations are
// resolved after the step. On CPU a steady clock is read at each mark; on CUDA an event is recorded
// on the compute stream at each mark and the durations come from the events once the step's last
// event has completed, so a phase is never timed by a host clock that did not wait for the GPU.
#include <array>
#include <cstddef>
#include <memory>

namespace scalebench {

enum class Phase : std::size_t { kData = 0, kBufferSync, kForward, kBackward, kCommWait, kOptimizer, kCount };
constexpr std::size_t kNumPhases = static_cast<std::size_t>(Phase::kCount);

struct PhaseTimes {
  std::array<double, kNumPhases> seconds{};
  double step_s = 0.0;
  double operator[](Phase p) const { return seconds[static_cast<std::size_t>(p)]; }
};

class PhaseClock {
 public:
  virtual ~PhaseClock() = default;
  virtual void begin_step() = 0;
  // The phase `ended` ends now; the next one starts now. Marks come in Phase order.
  virtual void mark(Phase ended) = 0;
  // Never blocks: whether the work before the last mark has finished (CPU: always). The trainer
  // waits for this under the watchdog (runtime/guarded_wait.hpp) before resolve().
  virtual bool completed() = 0;
  // Waits for the step's work where the clock needs it (CUDA; at once after completed()) and
  // returns the durations.
  virtual PhaseTimes resolve() = 0;
};

// Host steady clock: right for CPU tensors, where every op has finished when it returns.
std::unique_ptr<PhaseClock> make_host_phase_clock();

}  // namespace scalebench
