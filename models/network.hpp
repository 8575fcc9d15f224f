#pragma once
// A reference model as scalebench trains it: a torch module with a forward from inputs to logits,
// the loss its study minimised (with any regularisation penalties), what its inputs look like,
// and the analytic forward cost of the layers actually built.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace scalebench::models {

// The loss of the study, on logits: categorical cross-entropy over a softmax output, or binary
// cross-entropy over a one-unit sigmoid output (computed from logits, as Keras does internally).
enum class LossKind { kCategoricalCrossentropy, kBinaryCrossentropy };

struct InputSpec {
  std::vector<std::int64_t> shape;       // per sample: {C, H, W}, {features} or {tokens}
  torch::Dtype dtype = torch::kFloat32;  // kInt64 for token ids
  std::int64_t vocabulary = 0;           // token ids lie in [0, vocabulary); 0 for float inputs
};

class Network : public torch::nn::Module {
 public:
  Network(InputSpec input, std::int64_t outputs, LossKind loss = LossKind::kCategoricalCrossentropy)
      : input_(std::move(input)), outputs_(outputs), loss_kind_(loss) {}

  // Inputs of shape [batch, input.shape...] to logits [batch, outputs].
  virtual torch::Tensor forward(torch::Tensor inputs) = 0;
  // Forward multiply-accumulates for one sample (1 MAC = 2 FLOPs), as the counted layers of the
  // network report them during one forward of a zero sample (mac_counter.hpp).
  virtual std::int64_t macs_per_sample();
  // Penalties the study added to the loss (Keras kernel/bias/activity regularisers), from the
  // weights and the activations of the last training forward; undefined when the model has none.
  virtual torch::Tensor regularization_loss() { return {}; }

  // The study's loss of `logits` against class indices `targets` (int64, [batch]).
  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& targets) const;

  const InputSpec& input() const { return input_; }
  std::int64_t outputs() const { return outputs_; }
  LossKind loss_kind() const { return loss_kind_; }
  // Classes the targets are drawn from: the outputs, or 2 for a one-unit sigmoid output.
  std::int64_t label_classes() const {
    return loss_kind_ == LossKind::kBinaryCrossentropy ? 2 : outputs_;
  }

 private:
  InputSpec input_;
  std::int64_t outputs_;
  LossKind loss_kind_;
};

// A module (a convolutional base, say) seen as a Network, so that its counts and MACs can be
// measured alone; its "outputs" are whatever its forward returns.
template <typename Holder>
class ModuleNetwork : public Network {
 public:
  ModuleNetwork(Holder module, InputSpec input, std::int64_t outputs)
      : Network(std::move(input), outputs), module_(register_module("module", std::move(module))) {}
  torch::Tensor forward(torch::Tensor inputs) override { return module_->forward(inputs); }
  Holder& module() { return module_; }

 private:
  Holder module_;
};

// Keras' default initialisation (glorot_uniform kernels, zero biases) for the Conv and Linear
// layers of `module`, so that training starts where the studies' Keras models started.
void keras_initialize(torch::nn::Module& module);
// torchvision's initialisation for models that come from it: Kaiming-normal (fan_out, ReLU) conv
// kernels, zero conv biases, BatchNorm scale 1 and shift 0; Linear layers keep LibTorch's default.
void torchvision_initialize(torch::nn::Module& module);

// Parameters as Keras' model.summary() counts "Total params": weights plus BatchNorm running
// statistics (buffers; num_batches_tracked is torch's own bookkeeping and not counted).
std::int64_t count_total_params(torch::nn::Module& module);
std::int64_t count_trainable_params(torch::nn::Module& module);

// requires_grad on every parameter of `module` (a frozen base: no gradient, no allreduce, no update).
void set_trainable(torch::nn::Module& module, bool trainable);
// The parameters that train, in registration order: what the optimiser and the Reducer get.
std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& module);

}  // namespace scalebench::models
