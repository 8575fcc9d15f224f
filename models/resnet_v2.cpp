#include "models/resnet_v2.hpp"

namespace scalebench::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {
constexpr double kEpsilon = 1.001e-5;  // Keras ResNets' BatchNorm epsilon
constexpr std::int64_t kExpansion = 4;

// Keras ZeroPadding2D(p) + a 'valid' Conv2D is a convolution with symmetric zero padding p.
CountedConv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                   std::int64_t pad, bool bias) {
  return CountedConv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(pad).bias(bias));
}
}  // namespace

PreactBottleneckImpl::PreactBottleneckImpl(std::int64_t in, std::int64_t filters, std::int64_t stride,
                                           bool conv_shortcut)
    : stride_(stride) {
  preact_bn_ = register_module("preact_bn", keras_batch_norm(in, kEpsilon));
  if (conv_shortcut) shortcut_ = register_module("shortcut", conv(in, kExpansion * filters, 1, stride, 0, true));
  conv1_ = register_module("conv1", conv(in, filters, 1, 1, 0, false));
  bn1_ = register_module("bn1", keras_batch_norm(filters, kEpsilon));
  conv2_ = register_module("conv2", conv(filters, filters, 3, stride, 1, false));
  bn2_ = register_module("bn2", keras_batch_norm(filters, kEpsilon));
  conv3_ = register_module("conv3", conv(filters, kExpansion * filters, 1, 1, 0, true));
}

torch::Tensor PreactBottleneckImpl::forward(const torch::Tensor& x) {
  torch::Tensor preact = torch::relu(preact_bn_->forward(x));
  torch::Tensor shortcut;
  if (shortcut_) {
    shortcut = shortcut_->forward(preact);
  } else if (stride_ > 1) {
    shortcut = F::max_pool2d(x, F::MaxPool2dFuncOptions(1).stride(stride_));  // MaxPooling2D(1, s)
  } else {
    shortcut = x;
  }
  torch::Tensor y = torch::relu(bn1_->forward(conv1_->forward(preact)));
  y = torch::relu(bn2_->forward(conv2_->forward(y)));
  return conv3_->forward(y) + shortcut;
}

ResNetV2BaseImpl::ResNetV2BaseImpl(std::int64_t in_channels, const std::vector<std::int64_t>& blocks_per_stack) {
  conv1_ = register_module("conv1", conv(in_channels, 64, 7, 2, 3, true));
  std::int64_t in = 64;
  for (std::size_t s = 0; s < blocks_per_stack.size(); ++s) {
    const std::int64_t filters = 64LL << s;
    const std::int64_t blocks = blocks_per_stack[s];
    const std::int64_t last_stride = s + 1 < blocks_per_stack.size() ? 2 : 1;
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t stride = b + 1 == blocks ? last_stride : 1;
      stacks_->push_back(PreactBottleneck(in, filters, stride, /*conv_shortcut=*/b == 0));
      in = kExpansion * filters;
    }
  }
  stacks_ = register_module("stacks", stacks_);
  post_bn_ = register_module("post_bn", keras_batch_norm(in, kEpsilon));
}

torch::Tensor ResNetV2BaseImpl::forward(torch::Tensor x) {
  x = conv1_->forward(x);
  // ZeroPadding2D(1) + MaxPooling2D(3, 2): the padding is zeros, not -inf, and the stem has no
  // ReLU before it in the pre-activation network, so the zeros can win: pad explicitly.
  x = F::max_pool2d(F::pad(x, F::PadFuncOptions({1, 1, 1, 1})), F::MaxPool2dFuncOptions(3).stride(2));
  x = stacks_->forward(x);
  return torch::relu(post_bn_->forward(x));
}

std::int64_t ResNetV2BaseImpl::output_size(std::int64_t n) {
  std::int64_t s = window_out(window_out(n, 7, 2, 6), 3, 2, 2);  // stem conv, then the max-pool
  for (int stride = 0; stride < 3; ++stride) s = window_out(s, 3, 2, 2);  // three strided stacks
  return s;
}

}  // namespace scalebench::models
