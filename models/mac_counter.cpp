#include "models/mac_counter.hpp"

namespace scalebench::models {
namespace {
// Conv modules store their options as detail::ConvNdOptions<D>; any of them has these accessors.
template <typename ConvOptions>
std::int64_t conv_macs(const ConvOptions& opt, const torch::Tensor& out) {
  std::int64_t kernel = 1;
  for (auto k : *opt.kernel_size()) kernel *= k;
  return out.numel() * (opt.in_channels() / opt.groups()) * kernel;
}

std::int64_t layer_macs(const std::shared_ptr<torch::nn::Module>& layer, const torch::Tensor& out) {
  if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(layer)) {
    return conv_macs(conv->options, out);
  }
  if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv1dImpl>(layer)) {
    return conv_macs(conv->options, out);
  }
  if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer)) {
    return out.numel() * linear->options.in_features();
  }
  return 0;
}
}  // namespace

std::int64_t count_sequential_macs(torch::nn::Sequential& layers,
                                   const std::vector<std::int64_t>& input_shape) {
  torch::NoGradGuard no_grad;
  const bool was_training = layers->is_training();
  layers->eval();
  std::vector<std::int64_t> shape{1};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  const auto param = layers->parameters();
  auto options = torch::TensorOptions().dtype(torch::kFloat32);
  if (!param.empty()) options = options.device(param.front().device());
  torch::Tensor x = torch::zeros(shape, options);
  std::int64_t macs = 0;
  for (auto& layer : *layers) {
    x = layer.forward(x);
    macs += layer_macs(layer.ptr(), x);
  }
  layers->train(was_training);
  return macs;
}

}  // namespace scalebench::models
