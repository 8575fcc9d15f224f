// DLBench's fully connected networks (Shi, Wang, Xu, Chu 2016): sigmoid hidden layers, SGD.
#include "models/registry.hpp"
#include "models/sequential_network.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
std::shared_ptr<Network> make_fcn(const std::vector<std::int64_t>& widths) {
  nn::Sequential layers;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    layers->push_back(CountedLinear(widths[i], widths[i + 1]));
    if (i + 2 < widths.size()) layers->push_back(nn::Sigmoid());
  }
  return std::make_shared<SequentialNetwork>(layers, InputSpec{{widths.front()}}, widths.back());
}

ModelEntry fcn_entry(const std::string& name, const std::string& description,
                     std::vector<std::int64_t> widths, std::int64_t batch) {
  ModelEntry e;
  e.name = name;
  e.source = "DLBench (Shi, Wang, Xu, Chu 2016)";
  e.description = description;
  e.input_kind = InputKind::kVector;
  e.input_shape = {widths.front()};
  e.num_classes = widths.back();
  e.default_batch = batch;
  e.default_optimizer = "sgd";
  e.default_lr = 0.05;
  e.build = [widths](const ModelOptions&) { return make_fcn(widths); };
  return e;
}

constexpr std::int64_t kSyntheticWidth = 26752;
}  // namespace

ModelEntry fcn_r_entry() {
  // MNIST: 784 -> 2048 -> 4096 -> 1024 -> 10; DLBench ran batches of 342 to 4096.
  return fcn_entry("fcn_r", "FCN-5 on MNIST: 784-2048-4096-1024-10, sigmoid",
                   {784, 2048, 4096, 1024, 10}, 342);
}

ModelEntry fcn_s_entry() {
  // Synthetic: 26752 -> 2048 x3 -> 26752; communication-heavy (about 116M parameters).
  return fcn_entry("fcn_s", "FCN-5 synthetic: 26752-2048-2048-2048-26752, sigmoid",
                   {kSyntheticWidth, 2048, 2048, 2048, kSyntheticWidth}, 64);
}

ModelEntry fcn8_entry() {
  // FCN-8: the synthetic FCN with six hidden layers of 2048 (about 131M parameters); the survey's
  // thread table times mini-batches of 64.
  return fcn_entry("fcn8", "FCN-8 synthetic: 26752-2048x6-26752, sigmoid",
                   {kSyntheticWidth, 2048, 2048, 2048, 2048, 2048, 2048, kSyntheticWidth}, 64);
}

}  // namespace scalebench::models
