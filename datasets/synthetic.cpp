#include "datasets/synthetic.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <stdexcept>

namespace scalebench::datasets {
namespace {
// Seeds of different samples must not collide for nearby user seeds (a 64-bit mix of both).
std::uint64_t sample_seed(std::uint64_t seed, std::int64_t sample) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(sample) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;  // splitmix64's finaliser
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

SyntheticSource::SyntheticSource(const SourceSpec& spec) {
  if (spec.input_dtype != torch::kFloat32 && spec.input_dtype != torch::kInt64) {
    throw std::invalid_argument("synthetic inputs are float32 images/features or int64 token ids");
  }
  if (spec.input_dtype == torch::kInt64 && spec.vocabulary < 1) {
    throw std::invalid_argument("synthetic token ids need a vocabulary of at least 1");
  }
  const std::int64_t global = spec.batch_per_rank * spec.world_size;
  const std::int64_t b = spec.batch_per_rank;
  std::vector<std::int64_t> shape{b};
  shape.insert(shape.end(), spec.input_shape.begin(), spec.input_shape.end());
  const std::vector<std::int64_t> sample_shape(spec.input_shape.begin(), spec.input_shape.end());
  for (std::int64_t k = 0; k < spec.synthetic_batches; ++k) {
    // Made on the CPU (values independent of the device), only this rank's rows, then moved.
    torch::Tensor inputs = torch::empty(shape, torch::TensorOptions().dtype(spec.input_dtype));
    torch::Tensor targets = torch::empty({b}, torch::kInt64);
    auto* target = targets.data_ptr<std::int64_t>();
    for (std::int64_t row = 0; row < b; ++row) {
      const std::int64_t sample = k * global + spec.rank * b + row;
      auto gen = at::make_generator<at::CPUGeneratorImpl>(sample_seed(spec.seed, sample));
      torch::Tensor x = inputs[row];
      if (spec.input_dtype == torch::kInt64) {
        x.random_(0, spec.vocabulary, gen);
      } else {
        x.uniform_(0.0, 1.0, gen);  // images scaled to [0, 1) as the studies did
      }
      target[row] = torch::randint(spec.num_classes, {1}, gen, torch::kInt64).item<std::int64_t>();
    }
    pool_.push_back({inputs.to(spec.device), targets.to(spec.device), global});
  }
}

Batch SyntheticSource::batch(std::int64_t step) {
  return pool_[static_cast<std::size_t>(step % static_cast<std::int64_t>(pool_.size()))];
}

}  // namespace scalebench::datasets
