#pragma once
// Where a rank's batches come from. Every rank asks for the same step indices; each gets its own
// shard of that step's global batch.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace scalebench::datasets {

struct Batch {
  torch::Tensor inputs;   // [batch, input_shape...]
  torch::Tensor targets;  // [batch] class indices (int64); 0/1 for a sigmoid output
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
};

std::vector<std::string> dataset_names();
// Throws UsageError for an unknown dataset.
std::unique_ptr<BatchSource> make_batch_source(const SourceSpec& spec);

}  // namespace scalebench::datasets
