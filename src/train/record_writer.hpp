#pragma once
// Rank 0's file writes, off the step loop. Every --flush-every steps the ranks gather their
// records to rank 0 (a collective, on the main thread); unpacking them, appending them to the run
// file, flushing it and adding them to the summary then run on this writer's own thread, so that
// no rank's step (and no rank waiting for rank 0 in the next collective) contains the file write.
// The writer's thread is the only thread that calls into the run file while the writer exists
// (the file's ThreadOwner is handed to it, and every RunFile call checks it): metadata, events and
// the final status reach the file as jobs it runs (run(), run_then_stop_within()), also when the
// watchdog marks a stuck run from its own thread while the main thread may still be writing.
#include <chrono>
#include <functional>
#include <future>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "train/record_sink.hpp"

namespace scalebench {

class RecordWriter {
 public:
  // `max_pending`: gathered batches that may wait; post() blocks beyond that (a writer that falls
  // behind slows the run down instead of holding unbounded memory).
  explicit RecordWriter(RecordSink& sink, std::size_t max_pending = 2);
  ~RecordWriter();  // writes what is queued, then joins; an error then is logged, not thrown
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Queues `steps` steps of every rank's packed records (RecordSink::append_gathered's input).
  // Rethrows the error of an earlier write.
  void post(std::vector<double> gathered, std::size_t steps);
  // Waits until everything posted is in the file and flushed; rethrows the first write error.
  void drain();
  // Runs `job` on the writer's thread after everything posted before it (so on the file as of
  // those steps) and waits for it; rethrows its exception or an earlier write error.
  void run(std::function<void()> job);
  // From any thread (the watchdog's): queues `job` after what is queued, waits at most `timeout`
  // for it, and stops the writer. True if the job ran; false if it did not within the time (it may
  // still run later: it must own whatever it uses) or the writer had failed.
  bool run_then_stop_within(std::function<void()> job, std::chrono::milliseconds timeout) noexcept;

 private:
  struct Batch {
    std::vector<double> gathered;
    std::size_t steps = 0;
    std::function<void()> job;                   // instead of records, when set
    std::shared_ptr<std::promise<void>> done;    // the job's outcome
  };
  void enqueue_locked(std::unique_lock<std::mutex>& lock, Batch batch);
  void loop();
  void rethrow_locked();

  RecordSink& sink_;
  const std::size_t max_pending_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> queue_;
  bool writing_ = false;   // a batch is being written (taken off the queue)
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;     // last: started once everything above is initialised
};

}  // namespace scalebench
