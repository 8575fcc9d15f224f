#pragma once
// A Network that is one Sequential stack of layers: forward runs the stack, MACs are counted from it.
#include "models/mac_counter.hpp"
#include "models/network.hpp"

namespace scalebench::models {

class SequentialNetwork : public Network {
 public:
  SequentialNetwork(torch::nn::Sequential layers, std::vector<std::int64_t> input_shape)
      : layers_(register_module("layers", std::move(layers))), input_shape_(std::move(input_shape)) {
    keras_initialize(*this);
  }
  torch::Tensor forward(torch::Tensor inputs) override { return layers_->forward(inputs); }
  std::int64_t macs_per_sample() override { return count_sequential_macs(layers_, input_shape_); }

 private:
  torch::nn::Sequential layers_;
  std::vector<std::int64_t> input_shape_;
};

}  // namespace scalebench::models
