// The two basic-block CIFAR-10 ResNets: the single-batch GPU-vs-CPU benchmark's Keras model and
// DLBench's ResNet-56.
#include "models/registry.hpp"
#include "models/resnet_basic.hpp"

namespace scalebench::models {

ModelEntry cifar10_resnet_entry() {
  ModelEntry e;
  e.name = "cifar10_resnet";
  e.source = "single-batch GPU-vs-CPU benchmark (Keras)";
  e.description = "conv 64 + BN + 3 stages x 10 basic blocks (64/128/256, projection shortcuts) + GAP + Dense 10";
  e.input_shape = {3, 32, 32};
  e.num_classes = 10;
  e.default_batch = 128;
  e.default_optimizer = "adam";
  e.default_lr = 1e-3;
  e.min_image_size = 1;  // 'same' convolutions: ceil(n / 2) never reaches 0
  e.build = [e](const ModelOptions& o) -> std::shared_ptr<Network> {
    // Keras layers with their defaults: Conv2D with bias, BatchNormalization(eps 1e-3, momentum 0.99).
    BasicResNetSpec spec;
    spec.widths = {64, 128, 256};
    spec.blocks_per_stage = 10;
    auto net = make_basic_resnet(spec, image_channels(e, o), image_size(e, o), e.num_classes);
    keras_initialize(*net);
    return net;
  };
  return e;
}

ModelEntry resnet56_entry() {
  ModelEntry e;
  e.name = "resnet56";
  e.source = "DLBench (Shi, Wang, Xu, Chu 2016); He et al. 2016 CIFAR-10 ResNet-56";
  e.description = "conv 16 + BN + 3 stages x 9 basic blocks (16/32/64, option-A shortcuts) + GAP + Dense 10";
  e.input_shape = {3, 32, 32};
  e.num_classes = 10;
  e.default_batch = 128;  // DLBench: a global batch of 128, split across GPUs
  e.default_optimizer = "sgd";
  e.default_lr = 0.1;     // He et al.'s starting rate for CIFAR-10
  e.min_image_size = 1;
  e.build = [e](const ModelOptions& o) -> std::shared_ptr<Network> {
    // The paper's network: no conv bias (BN follows), parameter-free option-A shortcuts (0.85M
    // parameters), He initialisation.
    BasicResNetSpec spec;
    spec.widths = {16, 32, 64};
    spec.blocks_per_stage = 9;
    spec.projection_shortcut = false;
    spec.conv_bias = false;
    spec.bn_epsilon = 1e-5;
    spec.bn_momentum = 0.1;
    auto net = make_basic_resnet(spec, image_channels(e, o), image_size(e, o), e.num_classes);
    torchvision_initialize(*net);
    return net;
  };
  return e;
}

}  // namespace scalebench::models
