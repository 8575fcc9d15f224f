#include "train/record_writer.hpp"

#include <string>

#include "runtime/log.hpp"

namespace scalebench {

RecordWriter::RecordWriter(RecordSink& sink, std::size_t max_pending)
    : sink_(sink), max_pending_(max_pending == 0 ? 1 : max_pending), thread_([this] { loop(); }) {}

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

void RecordWriter::post(std::vector<double> gathered, std::size_t steps) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return queue_.size() < max_pending_ || error_ || stopping_; });
  rethrow_locked();
  if (stopping_) throw std::logic_error("step records posted to a stopped writer");
  queue_.push_back(Batch{std::move(gathered), steps});
  lock.unlock();
  changed_.notify_all();
}

void RecordWriter::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return (queue_.empty() && !writing_) || error_; });
  rethrow_locked();
}

bool RecordWriter::stop_within(std::chrono::milliseconds timeout) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  const bool written = changed_.wait_for(lock, timeout, [this] { return (queue_.empty() && !writing_) || error_; });
  stopping_ = true;
  // Batches not yet started are dropped only if the queue could not be written in time; a write
  // in progress keeps the file until it returns.
  if (!written) queue_.clear();
  const bool idle = !writing_;
  lock.unlock();
  changed_.notify_all();
  return idle;
}

void RecordWriter::loop() {
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
      sink_.append_gathered(batch.gathered, batch.steps);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    writing_ = false;
    if (failure && !error_) error_ = failure;
    changed_.notify_all();
  }
}

}  // namespace scalebench
