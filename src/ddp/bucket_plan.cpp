#include "ddp/bucket_plan.hpp"

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
  if (cap_bytes <= 0) throw std::invalid_argument("bucket cap must be positive");
  if (element_size <= 0) throw std::invalid_argument("element size must be positive");
  BucketPlan plan;
  plan.bucket_of_param.assign(numels.size(), 0);
  plan.slot_of_param.assign(numels.size(), 0);
  Bucket current;
  auto close_current = [&] {
    if (current.slots.empty()) return;
    plan.buckets.push_back(std::move(current));
    current = Bucket{};
  };
  for (std::size_t k = numels.size(); k-- > 0;) {
    if (numels[k] <= 0) throw std::invalid_argument("parameter with no elements");
    plan.bucket_of_param[k] = plan.buckets.size();
    plan.slot_of_param[k] = current.slots.size();
    current.slots.push_back({k, current.numel, numels[k]});
    current.numel += numels[k];
    current.bytes = current.numel * element_size;
    if (current.bytes >= cap_bytes) close_current();
  }
  close_current();
  return plan;
}

}  // namespace scalebench
