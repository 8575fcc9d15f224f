#include "runtime/watchdog.hpp"

#include <sstream>

#include "core/errors.hpp"
#include "runtime/log.hpp"
#include "runtime/world.hpp"

namespace scalebench {

Watchdog::Watchdog(double timeout_s, AbortHook on_timeout, DiagnoseHook diagnose)
    : timeout_s_(timeout_s), on_timeout_(std::move(on_timeout)), diagnose_(std::move(diagnose)) {
  if (timeout_s_ > 0) thread_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::arm(long long step, const char* what) {
  if (timeout_s_ <= 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = true;
    step_ = step;
    what_ = what;
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(timeout_s_));
  }
  cv_.notify_all();
}

void Watchdog::disarm() {
  if (timeout_s_ <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!armed_) {
      cv_.wait(lock, [this] { return stopping_ || armed_; });
      continue;
    }
    const auto deadline = deadline_;
    if (cv_.wait_until(lock, deadline, [this, deadline] {
          return stopping_ || !armed_ || deadline_ != deadline;
        })) {
      continue;  // disarmed, re-armed or stopping
    }
    const World& world = World::get();
    if (!world.is_root()) {
      // Rank 0 can name the missing rank (it holds the progress board): give its watchdog, which
      // fires at about the same time, a moment to say so and end the job first.
      const auto grace = std::chrono::seconds(3);
      if (cv_.wait_for(lock, grace, [this, deadline] {
            return stopping_ || !armed_ || deadline_ != deadline;
          })) {
        continue;
      }
    }
    const std::string culprit = diagnose_ ? diagnose_() : std::string();
    std::ostringstream msg;
    msg << "collective '" << what_ << "' at step " << step_ << " did not complete within "
        << "--comm-timeout=" << timeout_s_ << " s: "
        << (culprit.empty() ? std::string("another rank is dead or stuck") : culprit + " (dead or stuck)")
        << "; ending the job";
    log::error(msg.str());
    if (on_timeout_) on_timeout_(msg.str());
    World::get().abort(kExitCommTimeout);
  }
}

}  // namespace scalebench
