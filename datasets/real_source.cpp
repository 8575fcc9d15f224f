#include "datasets/real_source.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "datasets/input_rows.hpp"
#include "datasets/preprocess.hpp"

namespace scalebench::datasets {

Batch gather_batch(const LabelledSet& set, const std::vector<std::int64_t>& rows,
                   const SourceSpec& spec, std::int64_t global_samples) {
  const torch::Tensor idx = torch::tensor(rows, torch::kInt64);
  Batch b;
  b.inputs = to_model_input(input_rows(set, rows, spec.decode_threads), spec.input_shape, spec.input_dtype);
  b.targets = set.labels.index_select(0, idx);
  b.global_samples = global_samples;
  if (spec.device.is_cuda()) {
    b.inputs = b.inputs.pin_memory();
    b.targets = b.targets.pin_memory();
  }
  return b;
}

namespace {
Batch to_device(Batch b, const torch::Device& device) {
  if (device.is_cpu()) return b;
  b.inputs = b.inputs.to(device, /*non_blocking=*/true);
  b.targets = b.targets.to(device, /*non_blocking=*/true);
  return b;
}
}  // namespace

RealSource::RealSource(const SourceSpec& spec, std::shared_ptr<const DatasetSplits> data)
    : spec_(spec),
      data_(std::move(data)),
      sampler_(data_->train.size(), spec.batch_per_rank * spec.world_size, spec.world_size,
               spec.rank, spec.seed) {
  if (spec.prefetch > 0) {
    prefetcher_ = std::make_unique<Prefetcher>([this](std::int64_t s) { return make(s); },
                                               spec.prefetch);
  }
}

Batch RealSource::make(std::int64_t step) {
  return gather_batch(data_->train, sampler_.indices(step), spec_, sampler_.global_size(step));
}

Batch RealSource::batch(std::int64_t step) {
  return to_device(prefetcher_ ? prefetcher_->get(step) : make(step), spec_.device);
}

SplitEvalSource::SplitEvalSource(const SourceSpec& spec, std::shared_ptr<const DatasetSplits> data,
                                 Split split)
    : spec_(spec), data_(std::move(data)), split_(split), set_(&data_->split(split)) {
  if (spec.batch_per_rank < 1) throw std::invalid_argument("eval batch must be >= 1");
  // Rank 0's shard is the largest; every rank runs as many steps as it needs.
  const Shard largest = contiguous_shard(set_->size(), spec.world_size, 0);
  steps_ = (largest.count + spec.batch_per_rank - 1) / spec.batch_per_rank;
  if (spec.prefetch > 0) {
    // Each evaluation asks for steps 0, 1, ...: the prefetcher restarts at 0 for the next one. Past
    // the last step it makes nothing, so it idles instead of failing between evaluations.
    prefetcher_ = std::make_unique<Prefetcher>(
        [this](std::int64_t i) { return i < steps_ ? make(i) : Batch{}; }, spec.prefetch);
  }
}

std::string SplitEvalSource::name() const { return data_->name + "/" + split_name(split_); }

Batch SplitEvalSource::batch(std::int64_t i) {
  if (i < 0 || i >= steps_) throw std::out_of_range("eval step " + std::to_string(i) + " of " + std::to_string(steps_));
  return to_device(prefetcher_ ? prefetcher_->get(i) : make(i), spec_.device);
}

Batch SplitEvalSource::make(std::int64_t i) {
  const std::int64_t b = spec_.batch_per_rank;
  std::int64_t global = 0;
  std::vector<std::int64_t> rows;
  for (int r = 0; r < spec_.world_size; ++r) {
    const Shard s = contiguous_shard(set_->size(), spec_.world_size, r);
    const std::int64_t first = std::min(s.count, i * b), last = std::min(s.count, (i + 1) * b);
    global += last - first;
    if (r == spec_.rank) {
      for (std::int64_t k = first; k < last; ++k) rows.push_back(s.first + k);
    }
  }
  return gather_batch(*set_, rows, spec_, global);
}

}  // namespace scalebench::datasets
