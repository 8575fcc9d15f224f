#include "core/byte_size.hpp"

#include <cctype>
#include <limits>

#include "core/errors.hpp"

namespace scalebench {

std::uint64_t parse_byte_size(const std::string& text, const std::string& option) {
  const auto refuse = [&](const std::string& why) -> UsageError {
    return UsageError(option + " " + text + ": " + why +
                      "; allowed: a whole number of bytes with an optional K, M or G suffix "
                      "(powers of 1024), e.g. 8, 64K, 32M, 1G");
  };
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) throw refuse("not a size");
  std::uint64_t unit = 1;
  if (digits < text.size()) {
    if (digits + 1 != text.size()) throw refuse("not a size");
    switch (std::toupper(static_cast<unsigned char>(text[digits]))) {
      case 'K': unit = 1ull << 10; break;
      case 'M': unit = 1ull << 20; break;
      case 'G': unit = 1ull << 30; break;
      default: throw refuse("unknown suffix");
    }
  }
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (kMax - d) / 10) throw refuse("too large");
    value = value * 10 + d;
  }
  if (value > kMax / unit) throw refuse("too large");
  return value * unit;
}

std::vector<std::uint64_t> geometric_sizes(std::uint64_t min_bytes, std::uint64_t max_bytes,
                                           std::uint64_t factor) {
  if (min_bytes < 1) throw UsageError("--min-bytes 0: allowed: 1 or more bytes");
  if (min_bytes > max_bytes) {
    throw UsageError("--min-bytes " + format_byte_size(min_bytes) + " is larger than --max-bytes " +
                     format_byte_size(max_bytes) + "; allowed: min-bytes <= max-bytes");
  }
  // nccl-tests treats a factor of 1 as "add --step-bytes"; scalebench has only the geometric
  // sweep, so a factor below 2 would never reach max_bytes.
  if (factor < 2) {
    throw UsageError("--step-factor " + std::to_string(factor) + ": allowed: 2 or more");
  }
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t s = min_bytes;; s *= factor) {
    sizes.push_back(s);
    if (s > max_bytes / factor) break;  // the next one exceeds max (or would overflow)
  }
  return sizes;
}

std::string format_byte_size(std::uint64_t bytes) {
  static const char kSuffix[] = {'G', 'M', 'K'};
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t unit = 1ull << (10 * (3 - i));
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + kSuffix[i];
  }
  return std::to_string(bytes);
}

}  // namespace scalebench
