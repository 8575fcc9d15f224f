#include "datasets/prefetcher.hpp"

#include <stdexcept>

namespace scalebench::datasets {

Prefetcher::Prefetcher(Make make, std::int64_t depth)
    : make_(std::move(make)), depth_(static_cast<std::size_t>(depth)) {
  if (depth < 1) throw std::invalid_argument("Prefetcher: depth must be >= 1");
  start(0);
}

Prefetcher::~Prefetcher() { stop(); }

void Prefetcher::start(std::int64_t from) {
  queue_.clear();
  stopping_ = false;
  worker_done_ = false;
  next_make_ = next_get_ = from;
  worker_ = std::thread([this] { run(); });
}

void Prefetcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  space_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Prefetcher::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    space_.wait(lock, [&] { return stopping_ || queue_.size() < depth_; });
    if (stopping_) break;
    Item item{next_make_++, {}, nullptr};
    lock.unlock();  // the work itself runs unlocked: get() can take ready batches meanwhile
    try {
      item.batch = make_(item.step);
    } catch (...) {
      item.error = std::current_exception();
    }
    lock.lock();
    const bool failed = item.error != nullptr;
    queue_.push_back(std::move(item));
    ready_.notify_all();
    if (failed) break;  // nothing after a failed step is made; get() re-throws, then restarts
  }
  worker_done_ = true;
  ready_.notify_all();
}

Batch Prefetcher::get(std::int64_t step) {
  std::unique_lock<std::mutex> lock(mu_);
  if (step != next_get_ || (worker_done_ && queue_.empty())) {
    lock.unlock();
    stop();  // joins: from here on this thread alone touches the state
    start(step);
    lock.lock();
  }
  ready_.wait(lock, [&] { return !queue_.empty() || worker_done_; });
  if (queue_.empty()) throw std::logic_error("Prefetcher: worker stopped without a batch");
  Item item = std::move(queue_.front());
  queue_.pop_front();
  ++next_get_;
  space_.notify_all();
  if (item.error) {
    next_get_ = -1;  // force a restart at whatever step is asked next
    std::rethrow_exception(item.error);
  }
  return std::move(item.batch);
}

}  // namespace scalebench::datasets
