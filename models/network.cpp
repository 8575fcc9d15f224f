#include "models/network.hpp"

#include "models/mac_counter.hpp"

namespace scalebench::models {
namespace F = torch::nn::functional;

std::int64_t Network::macs_per_sample() { return count_macs(*this); }

torch::Tensor Network::loss(const torch::Tensor& logits, const torch::Tensor& targets) const {
  if (loss_kind_ == LossKind::kBinaryCrossentropy) {
    // Dense(1, sigmoid) + binary_crossentropy, fused for numerical stability.
    return F::binary_cross_entropy_with_logits(logits.reshape({-1}), targets.to(logits.scalar_type()));
  }
  return F::cross_entropy(logits, targets);  // Dense(classes, softmax) + categorical_crossentropy
}

namespace {
// The weight and bias of a Conv (any dims) or Linear layer; undefined tensors for anything else.
std::pair<torch::Tensor, torch::Tensor> weight_and_bias(torch::nn::Module& m) {
  if (auto* c = m.as<torch::nn::Conv2d>()) return {c->weight, c->bias};
  if (auto* c = m.as<torch::nn::Conv1d>()) return {c->weight, c->bias};
  if (auto* l = m.as<torch::nn::Linear>()) return {l->weight, l->bias};
  return {};
}
}  // namespace

void keras_initialize(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    auto [weight, bias] = weight_and_bias(*child);
    if (!weight.defined()) continue;
    // Keras glorot_uniform: U(+-sqrt(6 / (fan_in + fan_out))). torch's fans of a [out, in/g, k...]
    // kernel are Keras' of its (k..., in/g, out) kernel, or the two swapped for a depthwise one;
    // the sum, and so the bound, is the same.
    torch::nn::init::xavier_uniform_(weight);
    if (bias.defined()) torch::nn::init::zeros_(bias);
  }
}

void torchvision_initialize(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* bn = child->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
      continue;
    }
    if (child->as<torch::nn::Linear>()) continue;
    auto [weight, bias] = weight_and_bias(*child);
    if (!weight.defined()) continue;
    torch::nn::init::kaiming_normal_(weight, 0.0, torch::kFanOut, torch::kReLU);
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

void set_trainable(torch::nn::Module& module, bool trainable) {
  for (auto& p : module.parameters()) p.set_requires_grad(trainable);
}

std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (auto& p : module.parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

}  // namespace scalebench::models
