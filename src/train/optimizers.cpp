#include "train/optimizers.hpp"

#include "core/errors.hpp"

namespace scalebench {
namespace {
// Keras defaults (tf.keras 2.x): epsilon 1e-7 for Adam and RMSprop, rho 0.9 for RMSprop.
constexpr double kKerasEpsilon = 1e-7;
constexpr double kKerasRmspropRho = 0.9;

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}
}  // namespace

Optimizer::Optimizer(const OptimizerSpec& spec, std::vector<torch::Tensor> params) : spec_(spec) {
  namespace optim = torch::optim;
  if (spec.name == "sgd") {
    impl_ = std::make_unique<optim::SGD>(params, optim::SGDOptions(spec.lr).momentum(spec.momentum));
  } else if (spec.name == "adam") {
    impl_ = std::make_unique<optim::Adam>(params, optim::AdamOptions(spec.lr).eps(kKerasEpsilon));
  } else if (spec.name == "rmsprop") {
    impl_ = std::make_unique<optim::RMSprop>(
        params, optim::RMSpropOptions(spec.lr).alpha(kKerasRmspropRho).eps(kKerasEpsilon));
  } else {
    throw UsageError("--optimizer " + spec.name + ": allowed: sgd, adam, rmsprop");
  }
}

void Optimizer::step(std::int64_t t) {
  if (spec_.lr_decay > 0.0) set_lr(*impl_, spec_.lr / (1.0 + spec_.lr_decay * static_cast<double>(t)));
  impl_->step();
}

}  // namespace scalebench
