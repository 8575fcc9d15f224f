#pragma once
// A Keras Dense layer with ReLU and the regularisers of the hardware-benchmark study's hidden Dense
// layers (Models A and B): kernel_regularizer=L1L2(1e-5, 1e-4), bias_regularizer=L2(1e-4),
// activity_regularizer=L2(1e-5). Keras adds each penalty to the loss it minimises:
//   L1L2(l1, l2)(W) = l1 * sum|W| + l2 * sum W^2      (no factor 1/2)
//   activity:        l2 * sum(y^2) / batch size       (tf.keras divides the activity penalty by the
//                                                      batch size of the layer's output)
// where y is the layer's output after its activation.
#include <torch/torch.h>

#include "models/layers.hpp"

namespace scalebench::models {

struct DenseRegularizers {
  double kernel_l1 = 0.0;
  double kernel_l2 = 0.0;
  double bias_l2 = 0.0;
  double activity_l2 = 0.0;
};

// The study's values.
constexpr DenseRegularizers kStudyDenseRegularizers{1e-5, 1e-4, 1e-4, 1e-5};

class RegularizedDenseImpl : public torch::nn::Module {
 public:
  RegularizedDenseImpl(std::int64_t in, std::int64_t out, DenseRegularizers regularizers);
  // relu(x W^T + b); keeps the output for the activity penalty.
  torch::Tensor forward(const torch::Tensor& x);
  // The layer's penalty: weights always, activity of the last forward once (then forgotten, so a
  // stale activation is never penalised twice).
  torch::Tensor penalty();

 private:
  CountedLinear linear_{nullptr};
  DenseRegularizers reg_;
  torch::Tensor last_output_;
};
TORCH_MODULE(RegularizedDense);

}  // namespace scalebench::models
