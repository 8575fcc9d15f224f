#include "models/regularized_dense.hpp"

namespace scalebench::models {

RegularizedDenseImpl::RegularizedDenseImpl(std::int64_t in, std::int64_t out, DenseRegularizers regularizers)
    : linear_(register_module("linear", CountedLinear(in, out))), reg_(regularizers) {}

torch::Tensor RegularizedDenseImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::relu(linear_->forward(x));
  if (reg_.activity_l2 != 0.0) last_output_ = y;
  return y;
}

torch::Tensor RegularizedDenseImpl::penalty() {
  const torch::Tensor& w = linear_->weight;
  const torch::Tensor& b = linear_->bias;
  torch::Tensor p = reg_.kernel_l1 * w.abs().sum() + reg_.kernel_l2 * w.square().sum() +
                    reg_.bias_l2 * b.square().sum();
  if (last_output_.defined()) {
    p = p + reg_.activity_l2 * last_output_.square().sum() / static_cast<double>(last_output_.size(0));
    last_output_ = torch::Tensor();
  }
  return p;
}

}  // namespace scalebench::models
