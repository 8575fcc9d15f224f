#include "train/evaluator.hpp"

#include <chrono>

namespace scalebench {

torch::Tensor predicted_classes(const models::Network& model, const torch::Tensor& logits) {
  if (model.loss_kind() == models::LossKind::kBinaryCrossentropy) {
    return logits.reshape({-1}).gt(0).to(torch::kLong);
  }
  return logits.argmax(1);
}

EvalTotals evaluate(models::Network& model, const BatchStream& next) {
  const auto start = std::chrono::steady_clock::now();
  const bool was_training = model.is_training();
  model.eval();
  EvalTotals totals;
  {
    torch::NoGradGuard no_grad;
    while (auto batch = next()) {
      const std::int64_t n = batch->inputs.size(0);
      if (n == 0) continue;
      const torch::Tensor logits = model.forward(batch->inputs);
      // The study's loss is a batch mean: times n gives the batch's sum, so shards of any size
      // combine into the exact mean over the split.
      totals.loss_sum += model.loss(logits, batch->targets).item<double>() * static_cast<double>(n);
      totals.correct += predicted_classes(model, logits).eq(batch->targets.to(logits.device()))
                            .sum().item<double>();
      totals.samples += static_cast<double>(n);
    }
  }
  if (was_training) model.train();
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return totals;
}

}  // namespace scalebench
