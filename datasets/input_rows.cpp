#include "datasets/input_rows.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "datasets/imagefolder.hpp"

namespace scalebench::datasets {

namespace {

// Threads running a parallel_for_bounded body in this process, over all concurrent calls: the
// training source and the evaluation sources may decode at once (each has its prefetch thread),
// and together they must still stay within --threads.
class ThreadBudget {
 public:
  // Waits until one thread may run, then takes up to `wanted` (>= 1) within `limit`.
  int take(int wanted, int limit) {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [&] { return running_ < limit; });
    const int granted = std::min(wanted, limit - running_);
    running_ += granted;
    return granted;
  }
  void give_back(int n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ -= n;
    }
    freed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable freed_;
  int running_ = 0;
};

ThreadBudget& thread_budget() {
  static ThreadBudget budget;
  return budget;
}

}  // namespace

void parallel_for_bounded(std::int64_t n, int threads, const std::function<void(std::int64_t)>& body) {
  if (n <= 0) return;
  const int limit = std::max(threads, 1);
  const int granted = thread_budget().take(static_cast<int>(std::min<std::int64_t>(n, limit)), limit);
  std::atomic<std::int64_t> next{0};
  std::mutex mu;
  std::exception_ptr first_error;
  auto work = [&] {
    for (std::int64_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error) first_error = std::current_exception();
        next = n;  // the others stop after their current item
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < granted; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  thread_budget().give_back(granted);
  if (first_error) std::rethrow_exception(first_error);
}

torch::Tensor input_rows(const LabelledSet& set, const std::vector<std::int64_t>& rows, int threads) {
  if (!set.decodes_from_files()) {
    return set.inputs.index_select(0, torch::tensor(rows, torch::kInt64));  // always a copy
  }
  const std::vector<std::int64_t>& shape = set.sample_shape;  // {C, H, W}
  const auto n = static_cast<std::int64_t>(rows.size());
  std::vector<std::int64_t> out_shape{n};
  out_shape.insert(out_shape.end(), shape.begin(), shape.end());
  torch::Tensor out = torch::empty(out_shape, torch::kUInt8);
  auto* base = out.data_ptr<std::uint8_t>();
  const std::int64_t row_bytes = shape.at(0) * shape.at(1) * shape.at(2);
  parallel_for_bounded(n, threads, [&](std::int64_t i) {
    const auto row = rows[static_cast<std::size_t>(i)];
    decode_image_into(set.files.at(static_cast<std::size_t>(row)), shape[0], shape[1], shape[2],
                      base + i * row_bytes);
  });
  return out;
}

}  // namespace scalebench::datasets
