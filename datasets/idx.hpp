#pragma once
// The IDX format of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist): a big-endian header
// (two zero bytes, a type code, the number of dimensions, then each dimension as uint32) followed
// by the values. Files may be gzipped. Only unsigned bytes (type 0x08) occur in those datasets and
// only they are accepted.
//
// The reader trusts nothing in the file: the header must match the file's length exactly, the
// product of the dimensions must not overflow, and it never allocates more than the data that is
// actually there. Every problem is a DataError naming the file and what is wrong with it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/data_error.hpp"

namespace scalebench::datasets {

struct IdxArray {
  std::vector<std::int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<std::uint8_t> values;
};

// Parses an uncompressed IDX image in memory; `name` is used in messages.
IdxArray parse_idx(std::string_view bytes, const std::string& name);
// Reads `path` (gzipped or not: zlib tells them apart by the gzip magic bytes) and parses it.
IdxArray read_idx_file(const std::string& path);

// The largest file content read_idx_file accepts after decompression (MNIST's largest file is
// 47 MB): a bound on memory for a corrupt or hostile gzip stream.
constexpr std::size_t kMaxIdxBytes = std::size_t{1} << 31;

}  // namespace scalebench::datasets
