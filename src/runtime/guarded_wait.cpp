#include "runtime/guarded_wait.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/errors.hpp"

namespace scalebench {

void guarded_wait(Watchdog* dog, long long step, const char* what, const WaitPolls& polls) {
  const auto failed = [&]() -> std::string { return polls.async_error ? polls.async_error() : std::string(); };
  if (polls.done()) {
    if (std::string e = failed(); !e.empty()) throw CommFailure(std::string(what) + ": " + e);
    return;
  }
  Watchdog::Guard guard(dog, step, what);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (int polls_made = 1;; ++polls_made) {
    if (std::string e = failed(); !e.empty()) throw CommFailure(std::string(what) + ": " + e);
    if (polls.done()) return;
    if (polls_made < 64) {
      std::this_thread::yield();
      continue;
    }
    const auto waited = Clock::now() - start;
    const auto nap = std::clamp<Clock::duration>(waited / 256, std::chrono::microseconds(20),
                                                 std::chrono::microseconds(200));
    std::this_thread::sleep_for(nap);
  }
}

}  // namespace scalebench
