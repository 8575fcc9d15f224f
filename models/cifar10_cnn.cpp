// The Keras CIFAR-10 CNN example (keras/examples/cifar10_cnn.py), as the Python-vs-R study ran it.
#include "models/registry.hpp"
#include "models/sequential_network.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
// Keras 'same' padding for a 3x3 kernel at stride 1 is one pixel each side; 'valid' is none.
constexpr int kSamePad3x3 = 1;

// Spatial size after two (same, valid, pool 2) stages: valid trims 2, pooling floors.
std::int64_t flat_size(std::int64_t size) {
  return window_out(window_out(window_out(window_out(size, 3), 2, 2), 3), 2, 2);
}

std::shared_ptr<Network> make_cifar10_cnn(std::int64_t channels, std::int64_t size, std::int64_t classes) {
  const std::int64_t s2 = flat_size(size);
  nn::Sequential layers(
      CountedConv2d(nn::Conv2dOptions(channels, 32, 3).padding(kSamePad3x3)), nn::ReLU(),
      CountedConv2d(nn::Conv2dOptions(32, 32, 3)), nn::ReLU(),
      nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Dropout(0.25),
      CountedConv2d(nn::Conv2dOptions(32, 64, 3).padding(kSamePad3x3)), nn::ReLU(),
      CountedConv2d(nn::Conv2dOptions(64, 64, 3)), nn::ReLU(),
      nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Dropout(0.25),
      nn::Flatten(),
      CountedLinear(64 * s2 * s2, 512), nn::ReLU(), nn::Dropout(0.5),
      CountedLinear(512, classes));
  return std::make_shared<SequentialNetwork>(layers, InputSpec{{channels, size, size}}, classes);
}
}  // namespace

ModelEntry cifar10_cnn_entry() {
  ModelEntry e;
  e.name = "cifar10_cnn";
  e.source = "Keras example cifar10_cnn.py (Python-vs-R study)";
  e.description = "4 conv (32,32,64,64) + 2 max-pool + dropout + Dense 512 + Dense 10";
  e.input_shape = {3, 32, 32};
  e.num_classes = 10;
  e.default_batch = 32;
  e.default_optimizer = "rmsprop";
  e.default_lr = 1e-4;
  e.default_lr_decay = 1e-6;
  e.min_image_size = smallest_size([](std::int64_t n) { return flat_size(n) >= 1; });
  e.build = [e](const ModelOptions& o) { return make_cifar10_cnn(image_channels(e, o), image_size(e, o), e.num_classes); };
  return e;
}

}  // namespace scalebench::models
