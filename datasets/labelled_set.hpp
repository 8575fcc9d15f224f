#pragma once
// The form every reader returns, whatever the file format: labels as class indices, and either all
// samples of one split in one CPU tensor (the small fixed sets, which a node holds once in shared
// memory: shared_splits.hpp), or, for image folders, the list of files that a batch decodes its
// rows from (input_rows.hpp), so that a rank's memory does not grow with the dataset. Images are
// uint8 (a quarter of the memory of float); scaling to [0, 1] and resizing to the model happen per
// batch (preprocess.hpp).
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/data_error.hpp"

namespace scalebench::datasets {

enum class SampleKind { kImage, kTokens };

struct LabelledSet {
  // [N, sample_shape...]: uint8 {C, H, W} pixels for images, int64 {T} token ids for text.
  // Undefined when the rows are decoded from `files` instead.
  torch::Tensor inputs;
  torch::Tensor labels;  // [N] int64 class indices in [0, classes)
  std::vector<std::int64_t> sample_shape;
  // Image folders: row i is the image file files[i], decoded to sample_shape {C, H, W} when a
  // batch needs it. Empty for the sets held in `inputs`.
  std::vector<std::string> files;
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  bool decodes_from_files() const { return !inputs.defined() && labels.defined(); }
};

enum class Split { kTrain, kValidation, kTest };
std::string split_name(Split split);

struct DatasetSplits {
  std::string name;          // registry name, for messages
  SampleKind kind = SampleKind::kImage;
  std::int64_t classes = 0;  // labels lie in [0, classes)
  std::vector<std::string> class_names;  // imagefolder's folder names; empty for the fixed sets
  LabelledSet train, validation, test;
  // What keeps the tensors' memory alive when they are views of memory the node's ranks share
  // (shared_splits.hpp); null when the tensors own their memory.
  std::shared_ptr<const void> shared_memory;
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

// Rows `rows` (int64 indices) of `set` as a new set (for a set decoded from files: those files).
LabelledSet select_rows(const LabelledSet& set, const torch::Tensor& rows);

}  // namespace scalebench::datasets
