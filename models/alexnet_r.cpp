// DLBench's AlexNet-R: cuda-convnet's CIFAR-10 "layers-18pct" network without its local response
// normalisation layers (the same layers as Caffe's cifar10_full without LRN):
//   conv 32 5x5 pad 2 -> max-pool 3/2 -> ReLU -> conv 32 5x5 pad 2 -> ReLU -> avg-pool 3/2 ->
//   conv 64 5x5 pad 2 -> ReLU -> avg-pool 3/2 -> Dense 10
// cuda-convnet and Caffe round pooled sizes up (32 -> 16 -> 8 -> 4): ceil_mode.
#include "models/registry.hpp"
#include "models/sequential_network.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
std::int64_t ceil_pool(std::int64_t n) { return n < 3 ? 0 : (n - 3 + 1) / 2 + 1; }  // ceil((n-3)/2)+1
std::int64_t flat_size(std::int64_t n) { return ceil_pool(ceil_pool(ceil_pool(n))); }

std::shared_ptr<Network> make_alexnet_r(std::int64_t channels, std::int64_t size, std::int64_t classes) {
  const auto conv = [](std::int64_t in, std::int64_t out) {
    return CountedConv2d(nn::Conv2dOptions(in, out, 5).padding(2));
  };
  const std::int64_t s = flat_size(size);
  nn::Sequential layers(
      conv(channels, 32), nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).ceil_mode(true)), nn::ReLU(),
      conv(32, 32), nn::ReLU(), nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(2).ceil_mode(true)),
      conv(32, 64), nn::ReLU(), nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(2).ceil_mode(true)),
      nn::Flatten(), CountedLinear(64 * s * s, classes));
  return std::make_shared<SequentialNetwork>(layers, InputSpec{{channels, size, size}}, classes);
}
}  // namespace

ModelEntry alexnet_r_entry() {
  ModelEntry e;
  e.name = "alexnet_r";
  e.source = "DLBench (Shi, Wang, Xu, Chu 2016); cuda-convnet layers-18pct without LRN";
  e.description = "3 conv 5x5 (32,32,64) + max/avg pools 3/2 + Dense 10";
  e.input_shape = {3, 32, 32};
  e.num_classes = 10;
  e.default_batch = 1024;  // DLBench: a global batch of 1024, split across GPUs
  e.default_optimizer = "sgd";
  e.default_lr = 0.01;
  e.min_image_size = smallest_size([](std::int64_t n) { return flat_size(n) >= 1; });
  e.build = [e](const ModelOptions& o) { return make_alexnet_r(image_channels(e, o), image_size(e, o), e.num_classes); };
  return e;
}

}  // namespace scalebench::models
