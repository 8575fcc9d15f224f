// The VGG base, and vgg16 (torchvision's, the model of Horovod's published VGG-16 scaling results).
#include "models/vgg.hpp"

#include "models/layers.hpp"
#include "models/registry.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

VggBaseImpl::VggBaseImpl(std::int64_t in_channels, const std::vector<std::int64_t>& convs_per_stage) {
  const std::int64_t widths[] = {64, 128, 256, 512, 512};
  std::int64_t in = in_channels;
  for (std::size_t stage = 0; stage < convs_per_stage.size(); ++stage) {
    for (std::int64_t i = 0; i < convs_per_stage[stage]; ++i) {
      // 'same' at stride 1 with a 3x3 kernel: one pixel each side.
      features_->push_back(CountedConv2d(nn::Conv2dOptions(in, widths[stage], 3).padding(1)));
      features_->push_back(nn::ReLU());
      in = widths[stage];
    }
    features_->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
  }
  features_ = register_module("features", features_);
}

namespace {
// torchvision's VGG pools the base's output to 7x7 (adaptive average) before the classifier, so
// the classifier, and the parameter count, are those of 224x224 at any input size.
constexpr std::int64_t kClassifierGrid = 7;
constexpr std::int64_t kImageNetClasses = 1000;
constexpr double kDropout = 0.5;

class Vgg : public Network {
 public:
  Vgg(std::int64_t channels, std::int64_t size, const std::vector<std::int64_t>& stages, std::int64_t classes)
      : Network({{channels, size, size}}, classes),
        base_(register_module("base", VggBase(channels, stages))),
        classifier_(register_module(
            "classifier",
            nn::Sequential(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(kClassifierGrid)), nn::Flatten(),
                           CountedLinear(kVggOutChannels * kClassifierGrid * kClassifierGrid, 4096),
                           nn::ReLU(), nn::Dropout(kDropout), CountedLinear(4096, 4096), nn::ReLU(),
                           nn::Dropout(kDropout), CountedLinear(4096, classes)))) {
    torchvision_initialize(*this);
    // torchvision: Linear layers N(0, 0.01), zero bias.
    torch::NoGradGuard no_grad;
    for (auto& m : classifier_->modules(false)) {
      if (auto* linear = m->as<nn::Linear>()) {
        nn::init::normal_(linear->weight, 0.0, 0.01);
        nn::init::zeros_(linear->bias);
      }
    }
  }
  torch::Tensor forward(torch::Tensor x) override { return classifier_->forward(base_->forward(x)); }

 private:
  VggBase base_;
  nn::Sequential classifier_;
};
}  // namespace

ModelEntry vgg16_entry() {
  ModelEntry e;
  e.name = "vgg16";
  e.source = "torchvision vgg16 (Horovod's 512-GPU VGG-16 results; = Keras VGG16 in parameters)";
  e.description = "VGG-16: 13 conv 3x3 + 5 max-pool + Dense 4096/4096/1000, dropout 0.5";
  e.input_shape = {3, 224, 224};
  e.num_classes = kImageNetClasses;
  e.default_batch = 32;       // torchvision's reference recipe: 256 over 8 GPUs
  e.default_optimizer = "sgd";
  e.default_lr = 0.01;        // torchvision's reference recipe for VGG
  e.default_momentum = 0.9;
  e.min_image_size = smallest_size([](std::int64_t n) { return VggBaseImpl::output_size(n) >= 1; });
  e.build = [e](const ModelOptions& o) -> std::shared_ptr<Network> {
    return std::make_shared<Vgg>(image_channels(e, o), image_size(e, o), kVgg16Stages, kImageNetClasses);
  };
  return e;
}

}  // namespace scalebench::models
