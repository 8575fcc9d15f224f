#pragma once
// A compute load beside a collective: a thread of its own multiplying float32 matrices in a loop,
// as backward keeps a rank's cores busy while a gradient bucket is in flight. `scalebench
// allreduce --beside-compute` sweeps the message sizes again with one running on every rank, so
// that the predictor has a measured figure for what a bucket gets during backward on CPU cores the
// two share (time slicing of the ranks' communicator threads against their compute threads is not
// something processor sharing can derive: docs/prediction.md).
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>

namespace scalebench {

class ComputeLoad {
 public:
  // Starts the load at once. Its products use LibTorch's intra-op threads (process-wide: the
  // caller sets them); `side` is the square matrices' side.
  explicit ComputeLoad(std::int64_t side = 256);
  ~ComputeLoad();  // stops and joins
  ComputeLoad(const ComputeLoad&) = delete;
  ComputeLoad& operator=(const ComputeLoad&) = delete;

  // CPU seconds the load's thread has used so far (CLOCK_THREAD_CPUTIME_ID of that thread, read
  // from this one): the share of a core it got over a window is the difference over the wall time.
  // Its intra-op helper threads, if any, are not counted: with more than one thread per rank the
  // figure is the share of the thread that drives them.
  double cpu_seconds() const;
  // Rethrows what stopped the loop early (e.g. out of memory), if anything did; cpu_seconds()
  // calls it first, since the clock of a thread that has ended cannot be read.
  void check() const;
  std::string description() const;

 private:
  void loop();

  std::int64_t side_;
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // written by the thread before it sets failed_
  std::atomic<bool> failed_{false};
  std::thread thread_;
  clockid_t clock_{};  // the thread's CPU-time clock
};

}  // namespace scalebench
