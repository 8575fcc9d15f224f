#pragma once
// Which samples each rank takes at each step, the same way on every rank without communication.
//
// Per epoch, a permutation of [0, n) from (seed, epoch) that every rank computes identically. The
// epoch is cut into global batches of `global_batch` consecutive entries of the permutation; the
// last one holds the remainder (n % global_batch) when n does not divide, so every sample is seen
// exactly once per epoch and an epoch has ceil(n / global_batch) steps. Rank k takes a contiguous
// slice of each global batch; slice sizes differ by at most 1 (the first g % world ranks get one
// more). When the last global batch holds fewer samples than there are ranks, the ranks from
// g onwards get an EMPTY slice for that step: they must still take part in the step's collectives
// (with zero samples), and `global_size(step)` lets the trainer weight each rank's contribution.
//
// Torch-free and deterministic across platforms: its own generator (SplitMix64) and its own
// Fisher-Yates shuffle, not std::shuffle, whose result differs between standard libraries.
#include <cstdint>
#include <vector>

namespace scalebench::datasets {

// A permutation of [0, n) determined by `seed` alone.
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed);

class ShardedSampler {
 public:
  // Throws std::invalid_argument for n < 1, global_batch < 1, world_size < 1 or rank outside it.
  ShardedSampler(std::int64_t n_samples, std::int64_t global_batch, int world_size, int rank,
                 std::uint64_t seed);

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::int64_t n_samples() const { return n_; }
  // Samples in the global batch of `step` (0-based, counting across epochs).
  std::int64_t global_size(std::int64_t step) const;
  // [first, first + count) of this step's global batch that `rank` takes.
  struct Slice {
    std::int64_t first = 0, count = 0;
  };
  Slice slice(std::int64_t step, int rank) const;
  // This rank's sample indices for `step` (possibly empty, see above).
  std::vector<std::int64_t> indices(std::int64_t step) { return indices_for(step, rank_); }
  std::vector<std::int64_t> indices_for(std::int64_t step, int rank);
  // The permutation of `epoch` (cached: one epoch at a time).
  const std::vector<std::int64_t>& epoch_order(std::int64_t epoch);

 private:
  std::int64_t n_, global_batch_;
  int world_size_, rank_;
  std::uint64_t seed_;
  std::int64_t steps_per_epoch_;
  std::int64_t cached_epoch_ = -1;
  std::vector<std::int64_t> order_;
};

// The contiguous 1/world shard of [0, n) that `rank` evaluates: sizes differ by at most 1.
struct Shard {
  std::int64_t first = 0, count = 0;
};
Shard contiguous_shard(std::int64_t n, int world_size, int rank);

}  // namespace scalebench::datasets
