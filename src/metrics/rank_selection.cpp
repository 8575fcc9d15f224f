#include "metrics/rank_selection.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace scalebench {

namespace {
bool parse_positive(const std::string& text, int* out) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *out = std::stoi(text);
  return *out >= 1;
}
}  // namespace

RankSelection select_ranks(const std::string& option, int world_size) {
  if (world_size < 1) throw std::invalid_argument("select_ranks: world_size must be at least 1");
  std::string value = option;
  if (value == "auto") {
    value = world_size <= kAutoAllRanksUpTo ? "all" : "sample:" + std::to_string(kAutoAllRanksUpTo);
  }
  RankSelection s;
  if (value == "all") {
    s.mode = "all";
    for (int r = 0; r < world_size; ++r) s.ranks.push_back(r);
    return s;
  }
  if (value == "stats") {
    s.mode = "stats";
    s.ranks = {0};
    return s;
  }
  const std::string prefix = "sample:";
  int k = 0;
  if (value.rfind(prefix, 0) == 0 && parse_positive(value.substr(prefix.size()), &k)) {
    k = std::min(k, world_size);
    s.mode = "sample:" + std::to_string(k);
    // Evenly spaced: i * N / K for i < K is strictly increasing (N >= K) and starts at rank 0.
    for (int i = 0; i < k; ++i) {
      s.ranks.push_back(static_cast<int>(static_cast<long long>(i) * world_size / k));
    }
    return s;
  }
  throw std::invalid_argument(
      "--record-ranks " + option +
      ": allowed: auto (all up to " + std::to_string(kAutoAllRanksUpTo) + " ranks, sample:" +
      std::to_string(kAutoAllRanksUpTo) +
      " beyond), all (every rank's rows), stats (min, median, max, mean and the max's rank over "
      "all ranks per step and field, plus rank 0's rows), sample:K with K >= 1 (those statistics "
      "plus the rows of K ranks, rank 0 and the others evenly spaced)");
}

const std::array<const char*, kRankStatColumns>& rank_stat_columns() {
  static const std::array<const char*, kRankStatColumns> columns = {"min", "median", "max", "mean",
                                                                    "max_rank"};
  return columns;
}

std::array<double, kRankStatColumns> rank_stats(const double* values, std::size_t n,
                                                std::vector<double>& scratch) {
  if (n == 0) throw std::invalid_argument("rank_stats: no values");
  double sum = 0.0;
  std::size_t max_rank = 0;
  for (std::size_t r = 0; r < n; ++r) {
    if (std::isnan(values[r])) {  // as numpy's reductions do: a NaN makes every statistic NaN
      const double nan = std::numeric_limits<double>::quiet_NaN();
      return {nan, nan, nan, nan, static_cast<double>(r)};
    }
    sum += values[r];
    if (values[r] > values[max_rank]) max_rank = r;
  }
  scratch.assign(values, values + n);
  // nth_element is O(n): sorting 4,096 values per field per step would dominate rank 0's flush.
  const std::size_t mid = n / 2;
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(mid), scratch.end());
  double median = scratch[mid];
  if (n % 2 == 0) {
    const double below = *std::max_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(mid));
    median = (below + median) / 2.0;
  }
  const auto [lo, hi] = std::minmax_element(values, values + n);
  return {*lo, median, *hi, sum / static_cast<double>(n), static_cast<double>(max_rank)};
}

}  // namespace scalebench
