#pragma once
// What a run file keeps of the ranks (--record-ranks). At thousands of ranks one row per rank per
// step is most of the file (about 0.5 KB per rank-step with 20 buckets: 20 GB for 4,096 ranks x
// 10,000 steps), so a run can keep every rank's rows (`all`), or per-step statistics over all
// ranks plus rank 0's rows (`stats`), or those statistics plus K ranks' rows (`sample:K`, rank 0
// and K-1 others evenly spaced). The statistics are computed by rank 0 from every rank's records
// before anything is dropped, so the figures that need all ranks (slowest rank per step, samples
// summed, phases averaged, peak memory) stay exact in every mode. No torch, no MPI, no HDF5.
#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace scalebench {

struct RankSelection {
  std::string mode = "all";  // "all", "stats" or "sample:K" (K as resolved for the world size)
  std::vector<int> ranks;    // the recorded ranks, ascending, rank 0 first; every rank for "all"
  bool all() const { return mode == "all"; }
};

// Ranks at most this many record every rank under --record-ranks auto; beyond, sample:this many.
// 256 ranks x 10,000 steps x 20 buckets is about 1.2 GB before compression (docs/scale.md).
constexpr int kAutoAllRanksUpTo = 256;

// Resolves the option ("auto", "all", "stats", "sample:K" with K >= 1) for `world_size` ranks.
// sample:K with K >= world_size is every rank's rows, still with the statistics. Throws
// std::invalid_argument saying what is allowed.
RankSelection select_ranks(const std::string& option, int world_size);

// Columns of one /rank_stats row, in order.
constexpr std::size_t kRankStatColumns = 5;
const std::array<const char*, kRankStatColumns>& rank_stat_columns();  // min median max mean max_rank

// The statistics of one step field over the ranks: `values[r]` is rank r's value. The median of an
// even count is the mean of the two middle values; max_rank is the lowest rank holding the max.
// A NaN anywhere makes min, median, max and mean NaN, and max_rank the first rank with a NaN.
// `scratch` is reused between calls (no allocation per call once it is large enough).
std::array<double, kRankStatColumns> rank_stats(const double* values, std::size_t n,
                                                std::vector<double>& scratch);

}  // namespace scalebench
