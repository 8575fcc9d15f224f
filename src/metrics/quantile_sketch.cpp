#include "metrics/quantile_sketch.hpp"

#include <cmath>
#include <stdexcept>

#include "metrics/summary.hpp"  // median

namespace scalebench {

QuantileSketch::QuantileSketch(double alpha, std::size_t exact_capacity)
    : alpha_(alpha), log_gamma_(std::log((1.0 + alpha) / (1.0 - alpha))), exact_capacity_(exact_capacity) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw std::invalid_argument("QuantileSketch: alpha must be in (0, 1)");
}

void QuantileSketch::add(double value) {
  ++count_;
  if (buckets_.empty() && non_positive_in_buckets_ == 0) {
    if (exact_.size() < exact_capacity_) {
      exact_.push_back(value);
      return;
    }
    spill();
  }
  add_to_buckets(value);
}

void QuantileSketch::spill() {
  for (const double v : exact_) add_to_buckets(v);
  exact_.clear();
  exact_.shrink_to_fit();
}

void QuantileSketch::add_to_buckets(double value) {
  if (!(value > 0.0)) {  // zero, negative (and NaN) values read as 0
    ++non_positive_in_buckets_;
    return;
  }
  ++buckets_[static_cast<int>(std::ceil(std::log(value) / log_gamma_))];
}

double QuantileSketch::median() const {
  if (count_ == 0) return 0.0;
  if (buckets_.empty() && non_positive_in_buckets_ == 0) return scalebench::median(exact_);
  const std::int64_t rank = (count_ - 1) / 2;  // 0-based: the lower middle
  std::int64_t seen = non_positive_in_buckets_;
  if (rank < seen) return 0.0;
  for (const auto& [index, n] : buckets_) {
    seen += n;
    if (rank < seen) {
      // The value of least relative error for the bucket (gamma^(i-1), gamma^i].
      const double gamma = std::exp(log_gamma_);
      return 2.0 * std::exp(log_gamma_ * index) / (gamma + 1.0);
    }
  }
  return 0.0;  // not reached
}

std::size_t QuantileSketch::memory_bytes() const {
  // A std::map node holds the pair and three pointers and a colour (about 48 bytes on 64-bit).
  return exact_.capacity() * sizeof(double) + buckets_.size() * 48;
}

}  // namespace scalebench
