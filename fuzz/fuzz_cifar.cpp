// libFuzzer target: the CIFAR-10 binary parser on arbitrary bytes. A parse must give whole
// records with labels 0..9 and pixels that are the input's own bytes; anything else a DataError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "datasets/cifar_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scalebench::datasets;
  try {
    const CifarRecords r = parse_cifar10(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (r.count * kCifarRecord != size || r.labels.size() != r.count ||
        r.pixels.size() != r.count * kCifarPixels) {
      std::abort();
    }
    for (std::size_t i = 0; i < r.count; ++i) {
      if (r.labels[i] >= kCifarClasses || r.labels[i] != data[i * kCifarRecord]) std::abort();
      if (r.pixels[i * kCifarPixels] != data[i * kCifarRecord + 1]) std::abort();
    }
  } catch (const DataError&) {
  }
  return 0;
}
