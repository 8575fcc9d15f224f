#pragma once
// Counts forward MACs of a Sequential from the layers it holds, by pushing one sample through it
// layer by layer and applying each layer's cost formula to the shapes seen:
//   Conv (any dims): outputs x (in_channels / groups) x kernel volume
//   Linear:          outputs x in_features
// Activations, pooling and dropout count as zero MACs, the usual convention.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace scalebench::models {

std::int64_t count_sequential_macs(torch::nn::Sequential& layers,
                                   const std::vector<std::int64_t>& input_shape);

}  // namespace scalebench::models
