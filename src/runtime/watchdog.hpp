#pragma once
// A watchdog for collectives: MPI has no timeout and NCCL none of its own, so a dead or stuck rank
// would leave the others waiting forever. The trainer arms it around every wait on a collective;
// if one lasts longer than --comm-timeout, the watchdog reports rank, host, step and what was
// awaited, runs the backend's abort hook (ncclCommAbort on CUDA), and ends the job.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace scalebench {

class Watchdog {
 public:
  // Runs on the watchdog thread before the job is aborted, with the message it logged: aborts the
  // NCCL communicator, marks the run file. The main thread is blocked in the collective then.
  using AbortHook = std::function<void(const std::string& message)>;
  // Says who is to blame, e.g. from the progress board ("" when it cannot tell).
  using DiagnoseHook = std::function<std::string()>;
  // timeout_s <= 0 disables the watchdog.
  Watchdog(double timeout_s, AbortHook on_timeout, DiagnoseHook diagnose = nullptr);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(long long step, const char* what);
  void disarm();

  // RAII: armed for the lifetime of the guard.
  class Guard {
   public:
    Guard(Watchdog* dog, long long step, const char* what) : dog_(dog) {
      if (dog_) dog_->arm(step, what);
    }
    ~Guard() {
      if (dog_) dog_->disarm();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    Watchdog* dog_;
  };

 private:
  void loop();
  using Clock = std::chrono::steady_clock;
  const double timeout_s_;
  AbortHook on_timeout_;
  DiagnoseHook diagnose_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool stopping_ = false;
  Clock::time_point deadline_;
  long long step_ = -1;
  std::string what_;
  std::thread thread_;
};

}  // namespace scalebench
