#pragma once
// The in-memory form every reader returns, whatever the file format: all samples of one split in
// one CPU tensor, labels as class indices. Readers keep images as uint8 (a quarter of the memory of
// float); scaling to [0, 1] and resizing to the model happen per batch (preprocess.hpp).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/data_error.hpp"

namespace scalebench::datasets {

enum class SampleKind { kImage, kTokens };

struct LabelledSet {
  // [N, sample_shape...]: uint8 {C, H, W} pixels for images, int64 {T} token ids for text.
  torch::Tensor inputs;
  torch::Tensor labels;  // [N] int64 class indices in [0, classes)
  std::vector<std::int64_t> sample_shape;
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

enum class Split { kTrain, kValidation, kTest };
std::string split_name(Split split);

struct DatasetSplits {
  std::string name;          // registry name, for messages
  SampleKind kind = SampleKind::kImage;
  std::int64_t classes = 0;  // labels lie in [0, classes)
  std::vector<std::string> class_names;  // imagefolder's folder names; empty for the fixed sets
  LabelledSet train, validation, test;
  const LabelledSet& split(Split s) const;
};

// What a reader returns before validation is carved out: the file's own train and test sets.
struct TrainTest {
  LabelledSet train, test;
};

// Moves round(fraction * n) samples of `train` into a validation set, chosen by a permutation
// seeded with `seed` (the same on every rank, so every rank agrees); both keep their samples in
// file order. fraction must lie in [0, 1); at least one training sample is always kept.
void carve_validation(LabelledSet& train, LabelledSet& validation, double fraction,
                      std::uint64_t seed);

// Rows `rows` (int64 indices) of `set` as a new set.
LabelledSet select_rows(const LabelledSet& set, const torch::Tensor& rows);

}  // namespace scalebench::datasets
