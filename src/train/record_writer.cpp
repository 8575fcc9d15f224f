#include "train/record_writer.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "runtime/log.hpp"

namespace scalebench {

RecordWriter::RecordWriter(RecordSink& sink, std::size_t max_pending)
    : sink_(sink), max_pending_(max_pending == 0 ? 1 : max_pending) {
  // The file passes to the writer's thread before it can run anything: nothing is queued yet.
  std::unique_lock<std::mutex> lock(mutex_);
  thread_ = std::thread([this] { loop(); });
  sink_.file().owner().hand_to(thread_.get_id(), "handing the run file to its writer thread");
}

RecordWriter::~RecordWriter() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();  // the loop writes what is queued before it returns
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      log::error(std::string("writing step records to the run file failed: ") + e.what());
    }
  }
}

void RecordWriter::rethrow_locked() {
  if (error_) std::rethrow_exception(error_);
}

void RecordWriter::enqueue_locked(std::unique_lock<std::mutex>& lock, Batch batch) {
  changed_.wait(lock, [this] { return queue_.size() < max_pending_ || error_ || stopping_; });
  rethrow_locked();
  if (stopping_) throw std::logic_error("work posted to a stopped run-file writer");
  queue_.push_back(std::move(batch));
  lock.unlock();
  changed_.notify_all();
}

void RecordWriter::post(std::vector<double> gathered, std::size_t steps) {
  std::unique_lock<std::mutex> lock(mutex_);
  enqueue_locked(lock, Batch{std::move(gathered), steps, nullptr, nullptr});
}

void RecordWriter::run(std::function<void()> job) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> outcome = done->get_future();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    enqueue_locked(lock, Batch{{}, 0, std::move(job), done});
  }
  outcome.get();  // the job's exception, if any
  std::unique_lock<std::mutex> lock(mutex_);
  rethrow_locked();
}

bool RecordWriter::run_then_stop_within(std::function<void()> job, std::chrono::milliseconds timeout) noexcept {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> outcome = done->get_future();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Room in the queue within the time (a writer far behind is skipped, not waited for).
    if (!changed_.wait_until(lock, deadline, [this] { return queue_.size() < max_pending_ || error_ || stopping_; }) ||
        error_ || stopping_) {
      stopping_ = true;
      lock.unlock();
      changed_.notify_all();
      return false;
    }
    queue_.push_back(Batch{{}, 0, std::move(job), done});
    stopping_ = true;  // the loop still runs what is queued, then ends
  }
  changed_.notify_all();
  if (outcome.wait_until(deadline) != std::future_status::ready) return false;
  try {
    outcome.get();
    return true;
  } catch (const std::exception& e) {
    log::error(std::string("writing to the run file failed: ") + e.what());
    return false;
  }
}

void RecordWriter::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return (queue_.empty() && !writing_) || error_; });
  rethrow_locked();
}

void RecordWriter::loop() {
  // The lowest priority (nice 19; on Linux a thread's nice value is its own): where a core is
  // free (a GPU node) the write runs at once beside the steps; where every core computes (a CPU
  // run with a rank per core) it gets ~1.5 % of one, the queue fills, and post() waits between
  // steps until it is written, so the write lands in the time between steps (other_s, wall_s)
  // instead of slowing the next step's compute (bench/flush_cost.py, docs/measurements.md). A
  // failure to lower it costs nothing but that.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty() || error_) break;  // stopping, with nothing (writable) left
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    changed_.notify_all();  // room in the queue
    std::exception_ptr failure;
    try {
      if (batch.job) {
        batch.job();
      } else {
        sink_.append_gathered(batch.gathered, batch.steps);
      }
    } catch (...) {
      failure = std::current_exception();
    }
    if (batch.done) {
      // A job's failure is its caller's to handle; the file stays writable for the next one.
      if (failure) {
        batch.done->set_exception(failure);
      } else {
        batch.done->set_value();
      }
      failure = nullptr;
    }
    lock.lock();
    writing_ = false;
    if (failure && !error_) error_ = failure;
    changed_.notify_all();
  }
  // Jobs still queued behind a failed write are answered, not left waiting forever.
  for (Batch& left : queue_) {
    if (left.done) left.done->set_exception(error_ ? error_ : std::make_exception_ptr(std::logic_error("run-file writer stopped")));
  }
  queue_.clear();
  // Whoever destroys the file (after this thread is joined) adopts it.
  if (sink_.file().owner().owned_by_caller()) sink_.file().owner().hand_to(std::thread::id(), "the writer thread ends");
}

}  // namespace scalebench
