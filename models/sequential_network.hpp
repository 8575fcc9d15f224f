#pragma once
// A Network that is one Sequential stack of layers (built from models/layers.hpp, so that its MACs
// are counted like any other network's), initialised as Keras initialises.
#include "models/layers.hpp"
#include "models/network.hpp"

namespace scalebench::models {

class SequentialNetwork : public Network {
 public:
  SequentialNetwork(torch::nn::Sequential layers, InputSpec input, std::int64_t outputs,
                    LossKind loss = LossKind::kCategoricalCrossentropy)
      : Network(std::move(input), outputs, loss), layers_(register_module("layers", std::move(layers))) {
    keras_initialize(*this);
  }
  torch::Tensor forward(torch::Tensor inputs) override { return layers_->forward(inputs); }

 private:
  torch::nn::Sequential layers_;
};

}  // namespace scalebench::models
