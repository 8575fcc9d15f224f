#pragma once
// Initial weights from a file: a LibTorch archive as torch::save(module, path) writes it. Unlike
// torch::load, which resizes a tensor to whatever the file holds, every parameter and buffer is
// checked for presence and shape, so that weights of another model or input size are refused.
// Pretrained weights are never downloaded.
#include <torch/torch.h>

#include <string>

namespace scalebench::models {

// Throws UsageError naming the file, the model and the first mismatch.
void load_weights(torch::nn::Module& module, const std::string& path, const std::string& model_name);

}  // namespace scalebench::models
