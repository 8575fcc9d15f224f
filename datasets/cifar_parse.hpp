#pragma once
// The CIFAR-10 binary format (www.cs.toronto.edu/~kriz/cifar.html), torch-free so that libFuzzer
// can compile it alone (fuzz/fuzz_cifar.cpp): a file is a sequence of 3073-byte records, each one
// label byte (0..9) then 3072 pixel bytes, 1024 red, 1024 green, 1024 blue, row-major 32x32 (so
// already CHW). A file whose size is not a positive multiple of 3073 is refused.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/data_error.hpp"

namespace scalebench::datasets {

constexpr std::size_t kCifarPixels = 3 * 32 * 32;
constexpr std::size_t kCifarRecord = 1 + kCifarPixels;
constexpr int kCifarClasses = 10;
// Larger than any CIFAR-10 batch file (30,730,000 bytes): a bound on what the reader will allocate.
constexpr std::size_t kMaxCifarBytes = std::size_t{1} << 30;

struct CifarRecords {
  std::size_t count = 0;
  std::vector<std::uint8_t> labels;  // [count]
  std::vector<std::uint8_t> pixels;  // [count, 3, 32, 32]
};

// Parses records in memory; `name` (the file) starts every DataError's message.
CifarRecords parse_cifar10(std::string_view bytes, const std::string& name);
// Reads `path` whole (refusing files over kMaxCifarBytes before reading them) and parses it.
CifarRecords read_cifar10_file(const std::string& path);

}  // namespace scalebench::datasets
