#pragma once
// Message sizes as nccl-tests takes them (-b 8 -e 128M -f 2): a whole number of bytes with an
// optional K, M or G suffix (powers of 1024), and the geometric list of sizes a sweep visits.
// Pure functions, no MPI or torch, so that they are unit-tested on their own.
#include <cstdint>
#include <string>
#include <vector>

namespace scalebench {

// "32M" -> 33554432. Throws UsageError naming `option` and saying what is allowed for anything
// else (empty, negative, fractional, unknown suffix, overflow).
std::uint64_t parse_byte_size(const std::string& text, const std::string& option);

// min, min*factor, min*factor^2, ... up to and including max (nccl-tests' multiplicative steps).
// Throws UsageError unless 1 <= min <= max and factor >= 2.
std::vector<std::uint64_t> geometric_sizes(std::uint64_t min_bytes, std::uint64_t max_bytes,
                                           std::uint64_t factor);

// 33554432 -> "32M", 1536 -> "1536": the shortest exact spelling, for messages and tables.
std::string format_byte_size(std::uint64_t bytes);

}  // namespace scalebench
