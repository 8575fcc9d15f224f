#pragma once
// Evaluation of a model on a rank's shard of a held-out split (validation or test): loss and
// correct predictions summed over the shard, to be summed over ranks by the caller. Inference
// mode (no autograd, dropout off, BatchNorm on its running statistics), then back to training.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>

#include "datasets/batch_source.hpp"
#include "models/network.hpp"

namespace scalebench {

struct EvalTotals {
  double loss_sum = 0.0;       // sum over samples of the per-sample loss
  double correct = 0.0;        // samples whose predicted class is the target
  double samples = 0.0;
  double seconds = 0.0;        // this rank's wall time, forward passes included
  double accuracy() const { return samples > 0 ? correct / samples : 0.0; }
  double mean_loss() const { return samples > 0 ? loss_sum / samples : 0.0; }
};

// Batches of a split until `next` returns nullopt.
using BatchStream = std::function<std::optional<datasets::Batch>()>;

EvalTotals evaluate(models::Network& model, const BatchStream& next);

// Predicted classes from logits: argmax, or logit > 0 for a one-unit sigmoid output.
torch::Tensor predicted_classes(const models::Network& model, const torch::Tensor& logits);

}  // namespace scalebench
