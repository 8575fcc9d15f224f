#pragma once
// A checksum of a model's exact bits (parameters and buffers), to prove that data-parallel replicas
// agree bit for bit at the end of a run.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace scalebench {

std::uint64_t state_checksum(torch::nn::Module& model);
std::string to_hex(std::uint64_t value);

}  // namespace scalebench
