#pragma once
// The VGG convolutional base (Simonyan & Zisserman; Keras VGG16/VGG19(include_top=False), the same
// layers as torchvision's `features`): stages of 3x3 'same' convolutions with bias and ReLU, each
// stage closed by a 2x2 max-pool of stride 2 (floor). Shared by Model A (VGG19) and vgg16.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace scalebench::models {

// Convolutions per stage; the stages have 64, 128, 256, 512 and 512 filters.
inline const std::vector<std::int64_t> kVgg16Stages{2, 2, 3, 3, 3};
inline const std::vector<std::int64_t> kVgg19Stages{2, 2, 4, 4, 4};
constexpr std::int64_t kVggOutChannels = 512;

class VggBaseImpl : public torch::nn::Module {
 public:
  VggBaseImpl(std::int64_t in_channels, const std::vector<std::int64_t>& convs_per_stage);
  torch::Tensor forward(const torch::Tensor& x) { return features_->forward(x); }
  // Spatial size of the output for an n x n input: five 2x2 pools, each flooring (0: collapses).
  static std::int64_t output_size(std::int64_t n) { return n >> 5; }

 private:
  torch::nn::Sequential features_;
};
TORCH_MODULE(VggBase);

}  // namespace scalebench::models
