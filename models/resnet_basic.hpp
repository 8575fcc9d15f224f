#pragma once
// Basic-block residual networks for 32x32 images (He et al. 2016, CIFAR-10 section), shared by
// cifar10_resnet (the single-batch GPU-vs-CPU benchmark's Keras model) and DLBench's resnet56:
//   conv 3x3 -> BN -> ReLU -> stages of basic blocks -> global average pool -> Dense classes
// A basic block is conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, -> ReLU.
// The first block of every stage but the first has stride 2 and changes the width; its shortcut
// is either a 1x1 stride-2 conv + BN (projection) or the paper's option A for CIFAR: the input
// subsampled by 2 and zero-padded in channels (no parameters). 3x3 convolutions pad as Keras
// 'same' (at stride 2 on an even size: the extra row/column at the bottom/right).
#include <torch/torch.h>

#include <vector>

#include "models/network.hpp"

namespace scalebench::models {

struct BasicResNetSpec {
  std::vector<std::int64_t> widths;       // filters per stage; the stem has widths[0]
  std::int64_t blocks_per_stage = 0;
  bool projection_shortcut = true;        // false: option A (zero-padded identity)
  bool conv_bias = true;                  // Keras Conv2D's default use_bias=True
  double bn_epsilon = 1e-3;               // Keras 1e-3, torch 1e-5
  double bn_momentum = 0.01;              // torch convention: Keras' 0.99 is 0.01, torch's own 0.1
};

// Builds the network for an input of `channels` x size x size and `classes` outputs.
std::shared_ptr<Network> make_basic_resnet(const BasicResNetSpec& spec, std::int64_t channels,
                                           std::int64_t size, std::int64_t classes);

}  // namespace scalebench::models
