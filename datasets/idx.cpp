#include "datasets/idx.hpp"

#include <zlib.h>

#include <array>
#include <limits>
#include <memory>

namespace scalebench::datasets {
namespace {

constexpr std::uint8_t kTypeUnsignedByte = 0x08;
constexpr std::size_t kMaxDims = 8;

std::uint32_t big_endian_u32(const std::string_view bytes, std::size_t at) {
  return (std::uint32_t{static_cast<std::uint8_t>(bytes[at])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 2])} << 8) |
         std::uint32_t{static_cast<std::uint8_t>(bytes[at + 3])};
}

[[noreturn]] void bad(const std::string& name, const std::string& problem) {
  throw DataError(name + ": " + problem);
}

// Reads a whole file, inflating gzip; grows with the data actually read, never past the cap.
std::string read_all(const std::string& path) {
  struct GzCloser {
    void operator()(gzFile f) const { gzclose(f); }
  };
  std::unique_ptr<gzFile_s, GzCloser> in(gzopen(path.c_str(), "rb"));  // also reads plain files
  if (!in) bad(path, "cannot open (missing or unreadable)");
  std::string out;
  std::array<char, 1 << 16> chunk{};
  while (true) {
    const int n = gzread(in.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(in.get(), &code);
      bad(path, std::string("corrupt or truncated gzip data (") + (msg ? msg : "?") + ")");
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > kMaxIdxBytes) {
      bad(path, "larger than " + std::to_string(kMaxIdxBytes) + " bytes: not an MNIST-style file");
    }
    out.append(chunk.data(), static_cast<std::size_t>(n));
  }
  int code = Z_OK;
  const char* msg = gzerror(in.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) {  // e.g. a gzip stream cut short
    bad(path, std::string("corrupt or truncated gzip data (") + (msg ? msg : "?") + ")");
  }
  return out;
}

}  // namespace

IdxArray parse_idx(std::string_view bytes, const std::string& name) {
  if (bytes.size() < 4) bad(name, "too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0) {
    bad(name, "not an IDX file (the magic number must start with two zero bytes)");
  }
  const auto type = static_cast<std::uint8_t>(bytes[2]);
  if (type != kTypeUnsignedByte) {
    bad(name, "IDX value type 0x" + std::to_string(type) + " is not supported; allowed: 0x08 (unsigned bytes)");
  }
  const std::size_t ndims = static_cast<std::uint8_t>(bytes[3]);
  if (ndims == 0 || ndims > kMaxDims) {
    bad(name, "IDX header gives " + std::to_string(ndims) + " dimensions; allowed: 1 to " +
                  std::to_string(kMaxDims));
  }
  const std::size_t header = 4 + 4 * ndims;
  if (bytes.size() < header) bad(name, "truncated IDX header");
  IdxArray out;
  std::size_t count = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    const std::uint32_t dim = big_endian_u32(bytes, 4 + 4 * d);
    if (dim != 0 && count > std::numeric_limits<std::size_t>::max() / dim) {
      bad(name, "IDX dimensions overflow");
    }
    count *= dim;
    out.dims.push_back(dim);
  }
  const std::size_t have = bytes.size() - header;
  if (have != count) {
    bad(name, "the header promises " + std::to_string(count) + " values but the file holds " +
                  std::to_string(have) + (have < count ? " (truncated)" : " (trailing data)"));
  }
  out.values.assign(reinterpret_cast<const std::uint8_t*>(bytes.data()) + header,
                    reinterpret_cast<const std::uint8_t*>(bytes.data()) + bytes.size());
  return out;
}

IdxArray read_idx_file(const std::string& path) { return parse_idx(read_all(path), path); }

}  // namespace scalebench::datasets
