#pragma once
// How gradients are grouped into allreduce buckets. Pure arithmetic on sizes (no torch), so that it
// can be tested alone and compared across ranks by a fingerprint.
//
// As in PyTorch DDP, parameters are taken in reverse registration order (backward produces the
// last layer's gradients first), and a bucket is closed once it holds at least `cap_bytes`; a
// parameter larger than the cap gets a bucket of its own.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace scalebench {

struct BucketSlot {
  std::size_t param = 0;      // index into the parameter list given to make_bucket_plan
  std::int64_t offset = 0;    // element offset in the bucket's flat buffer
  std::int64_t numel = 0;
};

struct Bucket {
  std::vector<BucketSlot> slots;
  std::int64_t numel = 0;
  std::int64_t bytes = 0;
};

struct BucketPlan {
  std::vector<Bucket> buckets;
  // For each parameter: its bucket and slot within it.
  std::vector<std::size_t> bucket_of_param;
  std::vector<std::size_t> slot_of_param;

  std::int64_t total_bytes() const;
  // Identical on two ranks iff their plans are identical (same buckets, same params, same sizes).
  std::uint64_t fingerprint() const;
};

// numels[i] is the element count of parameter i (registration order); all parameters have
// `element_size` bytes per element. cap_bytes must be > 0.
BucketPlan make_bucket_plan(const std::vector<std::int64_t>& numels, std::int64_t element_size,
                            std::int64_t cap_bytes);

// The same, with the parameters taken in `order` (a permutation of 0..n-1: the order in which
// backward produced their gradients, observed in a step; empty: reverse registration order) and
// the first bucket closed at `first_cap_bytes` (<= 0 or >= cap_bytes: like the others). As DDP's
// rebuilt buckets: a small first bucket lets communication start early in backward, and buckets
// filled in arrival order are ready in plan order, so launching strictly in order delays none.
BucketPlan make_bucket_plan(const std::vector<std::int64_t>& numels, std::int64_t element_size,
                            std::int64_t cap_bytes, std::int64_t first_cap_bytes,
                            const std::vector<std::size_t>& order);

// The parameters of each bucket, in slot order: what the run file records of a plan.
std::vector<std::vector<std::size_t>> bucket_params(const BucketPlan& plan);

}  // namespace scalebench
