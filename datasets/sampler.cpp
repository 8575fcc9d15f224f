#include "datasets/sampler.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace scalebench::datasets {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fully specified, good enough to shuffle.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) without modulo bias (rejection of the short last interval).
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % bound);
    std::uint64_t x;
    do x = next(); while (x >= limit);
    return x % bound;
  }
};

// Part of a slice [0, total) of `parts` contiguous pieces, sizes differing by at most 1.
std::pair<std::int64_t, std::int64_t> even_part(std::int64_t total, std::int64_t parts,
                                                std::int64_t k) {
  const std::int64_t base = total / parts, extra = total % parts;
  return {k * base + std::min(k, extra), base + (k < extra ? 1 : 0)};
}

}  // namespace

std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  SplitMix64 rng{seed};
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[j]);
  }
  return p;
}

ShardedSampler::ShardedSampler(std::int64_t n_samples, std::int64_t global_batch, int world_size,
                               int rank, std::uint64_t seed)
    : n_(n_samples), global_batch_(global_batch), world_size_(world_size), rank_(rank), seed_(seed) {
  if (n_ < 1) throw std::invalid_argument("ShardedSampler: no samples");
  if (global_batch_ < 1) throw std::invalid_argument("ShardedSampler: global batch must be >= 1");
  if (world_size_ < 1 || rank_ < 0 || rank_ >= world_size_) {
    throw std::invalid_argument("ShardedSampler: rank " + std::to_string(rank) +
                                " outside a world of " + std::to_string(world_size));
  }
  steps_per_epoch_ = (n_ + global_batch_ - 1) / global_batch_;
}

std::int64_t ShardedSampler::global_size(std::int64_t step) const {
  const std::int64_t in_epoch = step % steps_per_epoch_;
  return std::min(global_batch_, n_ - in_epoch * global_batch_);
}

ShardedSampler::Slice ShardedSampler::slice(std::int64_t step, int rank) const {
  const auto [first, count] = even_part(global_size(step), world_size_, rank);
  return {first, count};
}

const std::vector<std::int64_t>& ShardedSampler::epoch_order(std::int64_t epoch) {
  if (epoch != cached_epoch_) {
    // Distinct, well-mixed seeds per epoch: one SplitMix64 step over (seed, epoch).
    SplitMix64 mix{seed_ ^ (0xD1B54A32D192ED03ULL * static_cast<std::uint64_t>(epoch + 1))};
    order_ = seeded_permutation(n_, mix.next());
    cached_epoch_ = epoch;
  }
  return order_;
}

std::vector<std::int64_t> ShardedSampler::indices_for(std::int64_t step, int rank) {
  if (step < 0) throw std::invalid_argument("ShardedSampler: negative step");
  const std::int64_t epoch = step / steps_per_epoch_;
  const std::int64_t start = (step % steps_per_epoch_) * global_batch_;
  const Slice s = slice(step, rank);
  const auto& order = epoch_order(epoch);
  return std::vector<std::int64_t>(order.begin() + start + s.first,
                                   order.begin() + start + s.first + s.count);
}

Shard contiguous_shard(std::int64_t n, int world_size, int rank) {
  const auto [first, count] = even_part(n, world_size, rank);
  return {first, count};
}

}  // namespace scalebench::datasets
