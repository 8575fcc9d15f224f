#include "datasets/cifar_parse.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace scalebench::datasets {

CifarRecords parse_cifar10(std::string_view bytes, const std::string& name) {
  if (bytes.empty()) throw DataError(name + ": empty file (no CIFAR-10 records)");
  if (bytes.size() % kCifarRecord != 0) {
    throw DataError(name + ": " + std::to_string(bytes.size()) +
                    " bytes is not a whole number of 3073-byte CIFAR-10 records (1 label + "
                    "3072 pixels); truncated or not a CIFAR-10 binary file");
  }
  CifarRecords out;
  out.count = bytes.size() / kCifarRecord;
  out.labels.reserve(out.count);
  out.pixels.reserve(out.count * kCifarPixels);  // <= bytes.size(): bounded by the input
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  for (std::size_t r = 0; r < out.count; ++r, p += kCifarRecord) {
    if (p[0] >= kCifarClasses) {
      throw DataError(name + ": record " + std::to_string(r) + " has label " +
                      std::to_string(p[0]) + ", not a class of 0..9");
    }
    out.labels.push_back(p[0]);
    out.pixels.insert(out.pixels.end(), p + 1, p + kCifarRecord);
  }
  return out;
}

CifarRecords read_cifar10_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(path + ": missing (or not a regular file)");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot read its size (" + ec.message() + ")");
  if (size > kMaxCifarBytes) {
    throw DataError(path + ": " + std::to_string(size) + " bytes, larger than any CIFAR-10 file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    throw DataError(path + ": could read only " + std::to_string(in.gcount()) + " of " +
                    std::to_string(size) + " bytes");
  }
  return parse_cifar10(bytes, path);
}

}  // namespace scalebench::datasets
