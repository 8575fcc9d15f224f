#pragma once
// The optimisers the studies used, with Keras' constants where LibTorch's defaults differ, so that
// "Adam" or "RMSprop" means what it meant in the study.
#include <torch/torch.h>

#include <memory>
#include <string>

namespace scalebench {

struct OptimizerSpec {
  std::string name;       // sgd | adam | rmsprop
  double lr = 1e-3;
  double lr_decay = 0.0;  // Keras' time-based decay: lr_t = lr / (1 + decay * t)
  double momentum = 0.0;  // sgd only
};

class Optimizer {
 public:
  Optimizer(const OptimizerSpec& spec, std::vector<torch::Tensor> params);
  // Applies the decayed learning rate for iteration `t` (0-based), then steps.
  void step(std::int64_t t);
  const OptimizerSpec& spec() const { return spec_; }

 private:
  OptimizerSpec spec_;
  std::unique_ptr<torch::optim::Optimizer> impl_;
};

}  // namespace scalebench
