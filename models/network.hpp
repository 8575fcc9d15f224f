#pragma once
// A reference model as scalebench trains it: a torch module with a forward from inputs to logits,
// and the analytic forward cost of the layers actually built.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace scalebench::models {

class Network : public torch::nn::Module {
 public:
  // Inputs of shape [batch, input_shape...] to logits [batch, classes].
  virtual torch::Tensor forward(torch::Tensor inputs) = 0;
  // Forward multiply-accumulates for one sample (1 MAC = 2 FLOPs).
  virtual std::int64_t macs_per_sample() = 0;
};

// Keras' default initialisation (glorot_uniform kernels, zero biases) for the Conv and Linear
// layers of `module`, so that training starts where the studies' Keras models started.
void keras_initialize(torch::nn::Module& module);

// Parameters as Keras' model.summary() counts "Total params": weights plus BatchNorm running
// statistics (buffers; num_batches_tracked is torch's own bookkeeping and not counted).
std::int64_t count_total_params(torch::nn::Module& module);
std::int64_t count_trainable_params(torch::nn::Module& module);

}  // namespace scalebench::models
