// Model A of the hardware-benchmark study ("Benchmark Type A"): a frozen Keras VGG19 convolutional
// base under a trainable head of four convolutions and three regularised Dense layers.
#include "models/layers.hpp"
#include "models/regularized_dense.hpp"
#include "models/registry.hpp"
#include "models/vgg.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
constexpr std::int64_t kHeadConvs = 4;
constexpr std::int64_t kHeadFilters = 128;
constexpr double kDropout = 0.5;

// 4x Conv2D(128, 3x3, 'same', ReLU) on the base's 512 channels.
nn::Sequential head_convolutions() {
  nn::Sequential convs;
  std::int64_t in = kVggOutChannels;
  for (std::int64_t i = 0; i < kHeadConvs; ++i) {
    convs->push_back(KerasConv2d(in, kHeadFilters, 3, KerasConvOptions{}.same()));
    convs->push_back(nn::ReLU());
    in = kHeadFilters;
  }
  return convs;
}

class ModelA : public Network {
 public:
  ModelA(std::int64_t channels, std::int64_t size, std::int64_t classes, bool trainable_base)
      : Network({{channels, size, size}}, classes),
        base_(register_module("base", VggBase(channels, kVgg19Stages))),
        head_convs_(register_module("head_convs", head_convolutions())),
        dense1_(register_module("dense1", RegularizedDense(kHeadFilters, 4096, kStudyDenseRegularizers))),
        dense2_(register_module("dense2", RegularizedDense(4096, 2048, kStudyDenseRegularizers))),
        dense3_(register_module("dense3", RegularizedDense(2048, kHeadFilters, kStudyDenseRegularizers))),
        dropout1_(register_module("dropout1", nn::Dropout(kDropout))),
        dropout2_(register_module("dropout2", nn::Dropout(kDropout))),
        logits_(register_module("logits", CountedLinear(kHeadFilters, classes))) {
    keras_initialize(*this);
    // The study: base_model.trainable = False. No gradient, no allreduce, no optimiser state.
    set_trainable(*base_, trainable_base);
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = global_average_pool(head_convs_->forward(base_->forward(x)));
    x = dropout1_->forward(dense1_->forward(x));
    x = dropout2_->forward(dense2_->forward(x));
    return logits_->forward(dense3_->forward(x));  // Dense 10, softmax in the loss
  }

  torch::Tensor regularization_loss() override {
    return dense1_->penalty() + dense2_->penalty() + dense3_->penalty();
  }

 private:
  VggBase base_;
  nn::Sequential head_convs_;
  RegularizedDense dense1_, dense2_, dense3_;
  nn::Dropout dropout1_, dropout2_;
  CountedLinear logits_;
};
}  // namespace

ModelEntry model_a_entry() {
  ModelEntry e;
  e.name = "modelA";
  e.source = "hardware-benchmark study, Benchmark Type A (Keras)";
  e.description = "VGG19 base (frozen) + 4 conv 128 + GAP + Dense 4096/2048/128 (L1L2/L2 regularised) + Dense 10";
  e.input_shape = {3, 32, 32};  // MNIST/Fashion-MNIST resized to 32x32x3 in the study
  e.num_classes = 10;
  e.default_batch = 64;
  e.default_optimizer = "adam";
  e.default_lr = 1e-3;
  e.min_image_size = smallest_size([](std::int64_t n) { return VggBaseImpl::output_size(n) >= 1; });
  e.has_frozen_base = true;
  e.build = [e](const ModelOptions& o) -> std::shared_ptr<Network> {
    return std::make_shared<ModelA>(image_channels(e, o), image_size(e, o), e.num_classes, o.trainable_base);
  };
  return e;
}

}  // namespace scalebench::models
