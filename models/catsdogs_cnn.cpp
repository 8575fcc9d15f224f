// The cats-vs-dogs CNN of the notebook benchmark of seven devices (the TensorFlow "cats vs dogs"
// tutorial's model): three (Conv 3x3 'valid' + ReLU, MaxPool 2) stages, Dense 512, Dense 1 sigmoid.
#include "models/registry.hpp"
#include "models/sequential_network.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
// 150 -> 148 -> 74 -> 72 -> 36 -> 34 -> 17.
std::int64_t flat_size(std::int64_t n) {
  for (int stage = 0; stage < 3; ++stage) n = window_out(window_out(n, 3), 2, 2);
  return n;
}

std::shared_ptr<Network> make_catsdogs_cnn(std::int64_t channels, std::int64_t size) {
  const std::int64_t s = flat_size(size);
  nn::Sequential layers(
      CountedConv2d(nn::Conv2dOptions(channels, 16, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
      CountedConv2d(nn::Conv2dOptions(16, 32, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
      CountedConv2d(nn::Conv2dOptions(32, 64, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
      nn::Flatten(), CountedLinear(64 * s * s, 512), nn::ReLU(), CountedLinear(512, 1));
  return std::make_shared<SequentialNetwork>(layers, InputSpec{{channels, size, size}}, 1,
                                             LossKind::kBinaryCrossentropy);
}
}  // namespace

ModelEntry catsdogs_cnn_entry() {
  ModelEntry e;
  e.name = "catsdogs_cnn";
  e.source = "cats-vs-dogs notebook benchmark of seven devices (Keras)";
  e.description = "3x (conv 3x3 16/32/64 + max-pool) + Dense 512 + Dense 1 sigmoid";
  e.input_shape = {3, 150, 150};
  e.num_classes = 1;
  e.loss = "binary_crossentropy";
  e.default_batch = 20;
  e.default_optimizer = "rmsprop";
  e.default_lr = 1e-3;
  e.min_image_size = smallest_size([](std::int64_t n) { return flat_size(n) >= 1; });
  e.build = [e](const ModelOptions& o) { return make_catsdogs_cnn(image_channels(e, o), image_size(e, o)); };
  return e;
}

}  // namespace scalebench::models
