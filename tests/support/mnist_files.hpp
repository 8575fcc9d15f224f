#pragma once
// A small MNIST-format pair (<prefix>-images-idx3-ubyte, <prefix>-labels-idx1-ubyte) for tests:
// image i is 28x28 pixels all of value i (mod 256), label i % 10, so a batch shows which samples
// it holds.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

namespace scalebench::test_support {

inline void write_mnist_pair(const std::filesystem::path& dir, const std::string& prefix, std::uint32_t n) {
  auto header = [](std::initializer_list<std::uint32_t> dims) {
    std::string h = {0, 0, 8, static_cast<char>(dims.size())};
    for (std::uint32_t d : dims) for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>((d >> s) & 0xff));
    return h;
  };
  std::string images = header({n, 28, 28}), labels = header({n});
  for (std::uint32_t i = 0; i < n; ++i) {
    images += std::string(784, static_cast<char>(i));
    labels.push_back(static_cast<char>(i % 10));
  }
  std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary) << images;
  std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary) << labels;
}

}  // namespace scalebench::test_support
