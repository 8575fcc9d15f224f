#pragma once
// A median (or any quantile) of a stream in bounded memory. Up to `exact_capacity` values are
// kept as they are, so short runs get exact medians; beyond that, the values move into
// logarithmic buckets of relative width 2*alpha (the DDSketch scheme: bucket i holds
// (gamma^(i-1), gamma^i], gamma = (1+alpha)/(1-alpha)), and a quantile is then within a relative
// error alpha of the true one. Memory is bounded by the range of the values, not their count:
// step times that vary by 2x need ~350 buckets at alpha = 0.1 %. Zero and negative values (an
// empty phase) are counted apart and read as 0.
#include <cstdint>
#include <map>
#include <vector>

namespace scalebench {

class QuantileSketch {
 public:
  static constexpr double kDefaultAlpha = 0.001;
  static constexpr std::size_t kDefaultExactCapacity = 1024;
  explicit QuantileSketch(double alpha = kDefaultAlpha, std::size_t exact_capacity = kDefaultExactCapacity);

  void add(double value);
  std::int64_t count() const { return count_; }
  // True while every value is kept as it is (the median is exact).
  bool exact() const { return buckets_.empty() && non_positive_in_buckets_ == 0; }
  // The median (for an even count in exact mode, the mean of the two middle values, as median()
  // does); 0 for an empty sketch.
  double median() const;
  // Bytes held beyond the object itself (for the bounded-memory bench and tests).
  std::size_t memory_bytes() const;

 private:
  void spill();  // exact values into buckets, once the capacity is reached
  void add_to_buckets(double value);
  double alpha_;
  double log_gamma_;
  std::size_t exact_capacity_;
  std::int64_t count_ = 0;
  std::vector<double> exact_;
  std::map<int, std::int64_t> buckets_;
  std::int64_t non_positive_in_buckets_ = 0;
};

}  // namespace scalebench
