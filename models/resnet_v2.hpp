#pragma once
// Keras ResNet50V2/101V2/152V2(include_top=False) (He et al. 2016, pre-activation;
// keras/applications/resnet_v2.py + resnet.py's block2/stack2), layer for layer:
//   ZeroPad 3 -> Conv 64 7x7/2 (bias) -> ZeroPad 1 -> MaxPool 3/2 -> stacks -> BN -> ReLU
// Each stack: block1 with a 1x1 conv shortcut (from the pre-activation), identity blocks, and a
// last block with the stride (its shortcut a 1x1 stride-2 max-pool of the raw input); the last
// stack has no stride. BatchNorm epsilon 1.001e-5; the bottleneck convs before a BN have no bias,
// the shortcut and block-output 1x1 convs have one. Output: 2048 channels after ReLU.
#include <torch/torch.h>

#include <vector>

#include "models/layers.hpp"

namespace scalebench::models {

inline const std::vector<std::int64_t> kResNet50Blocks{3, 4, 6, 3};
inline const std::vector<std::int64_t> kResNet101Blocks{3, 4, 23, 3};
inline const std::vector<std::int64_t> kResNet152Blocks{3, 8, 36, 3};
constexpr std::int64_t kResNetV2OutChannels = 2048;

// Keras block2: BN -> ReLU = preact; shortcut = conv1x1(preact) or maxpool1x1/stride(x) or x;
// preact -> 1x1 -> BN -> ReLU -> pad 1 -> 3x3/stride -> BN -> ReLU -> 1x1 (bias); + shortcut.
class PreactBottleneckImpl : public torch::nn::Module {
 public:
  PreactBottleneckImpl(std::int64_t in, std::int64_t filters, std::int64_t stride, bool conv_shortcut);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::int64_t stride_;
  torch::nn::BatchNorm2d preact_bn_{nullptr}, bn1_{nullptr}, bn2_{nullptr};
  CountedConv2d shortcut_{nullptr}, conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
};
TORCH_MODULE(PreactBottleneck);

class ResNetV2BaseImpl : public torch::nn::Module {
 public:
  ResNetV2BaseImpl(std::int64_t in_channels, const std::vector<std::int64_t>& blocks_per_stack);
  torch::Tensor forward(torch::Tensor x);
  // Spatial size of the output for an n x n input.
  static std::int64_t output_size(std::int64_t n);

 private:
  CountedConv2d conv1_{nullptr};
  torch::nn::Sequential stacks_;
  torch::nn::BatchNorm2d post_bn_{nullptr};
};
TORCH_MODULE(ResNetV2Base);

}  // namespace scalebench::models
