#include "models/registry.hpp"

#include "core/errors.hpp"
#include "models/weights.hpp"

namespace scalebench::models {

// Each model file defines its entry factory; the registry lists them in one place.
ModelEntry model_a_entry();
ModelEntry model_b_entry();
ModelEntry cifar10_cnn_entry();
ModelEntry imdb_cnn_lstm_entry();
ModelEntry catsdogs_cnn_entry();
ModelEntry cifar10_resnet_entry();
ModelEntry fcn_r_entry();
ModelEntry fcn_s_entry();
ModelEntry fcn8_entry();
ModelEntry alexnet_r_entry();
ModelEntry resnet56_entry();
ModelEntry resnet50_entry();
ModelEntry resnet101_entry();
ModelEntry vgg16_entry();

const std::vector<ModelEntry>& registry() {
  static const std::vector<ModelEntry> entries = {
      model_a_entry(),  model_b_entry(),   cifar10_cnn_entry(), imdb_cnn_lstm_entry(),
      catsdogs_cnn_entry(), cifar10_resnet_entry(), fcn_r_entry(), fcn_s_entry(),
      fcn8_entry(),     alexnet_r_entry(), resnet56_entry(),  resnet50_entry(),
      resnet101_entry(), vgg16_entry()};
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

std::int64_t image_channels(const ModelEntry& entry, const ModelOptions& options) {
  return options.channels.value_or(entry.input_shape.at(0));
}

std::int64_t image_size(const ModelEntry& entry, const ModelOptions& options) {
  return options.image_size.value_or(entry.input_shape.at(1));
}

std::int64_t smallest_size(const std::function<bool(std::int64_t)>& fits) {
  constexpr std::int64_t kLargest = 4096;
  for (std::int64_t n = 1; n <= kLargest; ++n) {
    if (fits(n)) return n;
  }
  return 0;
}

namespace {
void refuse(const std::string& option, const std::string& model, const std::string& why) {
  throw UsageError(option + ": " + why + " (model " + model + ")");
}
}  // namespace

void ModelEntry::check(const ModelOptions& o) const {
  const bool image = input_kind == InputKind::kImage;
  const bool tokens = input_kind == InputKind::kTokens;
  if (o.image_size) {
    const std::string opt = "--image-size " + std::to_string(*o.image_size);
    if (!image) refuse(opt, name, "this model has no image input; allowed: leave it out");
    if (*o.image_size < min_image_size) {
      refuse(opt, name, "too small: a stage of the network would have no pixel left; allowed: " +
                            std::to_string(min_image_size) + " or more");
    }
  }
  if (o.channels && *o.channels < 1) {
    refuse("channels " + std::to_string(*o.channels), name, "allowed: 1 or more");
  }
  if (o.trainable_base && !has_frozen_base) {
    refuse("--trainable-base", name, "this model has no frozen base; allowed with: modelA");
  }
  const std::pair<const char*, const std::optional<std::int64_t>*> token_options[] = {
      {"--vocab-size", &o.vocab_size},
      {"--sequence-length", &o.sequence_length},
      {"--embedding-size", &o.embedding_size}};
  for (const auto& [flag, value] : token_options) {
    if (!value->has_value()) continue;
    const std::string opt = std::string(flag) + " " + std::to_string(**value);
    if (!tokens) refuse(opt, name, "this model has no token input; allowed with: imdb_cnn_lstm");
    if (**value < 1) refuse(opt, name, "allowed: 1 or more");
  }
  if (tokens && o.sequence_length && *o.sequence_length < min_sequence_length) {
    refuse("--sequence-length " + std::to_string(*o.sequence_length), name,
           "too short for the convolution and pooling; allowed: " + std::to_string(min_sequence_length) +
               " or more");
  }
  if (check_more) check_more(o);
}

std::vector<std::int64_t> ModelEntry::input_shape_for(const ModelOptions& o) const {
  switch (input_kind) {
    case InputKind::kImage: {
      const std::int64_t size = image_size(*this, o);
      return {image_channels(*this, o), size, size};
    }
    case InputKind::kTokens:
      return {o.sequence_length.value_or(input_shape.at(0))};
    case InputKind::kVector:
      break;
  }
  return input_shape;
}

std::shared_ptr<Network> ModelEntry::make(const ModelOptions& options) const {
  check(options);
  std::shared_ptr<Network> network = build(options);
  if (!options.weights.empty()) load_weights(*network, options.weights, name);
  return network;
}

}  // namespace scalebench::models
