#pragma once
// Rank 0's file writes, off the step loop. Every --flush-every steps the ranks gather their
// records to rank 0 (a collective, on the main thread); unpacking them, appending them to the run
// file, flushing it and adding them to the summary then run on this writer's own thread, so that
// no rank's step (and no rank waiting for rank 0 in the next collective) contains the file write.
// While the writer runs, it is the only thread that calls into the run file: the main thread
// touches the file only after drain(), which RunRecorder does before handing the file out.
#include <chrono>
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
  // From any thread (the watchdog's): waits at most `timeout` for the queue to be written, then
  // stops the writer. True if everything was written; false if a write was still running (then
  // the caller must not touch the file: that write owns it).
  bool stop_within(std::chrono::milliseconds timeout) noexcept;

 private:
  struct Batch {
    std::vector<double> gathered;
    std::size_t steps = 0;
  };
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
