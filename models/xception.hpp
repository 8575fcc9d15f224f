#pragma once
// Keras Xception(include_top=False) (Chollet 2017; keras/applications/xception.py), layer for layer:
// 'valid' stem convolutions, depthwise-separable convolutions without bias, BatchNorm with Keras'
// defaults (epsilon 1e-3), and 1x1 stride-2 convolution shortcuts around 'same' 3x3 stride-2
// max-pools in the entry and exit flows. Output: 2048 channels after ReLU.
#include <torch/torch.h>

#include "models/layers.hpp"

namespace scalebench::models {

constexpr std::int64_t kXceptionOutChannels = 2048;

// relu? -> sepconv(in->mid) -> BN -> relu -> sepconv(mid->out) -> BN -> maxpool 3/2 'same',
// plus a 1x1 stride-2 conv + BN shortcut: blocks 2, 3, 4 (entry flow) and 13 (exit flow).
class XceptionDownBlockImpl : public torch::nn::Module {
 public:
  XceptionDownBlockImpl(std::int64_t in, std::int64_t mid, std::int64_t out, bool relu_first);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool relu_first_;
  KerasConv2d shortcut_conv_{nullptr};
  torch::nn::BatchNorm2d shortcut_bn_{nullptr};
  SeparableConv2d sep1_{nullptr}, sep2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
};
TORCH_MODULE(XceptionDownBlock);

// Middle flow: 3x (relu -> sepconv 728 -> BN) plus the identity.
class XceptionMiddleBlockImpl : public torch::nn::Module {
 public:
  explicit XceptionMiddleBlockImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList seps_, bns_;
};
TORCH_MODULE(XceptionMiddleBlock);

class XceptionBaseImpl : public torch::nn::Module {
 public:
  explicit XceptionBaseImpl(std::int64_t in_channels);
  torch::Tensor forward(torch::Tensor x);
  // Spatial size of the output for an n x n input (0: a stage would be empty).
  static std::int64_t output_size(std::int64_t n);

 private:
  KerasConv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential entry_, middle_;
  XceptionDownBlock exit_block_{nullptr};
  SeparableConv2d sep1_{nullptr}, sep2_{nullptr};
  torch::nn::BatchNorm2d bn3_{nullptr}, bn4_{nullptr};
};
TORCH_MODULE(XceptionBase);

}  // namespace scalebench::models
