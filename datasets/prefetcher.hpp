#pragma once
// Prepares the batches of steps s, s+1, ... on a background thread, at most `depth` ahead, so the
// training step's data phase is a hand-over from a queue. Asking for a step other than the next
// one restarts the thread from there (same results, just no head start). An exception thrown while
// making a batch is re-thrown by get() for that step; the destructor stops and joins the thread.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "datasets/batch_source.hpp"

namespace scalebench::datasets {

class Prefetcher {
 public:
  using Make = std::function<Batch(std::int64_t step)>;
  // depth >= 1. `make` runs on the background thread only (never concurrently with itself).
  Prefetcher(Make make, std::int64_t depth);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  Batch get(std::int64_t step);

 private:
  struct Item {
    std::int64_t step;
    Batch batch;
    std::exception_ptr error;
  };
  void start(std::int64_t from);
  void stop();
  void run();

  Make make_;
  std::size_t depth_;
  std::mutex mu_;
  std::condition_variable space_, ready_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool worker_done_ = false;  // the thread returned (after an error): restart on the next get()
  std::int64_t next_make_ = 0, next_get_ = 0;
  std::thread worker_;
};

}  // namespace scalebench::datasets
