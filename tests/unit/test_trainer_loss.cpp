// The trainer minimises (and records) the model's own loss plus its regularisation penalties, as
// Keras does: categorical or binary cross-entropy, and the Dense layers' L1/L2 terms of Models A/B.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "datasets/synthetic.hpp"
#include "metrics/phase_clock.hpp"
#include "models/network.hpp"
#include "train/optimizers.hpp"
#include "train/trainer.hpp"

namespace scalebench {
namespace {

// Zero logits (so the cross-entropy is known exactly) and a fixed penalty.
class Fixed : public models::Network {
 public:
  Fixed(std::int64_t outputs, models::LossKind loss, double penalty)
      : Network({{4}}, outputs, loss), penalty_(penalty) {
    weight_ = register_parameter("weight", torch::zeros({outputs, 4}));
  }
  torch::Tensor forward(torch::Tensor x) override { return torch::matmul(x, weight_.t()); }
  std::int64_t macs_per_sample() override { return 0; }
  torch::Tensor regularization_loss() override {
    return penalty_ == 0.0 ? torch::Tensor() : penalty_ + 0.0 * weight_.sum();
  }

 private:
  torch::Tensor weight_;
  double penalty_;
};

double recorded_loss(std::shared_ptr<models::Network> model) {
  datasets::SourceSpec spec;
  spec.input_shape = model->input().shape;
  spec.num_classes = model->label_classes();
  spec.batch_per_rank = 8;
  datasets::SyntheticSource data(spec);
  Optimizer optimizer(OptimizerSpec{"sgd", 0.1, 0.0, 0.0}, models::trainable_parameters(*model));
  auto clock = make_host_phase_clock();
  Trainer trainer(TrainerParts{model, &data, &optimizer, clock.get(), torch::kCPU, nullptr, nullptr, nullptr});
  return trainer.step(0, false, 0)[StepField::kLoss];
}

TEST(TrainerLoss, AddsTheModelsPenalty) {
  using models::LossKind;
  EXPECT_NEAR(recorded_loss(std::make_shared<Fixed>(10, LossKind::kCategoricalCrossentropy, 0.0)), std::log(10.0), 1e-6);
  EXPECT_NEAR(recorded_loss(std::make_shared<Fixed>(10, LossKind::kCategoricalCrossentropy, 1.5)),
              std::log(10.0) + 1.5, 1e-6);
  // One sigmoid unit at logit 0: binary cross-entropy ln 2 whatever the 0/1 label.
  EXPECT_NEAR(recorded_loss(std::make_shared<Fixed>(1, LossKind::kBinaryCrossentropy, 0.0)), std::log(2.0), 1e-6);
}

}  // namespace
}  // namespace scalebench
