#pragma once
// What a user may choose about a reference model when building it (the rest is the study's).
// Torch-free, so that the run configuration can hold it without the heavy headers.
#include <cstdint>
#include <optional>
#include <string>

namespace scalebench::models {

struct ModelOptions {
  // Height = width of image inputs; unset: the model's default (the study's size).
  std::optional<std::int64_t> image_size;
  // Channels of image inputs; unset: the model's default. A dataset with images sets this.
  std::optional<std::int64_t> channels;
  // Model A: train the VGG19 base too (the study froze it).
  bool trainable_base = false;
  // Token models (imdb_cnn_lstm): vocabulary, padded sequence length, embedding width.
  std::optional<std::int64_t> vocab_size;
  std::optional<std::int64_t> sequence_length;
  std::optional<std::int64_t> embedding_size;
  // Initial weights: a LibTorch archive written by torch::save(module); "" = random init.
  std::string weights;
};

}  // namespace scalebench::models
