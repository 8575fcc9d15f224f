#include "ddp/bucket_plan.hpp"

#include <algorithm>
#include <stdexcept>

namespace scalebench {
namespace {
// FNV-1a, 64 bit: stable across compilers and runs, unlike std::hash.
struct Fnv1a {
  std::uint64_t state = 1469598103934665603ULL;
  void add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      state ^= (v >> (8 * i)) & 0xffu;
      state *= 1099511628211ULL;
    }
  }
};
}  // namespace

std::int64_t BucketPlan::total_bytes() const {
  std::int64_t total = 0;
  for (const auto& b : buckets) total += b.bytes;
  return total;
}

std::uint64_t BucketPlan::fingerprint() const {
  Fnv1a h;
  h.add(buckets.size());
  for (const auto& b : buckets) {
    h.add(b.slots.size());
    h.add(static_cast<std::uint64_t>(b.bytes));
    for (const auto& s : b.slots) {
      h.add(s.param);
      h.add(static_cast<std::uint64_t>(s.offset));
      h.add(static_cast<std::uint64_t>(s.numel));
    }
  }
  return h.state;
}

BucketPlan make_bucket_plan(const std::vector<std::int64_t>& numels, std::int64_t element_size,
                            std::int64_t cap_bytes) {
  return make_bucket_plan(numels, element_size, cap_bytes, 0, {});
}

BucketPlan make_bucket_plan(const std::vector<std::int64_t>& numels, std::int64_t element_size,
                            std::int64_t cap_bytes, std::int64_t first_cap_bytes,
                            const std::vector<std::size_t>& order) {
  if (cap_bytes <= 0) throw std::invalid_argument("bucket cap must be positive");
  if (element_size <= 0) throw std::invalid_argument("element size must be positive");
  std::vector<std::size_t> sequence = order;
  if (sequence.empty()) {
    for (std::size_t k = numels.size(); k-- > 0;) sequence.push_back(k);
  }
  std::vector<bool> seen(numels.size(), false);
  for (std::size_t k : sequence) {
    if (k >= numels.size() || seen[k]) {
      throw std::invalid_argument("bucket order must list every parameter exactly once");
    }
    seen[k] = true;
  }
  if (sequence.size() != numels.size()) {
    throw std::invalid_argument("bucket order must list every parameter exactly once");
  }
  BucketPlan plan;
  plan.bucket_of_param.assign(numels.size(), 0);
  plan.slot_of_param.assign(numels.size(), 0);
  Bucket current;
  auto close_current = [&] {
    if (current.slots.empty()) return;
    plan.buckets.push_back(std::move(current));
    current = Bucket{};
  };
  for (std::size_t k : sequence) {
    if (numels[k] <= 0) throw std::invalid_argument("parameter with no elements");
    plan.bucket_of_param[k] = plan.buckets.size();
    plan.slot_of_param[k] = current.slots.size();
    current.slots.push_back({k, current.numel, numels[k]});
    current.numel += numels[k];
    current.bytes = current.numel * element_size;
    const bool first = plan.buckets.empty();
    const std::int64_t cap = first && first_cap_bytes > 0 ? std::min(first_cap_bytes, cap_bytes) : cap_bytes;
    if (current.bytes >= cap) close_current();
  }
  close_current();
  return plan;
}

std::vector<std::vector<std::size_t>> bucket_params(const BucketPlan& plan) {
  std::vector<std::vector<std::size_t>> out;
  for (const auto& b : plan.buckets) {
    std::vector<std::size_t> params;
    for (const auto& s : b.slots) params.push_back(s.param);
    out.push_back(std::move(params));
  }
  return out;
}

}  // namespace scalebench
