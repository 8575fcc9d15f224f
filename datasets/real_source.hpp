#pragma once
// Batch sources over a loaded dataset (DatasetSplits): the training source, shuffled and sharded
// by ShardedSampler, and the evaluation source over a validation or test split, sharded
// contiguously; both make their batches on a background prefetch thread (where an image folder's
// rows are decoded, input_rows.hpp).
#include <memory>
#include <optional>

#include "datasets/batch_source.hpp"
#include "datasets/labelled_set.hpp"
#include "datasets/prefetcher.hpp"
#include "datasets/sampler.hpp"

namespace scalebench::datasets {

// A batch of `rows` of `set`, preprocessed for the model of `spec` (preprocess.hpp), on the CPU
// (pinned when spec.device is CUDA, so the copy to the device can be asynchronous). Rows of an
// image folder are decoded here, with spec.decode_threads threads.
Batch gather_batch(const LabelledSet& set, const std::vector<std::int64_t>& rows,
                   const SourceSpec& spec, std::int64_t global_samples);

class RealSource final : public BatchSource {
 public:
  // Trains on data->train; global batch = spec.batch_per_rank * spec.world_size.
  RealSource(const SourceSpec& spec, std::shared_ptr<const DatasetSplits> data);
  std::string name() const override { return data_->name; }
  std::int64_t steps_per_epoch() const override { return sampler_.steps_per_epoch(); }
  // This rank's rows of the global batch of `step`: prepared ahead when spec.prefetch > 0 (the
  // next steps, in order), else here. The batch is moved to spec.device here.
  Batch batch(std::int64_t step) override;
  const ShardedSampler& sampler() const { return sampler_; }

 private:
  Batch make(std::int64_t step);

  SourceSpec spec_;
  std::shared_ptr<const DatasetSplits> data_;
  ShardedSampler sampler_;
  std::unique_ptr<Prefetcher> prefetcher_;  // last member: its thread stops before the rest goes
};

class SplitEvalSource final : public EvalSource {
 public:
  SplitEvalSource(const SourceSpec& spec, std::shared_ptr<const DatasetSplits> data, Split split);
  std::string name() const override;
  std::int64_t steps() const override { return steps_; }
  std::int64_t samples() const override { return set_->size(); }
  // This rank's i-th batch: prepared ahead when spec.prefetch > 0, else here.
  Batch batch(std::int64_t i) override;

 private:
  Batch make(std::int64_t i);

  SourceSpec spec_;
  std::shared_ptr<const DatasetSplits> data_;
  Split split_;
  const LabelledSet* set_;
  std::int64_t steps_ = 0;
  std::unique_ptr<Prefetcher> prefetcher_;  // last member: its thread stops before the rest goes
};

}  // namespace scalebench::datasets
