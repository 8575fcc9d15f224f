// libFuzzer target: the IDX parser (MNIST, Fashion-MNIST) on arbitrary bytes. Any input must
// either parse into an array whose size is exactly what its header promises, or be refused with a
// DataError; never crash, overflow or allocate more than the input holds (ASan/UBSan watch).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "datasets/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scalebench::datasets;
  try {
    const IdxArray a = parse_idx(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    std::size_t count = 1;
    for (auto d : a.dims) count *= static_cast<std::size_t>(d);
    if (count != a.values.size() || a.values.size() > size) std::abort();  // a lie got through
  } catch (const DataError&) {
  }
  return 0;
}
