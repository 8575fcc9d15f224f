#include "datasets/input_rows.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "datasets/imagefolder.hpp"

namespace scalebench::datasets {

void parallel_for_bounded(std::int64_t n, int threads, const std::function<void(std::int64_t)>& body) {
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
  const auto helpers = static_cast<std::int64_t>(std::max(threads, 1)) - 1;
  std::vector<std::thread> pool;
  for (std::int64_t t = 0; t < std::min(helpers, n - 1); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
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
