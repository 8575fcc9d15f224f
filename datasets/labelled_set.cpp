#include "datasets/labelled_set.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "datasets/sampler.hpp"

namespace scalebench::datasets {

std::string split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kValidation: return "validation";
    case Split::kTest: return "test";
  }
  return "?";
}

const LabelledSet& DatasetSplits::split(Split s) const {
  switch (s) {
    case Split::kTrain: return train;
    case Split::kValidation: return validation;
    case Split::kTest: return test;
  }
  throw std::invalid_argument("unknown split");
}

LabelledSet select_rows(const LabelledSet& set, const torch::Tensor& rows) {
  if (set.decodes_from_files()) {
    LabelledSet out{torch::Tensor(), set.labels.index_select(0, rows), set.sample_shape, {}};
    const torch::Tensor r = rows.to(torch::kInt64).contiguous();
    const auto* p = r.data_ptr<std::int64_t>();
    out.files.reserve(static_cast<std::size_t>(r.numel()));
    for (std::int64_t i = 0; i < r.numel(); ++i) out.files.push_back(set.files.at(static_cast<std::size_t>(p[i])));
    return out;
  }
  return {set.inputs.index_select(0, rows), set.labels.index_select(0, rows), set.sample_shape, {}};
}

void carve_validation(LabelledSet& train, LabelledSet& validation, double fraction,
                      std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw std::invalid_argument("validation fraction must lie in [0, 1)");
  }
  const std::int64_t n = train.size();
  const auto n_val = std::min<std::int64_t>(static_cast<std::int64_t>(std::llround(fraction * n)),
                                            n - 1);
  if (n_val <= 0) {  // nothing to carve: an empty validation set of the right shape
    validation = select_rows(train, torch::empty({0}, torch::kInt64));
    return;
  }
  const std::vector<std::int64_t> perm = seeded_permutation(n, seed);
  std::vector<char> is_val(static_cast<std::size_t>(n), 0);
  for (std::int64_t i = 0; i < n_val; ++i) is_val[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])] = 1;
  std::vector<std::int64_t> keep, val;
  for (std::int64_t i = 0; i < n; ++i) (is_val[static_cast<std::size_t>(i)] ? val : keep).push_back(i);
  const auto as_tensor = [](const std::vector<std::int64_t>& v) {
    return torch::tensor(v, torch::kInt64);
  };
  validation = select_rows(train, as_tensor(val));
  train = select_rows(train, as_tensor(keep));
}

}  // namespace scalebench::datasets
