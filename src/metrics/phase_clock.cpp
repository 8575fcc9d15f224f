#include "metrics/phase_clock.hpp"

#include <chrono>

namespace scalebench {
namespace {

class HostPhaseClock final : public PhaseClock {
 public:
  void begin_step() override {
    start_ = Clock::now();
    last_ = start_;
    times_ = PhaseTimes{};
  }
  void mark(Phase ended) override {
    const auto now = Clock::now();
    times_.seconds[static_cast<std::size_t>(ended)] = seconds(now - last_);
    last_ = now;
  }
  bool completed() override { return true; }  // every op has finished when it returns
  PhaseTimes resolve() override {
    times_.step_s = seconds(last_ - start_);
    return times_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
  Clock::time_point start_;
  Clock::time_point last_;
  PhaseTimes times_;
};

}  // namespace

std::unique_ptr<PhaseClock> make_host_phase_clock() { return std::make_unique<HostPhaseClock>(); }

}  // namespace scalebench
