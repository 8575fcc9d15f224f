#include "datasets/preprocess.hpp"

#include <torch/torch.h>

#include <functional>
#include <numeric>

#include "core/errors.hpp"

namespace scalebench::datasets {
namespace {

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

std::string model_text(const SourceSpec& spec) {
  if (spec.input_dtype == torch::kInt64) {
    return "token sequences of " + shape_text(spec.input_shape) + " ids, " +
           std::to_string(spec.num_classes) + " classes";
  }
  const char* what = spec.input_shape.size() == 3 ? "images " : "vectors of ";
  return what + shape_text(spec.input_shape) + ", " + std::to_string(spec.num_classes) + " classes";
}

std::int64_t product(const std::vector<std::int64_t>& s) {
  return std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>());
}

}  // namespace

std::string DatasetInfo::describe() const {
  std::string shape = kind == SampleKind::kTokens ? "token sequences"
                      : sample_shape.empty()      ? "images of any size"
                                                  : "images " + shape_text(sample_shape);
  return name + " (" + shape + ", " +
         (classes > 0 ? std::to_string(classes) + " classes" : "classes from its folders") + ")";
}

std::string why_not_fit(const DatasetInfo& data, const SourceSpec& spec) {
  const bool token_model = spec.input_dtype == torch::kInt64;
  if (data.kind == SampleKind::kTokens) {
    if (!token_model || spec.input_shape.size() != 1) return "the model does not take token ids";
    if (spec.vocabulary < 3) {  // ids 0, 1, 2 are padding, start and out-of-vocabulary (imdb.hpp)
      return "a vocabulary of " + std::to_string(spec.vocabulary) +
             " leaves no room for the reserved ids 0 (pad), 1 (start), 2 (out of vocabulary)";
    }
  } else {
    if (token_model) return "the model takes token ids, not images";
    if (spec.input_shape.size() == 3) {
      if (data.sample_shape.empty() && spec.input_shape[0] != 1 && spec.input_shape[0] != 3) {
        return "images decode to 1 (grey) or 3 (RGB) channels, not " + std::to_string(spec.input_shape[0]);
      }
      if (!data.sample_shape.empty()) {
        const std::int64_t have = data.sample_shape[0], want = spec.input_shape[0];
        if (have != want && !(have == 1 && want == 3)) {
          return std::to_string(have) + "-channel images cannot become " + std::to_string(want) +
                 "-channel ones (only grey -> RGB is converted)";
        }
      }
    } else if (spec.input_shape.size() == 1) {
      if (data.sample_shape.empty() || product(data.sample_shape) != spec.input_shape[0]) {
        return "the model takes flat vectors of " + std::to_string(spec.input_shape[0]) +
               " values (images are flattened only when their size matches)";
      }
    } else {
      return "the model's input shape " + shape_text(spec.input_shape) + " is neither an image nor a vector";
    }
  }
  if (data.classes > 0 && data.classes != spec.num_classes) {
    return "it has " + std::to_string(data.classes) + " classes, the model predicts " +
           std::to_string(spec.num_classes);
  }
  return "";
}

void check_fits(const DatasetInfo& data, const SourceSpec& spec, const std::vector<DatasetInfo>& known) {
  const std::string why = why_not_fit(data, spec);
  if (why.empty()) return;
  std::string fitting;
  for (const auto& k : known) {
    if (why_not_fit(k, spec).empty()) fitting += (fitting.empty() ? "" : ", ") + k.describe();
  }
  throw UsageError("--dataset " + data.describe() + " does not fit the model (" + model_text(spec) +
                   "): " + why + "; datasets that fit: " + (fitting.empty() ? "synthetic only" : fitting + ", synthetic"));
}

torch::Tensor to_model_input(const torch::Tensor& raw, const std::vector<std::int64_t>& model_shape,
                             torch::Dtype model_dtype) {
  const std::int64_t b = raw.size(0);
  std::vector<std::int64_t> out_shape{b};
  out_shape.insert(out_shape.end(), model_shape.begin(), model_shape.end());
  if (model_dtype == torch::kInt64) return raw.to(torch::kInt64).reshape(out_shape);
  torch::Tensor x = raw.to(torch::kFloat32);
  if (raw.scalar_type() == torch::kUInt8) x = x.div_(255.0);
  if (model_shape.size() == 1) return x.reshape(out_shape);
  if (b == 0) return torch::empty(out_shape, torch::kFloat32);  // interpolate refuses empty batches
  const std::int64_t h = model_shape[1], w = model_shape[2];
  if (x.size(2) != h || x.size(3) != w) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<std::int64_t>{h, w})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  if (x.size(1) == 1 && model_shape[0] == 3) x = x.expand({b, 3, h, w}).contiguous();
  return x;
}

}  // namespace scalebench::datasets
