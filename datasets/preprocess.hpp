#pragma once
// From what a reader holds to what the model takes, per batch, and the up-front check that a
// dataset fits a model at all.
//
// Images (uint8 CHW) are scaled to [0, 1] float (the studies divided by 255; no mean/std
// normalisation), resized bilinearly to the model's H x W when they differ (align_corners=false,
// i.e. half-pixel centres as tf.image.resize, which the Model A/B study used to bring 28x28 to
// 32x32), and a grey channel is copied into 3 when the model takes RGB. A model that takes a flat
// vector ({features}, e.g. fcn_r's 784) gets the image flattened when the sizes agree. Token ids
// pass through (the reader already padded them to the model's sequence length).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/batch_source.hpp"
#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

// What is known about a dataset before its files are read.
struct DatasetInfo {
  std::string name;
  SampleKind kind = SampleKind::kImage;
  std::vector<std::int64_t> sample_shape;  // {C, H, W}; empty: follows the model (imagefolder, imdb)
  std::int64_t classes = 0;                // 0: known only from the files (imagefolder)
  std::string describe() const;
};

// Throws UsageError when `data` cannot feed the model described by `spec` (input_shape,
// input_dtype, num_classes): token data vs an image model or the reverse, a channel conversion
// other than grey -> RGB, a flat input whose size differs, a class count that differs. The message
// names both sides and lists the datasets of `known` that would fit.
void check_fits(const DatasetInfo& data, const SourceSpec& spec, const std::vector<DatasetInfo>& known);
// The reason `data` does not fit, or "" when it does.
std::string why_not_fit(const DatasetInfo& data, const SourceSpec& spec);

// A batch [B, sample...] of a LabelledSet's inputs to [B, model_shape...] of the model's dtype,
// on the CPU. B may be 0.
torch::Tensor to_model_input(const torch::Tensor& raw, const std::vector<std::int64_t>& model_shape,
                             torch::Dtype model_dtype);

}  // namespace scalebench::datasets
