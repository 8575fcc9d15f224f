#include "models/registry.hpp"

namespace scalebench::models {

// Each model file defines its entry factory; the registry lists them in one place.
ModelEntry cifar10_cnn_entry();
ModelEntry fcn_r_entry();
ModelEntry fcn_s_entry();

const std::vector<ModelEntry>& registry() {
  static const std::vector<ModelEntry> entries = {cifar10_cnn_entry(), fcn_r_entry(), fcn_s_entry()};
  return entries;
}

const ModelEntry* find(const std::string& name) {
  for (const auto& e : registry()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& e : registry()) out.push_back(e.name);
  return out;
}

void keras_initialize(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    torch::Tensor weight;
    torch::Tensor bias;
    if (auto* conv = child->as<torch::nn::Conv2d>()) {
      weight = conv->weight;
      bias = conv->bias;
    } else if (auto* conv1 = child->as<torch::nn::Conv1d>()) {
      weight = conv1->weight;
      bias = conv1->bias;
    } else if (auto* linear = child->as<torch::nn::Linear>()) {
      weight = linear->weight;
      bias = linear->bias;
    } else {
      continue;
    }
    torch::nn::init::xavier_uniform_(weight);  // Keras glorot_uniform: same fan-in/fan-out rule
    if (bias.defined()) torch::nn::init::zeros_(bias);
  }
}

std::int64_t count_total_params(torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  for (const auto& b : module.named_buffers()) {
    if (b.key().find("num_batches_tracked") == std::string::npos) n += b.value().numel();
  }
  return n;
}

std::int64_t count_trainable_params(torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace scalebench::models
