#pragma once
// Every reference model scalebench can train: its source study, input, defaults (the optimiser,
// learning rate and batch the study used) and a factory.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/network.hpp"

namespace scalebench::models {

struct ModelEntry {
  std::string name;
  std::string source;                    // the study or example it comes from
  std::string description;
  std::vector<std::int64_t> input_shape; // per sample: {C, H, W} or {features}
  std::int64_t num_classes = 10;
  std::int64_t default_batch = 32;
  std::string default_optimizer;         // sgd | adam | rmsprop
  double default_lr = 1e-3;
  double default_lr_decay = 0.0;         // Keras' per-iteration decay: lr / (1 + decay * t)
  std::function<std::shared_ptr<Network>()> make;
};

const std::vector<ModelEntry>& registry();
// nullptr if unknown.
const ModelEntry* find(const std::string& name);
std::vector<std::string> names();

}  // namespace scalebench::models
