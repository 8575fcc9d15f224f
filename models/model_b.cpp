// Model B of the hardware-benchmark study ("Benchmark Type B"): Keras Xception and Keras
// ResNet152V2 bases side by side on one input, concatenated, under a convolution and a regularised
// Dense layer; everything trainable.
#include "core/errors.hpp"
#include "models/layers.hpp"
#include "models/regularized_dense.hpp"
#include "models/registry.hpp"
#include "models/resnet_v2.hpp"
#include "models/xception.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
constexpr std::int64_t kHeadFilters = 1024;
constexpr std::int64_t kDenseUnits = 1024;
constexpr double kDropout = 0.5;

class ModelB : public Network {
 public:
  ModelB(std::int64_t channels, std::int64_t size, std::int64_t classes)
      : Network({{channels, size, size}}, classes),
        xception_(register_module("xception", XceptionBase(channels))),
        resnet_(register_module("resnet152v2", ResNetV2Base(channels, kResNet152Blocks))),
        conv_(register_module("conv", KerasConv2d(kXceptionOutChannels + kResNetV2OutChannels, kHeadFilters,
                                                  3, KerasConvOptions{}.same()))),
        dropout_(register_module("dropout", nn::Dropout(kDropout))),
        dense_(register_module("dense", RegularizedDense(kHeadFilters, kDenseUnits, kStudyDenseRegularizers))),
        logits_(register_module("logits", CountedLinear(kDenseUnits, classes))) {
    keras_initialize(*this);
  }

  torch::Tensor forward(torch::Tensor x) override {
    // Keras Concatenate() on channels-last joins channels: Xception's first, as in the study.
    x = torch::cat({xception_->forward(x), resnet_->forward(x)}, 1);
    x = global_average_pool(torch::relu(conv_->forward(x)));
    return logits_->forward(dense_->forward(dropout_->forward(x)));
  }

  torch::Tensor regularization_loss() override { return dense_->penalty(); }

 private:
  XceptionBase xception_;
  ResNetV2Base resnet_;
  KerasConv2d conv_;
  nn::Dropout dropout_;
  RegularizedDense dense_;
  CountedLinear logits_;
};

bool bases_fit(std::int64_t n) {
  const std::int64_t x = XceptionBaseImpl::output_size(n);
  return x >= 1 && x == ResNetV2BaseImpl::output_size(n);
}
}  // namespace

ModelEntry model_b_entry() {
  ModelEntry e;
  e.name = "modelB";
  e.source = "hardware-benchmark study, Benchmark Type B (Keras)";
  e.description = "Xception + ResNet152V2 bases side by side, concatenated + conv 1024 + GAP + dropout + "
                  "Dense 1024 (regularised) + Dense 10";
  e.input_shape = {3, 32, 32};
  e.num_classes = 10;
  e.default_batch = 64;
  e.default_optimizer = "adam";
  e.default_lr = 1e-3;
  // Smaller than Keras' 71-pixel minimum for Xception works when the input tensor is passed in,
  // as the study did: any size at which every stage keeps a pixel.
  e.min_image_size = smallest_size([](std::int64_t n) { return XceptionBaseImpl::output_size(n) >= 1; });
  e.check_more = [](const ModelOptions& o) {
    if (!o.image_size || bases_fit(*o.image_size)) return;
    const std::int64_t n = *o.image_size;
    throw UsageError("--image-size " + std::to_string(n) + ": the Xception base gives " +
                     std::to_string(XceptionBaseImpl::output_size(n)) + "x" +
                     std::to_string(XceptionBaseImpl::output_size(n)) + " and the ResNet152V2 base " +
                     std::to_string(ResNetV2BaseImpl::output_size(n)) + "x" +
                     std::to_string(ResNetV2BaseImpl::output_size(n)) +
                     ", which cannot be concatenated (model modelB); allowed: sizes where both agree, "
                     "e.g. 32 or 224 (not 33..38, 65..70, ...: 32k+1 to 32k+6)");
  };
  e.build = [e](const ModelOptions& o) -> std::shared_ptr<Network> {
    return std::make_shared<ModelB>(image_channels(e, o), image_size(e, o), e.num_classes);
  };
  return e;
}

}  // namespace scalebench::models
