#include "datasets/synthetic.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <stdexcept>

namespace scalebench::datasets {
namespace {
// Seeds of different global batches must not collide for nearby user seeds.
constexpr std::uint64_t kBatchSeedStride = 0x9E3779B97F4A7C15ULL;
}  // namespace

SyntheticSource::SyntheticSource(const SourceSpec& spec) {
  if (spec.input_dtype != torch::kFloat32 && spec.input_dtype != torch::kInt64) {
    throw std::invalid_argument("synthetic inputs are float32 images/features or int64 token ids");
  }
  if (spec.input_dtype == torch::kInt64 && spec.vocabulary < 1) {
    throw std::invalid_argument("synthetic token ids need a vocabulary of at least 1");
  }
  const std::int64_t global = spec.batch_per_rank * spec.world_size;
  std::vector<std::int64_t> shape{global};
  shape.insert(shape.end(), spec.input_shape.begin(), spec.input_shape.end());
  for (std::int64_t k = 0; k < spec.synthetic_batches; ++k) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed + kBatchSeedStride * (k + 1));
    // Generated whole on the CPU so the values do not depend on rank count or device; only this
    // rank's rows are kept and moved to the device.
    torch::Tensor inputs = spec.input_dtype == torch::kInt64
                               ? torch::randint(spec.vocabulary, shape, gen, torch::kInt64)
                               : torch::rand(shape, gen);  // images scaled to [0, 1) as the studies did
    torch::Tensor targets = torch::randint(spec.num_classes, {global}, gen, torch::kInt64);
    const std::int64_t first = spec.rank * spec.batch_per_rank;
    pool_.push_back({inputs.narrow(0, first, spec.batch_per_rank).contiguous().to(spec.device),
                     targets.narrow(0, first, spec.batch_per_rank).contiguous().to(spec.device),
                     global});
  }
}

Batch SyntheticSource::batch(std::int64_t step) {
  return pool_[static_cast<std::size_t>(step % static_cast<std::int64_t>(pool_.size()))];
}

}  // namespace scalebench::datasets
