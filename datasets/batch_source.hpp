#pragma once
// Where a rank's batches come from. Every rank asks for the same step indices; each gets its own
// shard of that step's global batch.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/labelled_set.hpp"
#include "datasets/node_share.hpp"

namespace scalebench::datasets {

struct Batch {
  torch::Tensor inputs;   // [batch, input_shape...]
  torch::Tensor targets;  // [batch] class indices (int64); 0/1 for a sigmoid output
  // Samples in this step's GLOBAL batch, all ranks together. Equal to batch * world_size except in
  // an epoch's last, smaller batch of a real dataset, where a rank's share may be smaller (even 0
  // rows): the trainer weights a rank's mean loss/gradient by batch / global_samples.
  std::int64_t global_samples = 0;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::string name() const = 0;
  virtual std::int64_t steps_per_epoch() const = 0;
  // This rank's shard of the global batch of `step` (0-based, counting across epochs).
  virtual Batch batch(std::int64_t step) = 0;
};

struct SourceSpec {
  std::string dataset;                     // registry name
  std::vector<std::int64_t> input_shape;   // per sample
  torch::Dtype input_dtype = torch::kFloat32;  // kInt64: token ids in [0, vocabulary)
  std::int64_t vocabulary = 0;
  std::int64_t num_classes = 10;           // targets are class indices in [0, num_classes)
  std::int64_t batch_per_rank = 1;
  int rank = 0;
  int world_size = 1;
  std::uint64_t seed = 0;
  torch::Device device = torch::kCPU;
  std::int64_t synthetic_batches = 8;      // distinct global batches the synthetic pool holds
  // Real datasets (see dataset_names()):
  std::string data_dir;                    // the dataset's folder (the files are named in errors)
  double validation_fraction = 0.1;        // of train, carved with `seed` (same on every rank)
  std::int64_t prefetch = 2;               // batches prepared ahead by a background thread; 0: none
  int decode_threads = 1;                  // imagefolder: threads that decode a batch (--threads)
  double test_fraction = 0.2;              // imagefolder without a test/ folder: carved, fixed seed
  // How this rank's node shares mnist, fashion-mnist, cifar10 and imdb (one copy per node, read by
  // one rank: shared_splits.hpp). Null: a node of this process alone (process_local_share()).
  std::shared_ptr<NodeShare> node_share;
};

// A split (validation or test) for evaluation: this rank's contiguous 1/world shard of it, in file
// order, no shuffling, so that over all ranks every sample is evaluated exactly once. steps() is
// the same on every rank (ranks with a smaller shard get an empty batch last), so a collective per
// step cannot hang.
class EvalSource {
 public:
  virtual ~EvalSource() = default;
  virtual std::string name() const = 0;     // e.g. "mnist/test"
  virtual std::int64_t steps() const = 0;
  virtual std::int64_t samples() const = 0;  // in the whole split, all ranks
  // This rank's i-th batch (at most batch_per_rank rows, possibly 0), i in [0, steps()).
  virtual Batch batch(std::int64_t i) = 0;
};

// "synthetic", "mnist", "fashion-mnist", "cifar10", "imdb", "imagefolder".
std::vector<std::string> dataset_names();
// Throws UsageError for an unknown dataset, a missing --data-dir, a dataset that does not fit the
// model (the message lists those that do); DataError (a UsageError) for bad files, on every rank
// of the node when its reader found them. Real datasets are loaded once per process and shared
// with make_eval_source while either is alive; mnist, fashion-mnist, cifar10 and imdb are moreover
// read by one rank per node into memory the node's ranks share (spec.node_share), so that
//   COLLECTIVE over the node: for a real dataset, make_batch_source and make_eval_source are called
//   by every rank of a node, in the same order, with the same spec but for rank and batch (and the
//   sources are dropped in the same order: freeing the shared memory is collective too).
// imagefolder keeps only its file list and decodes a batch's rows when the batch is made.
std::unique_ptr<BatchSource> make_batch_source(const SourceSpec& spec);
// Split::kValidation or Split::kTest of a real dataset (UsageError for synthetic or kTrain).
std::unique_ptr<EvalSource> make_eval_source(const SourceSpec& spec, Split split);

}  // namespace scalebench::datasets
