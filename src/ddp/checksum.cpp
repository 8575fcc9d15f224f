#include "ddp/checksum.hpp"

#include <cstdio>

namespace scalebench {

std::uint64_t state_checksum(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  auto add_tensor = [&h](const torch::Tensor& t) {
    const torch::Tensor host = t.detach().to(torch::kCPU).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(host.data_ptr());
    const auto n = static_cast<std::size_t>(host.numel()) * host.element_size();
    for (std::size_t i = 0; i < n; ++i) {
      h ^= bytes[i];
      h *= 1099511628211ULL;
    }
  };
  for (const auto& p : model.parameters()) add_tensor(p);
  for (const auto& b : model.buffers()) add_tensor(b);
  return h;
}

std::string to_hex(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace scalebench
