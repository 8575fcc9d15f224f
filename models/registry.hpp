#pragma once
// Every reference model scalebench can train: its source study, input, defaults (the optimiser,
// learning rate and batch the study used), what may be chosen about it, and a factory.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/network.hpp"
#include "models/options.hpp"

namespace scalebench::models {

enum class InputKind { kImage, kTokens, kVector };

struct ModelEntry {
  std::string name;
  std::string source;                    // the study or example it comes from
  std::string description;
  InputKind input_kind = InputKind::kImage;
  std::vector<std::int64_t> input_shape; // per sample, at the defaults: {C, H, W}, {features} or {tokens}
  std::int64_t num_classes = 10;         // output units (1 for a sigmoid output)
  std::int64_t default_batch = 32;
  std::string default_optimizer;         // sgd | adam | rmsprop
  double default_lr = 1e-3;
  double default_lr_decay = 0.0;         // Keras' per-iteration decay: lr / (1 + decay * t)
  double default_momentum = 0.0;         // sgd only
  std::string loss = "categorical_crossentropy";  // or binary_crossentropy
  std::int64_t min_image_size = 1;       // smallest --image-size for which every stage keeps >= 1x1
  std::int64_t min_sequence_length = 1;  // smallest --sequence-length, for token models
  bool has_frozen_base = false;          // --trainable-base applies
  // Further model-specific checks of options (throw UsageError); may be empty.
  std::function<void(const ModelOptions&)> check_more;
  // Builds the network for already checked options (use make()).
  std::function<std::shared_ptr<Network>(const ModelOptions&)> build;

  // Checks `options` against this model (UsageError saying what is wrong and what is allowed),
  // builds it, and loads --weights if given.
  std::shared_ptr<Network> make(const ModelOptions& options = {}) const;
  // Throws UsageError if `options` do not apply to this model. Needs no filesystem.
  void check(const ModelOptions& options) const;
  // Per-sample input shape under `options` (after check()).
  std::vector<std::int64_t> input_shape_for(const ModelOptions& options) const;
};

const std::vector<ModelEntry>& registry();
// nullptr if unknown.
const ModelEntry* find(const std::string& name);
std::vector<std::string> names();

// Image models: {channels, size, size} from the options or the entry's defaults.
std::int64_t image_size(const ModelEntry& entry, const ModelOptions& options);
std::int64_t image_channels(const ModelEntry& entry, const ModelOptions& options);
// Smallest n in [1, 4096] with fits(n), or 0: turns a model's shape arithmetic into its minimum size.
std::int64_t smallest_size(const std::function<bool(std::int64_t)>& fits);

}  // namespace scalebench::models
