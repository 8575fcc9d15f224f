// Message sizes as `scalebench allreduce -b/-e/-f` take them (nccl-tests' conventions).
#include <gtest/gtest.h>

#include "core/byte_size.hpp"
#include "core/errors.hpp"

namespace scalebench {
namespace {

TEST(ByteSize, PlainAndSuffixedSizesArePowersOf1024) {
  EXPECT_EQ(parse_byte_size("8", "-b"), 8u);
  EXPECT_EQ(parse_byte_size("0", "-b"), 0u);
  EXPECT_EQ(parse_byte_size("64K", "-b"), 64u * 1024);
  EXPECT_EQ(parse_byte_size("64k", "-b"), 64u * 1024);
  EXPECT_EQ(parse_byte_size("32M", "-b"), 32ull << 20);
  EXPECT_EQ(parse_byte_size("2g", "-b"), 2ull << 30);
}

TEST(ByteSize, AnythingElseIsAUsageErrorNamingTheOption) {
  for (const char* bad : {"", "M", "-8", "1.5M", "8MB", "8 M", "eight", "8T", "0x10",
                          "99999999999999999999", "20000000000G"}) {
    try {
      parse_byte_size(bad, "--max-bytes");
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--max-bytes"), std::string::npos) << what;
      EXPECT_NE(what.find("allowed:"), std::string::npos) << what;
    }
  }
}

TEST(ByteSize, GeometricSizesRunFromMinToMaxInclusive) {
  EXPECT_EQ(geometric_sizes(8, 128, 2), (std::vector<std::uint64_t>{8, 16, 32, 64, 128}));
  EXPECT_EQ(geometric_sizes(8, 127, 2), (std::vector<std::uint64_t>{8, 16, 32, 64}));
  EXPECT_EQ(geometric_sizes(1024, 1 << 20, 4),
            (std::vector<std::uint64_t>{1024, 4096, 16384, 65536, 262144, 1048576}));
  EXPECT_EQ(geometric_sizes(32, 32, 2), (std::vector<std::uint64_t>{32}));
  // Near the top of the range the next size would overflow: the list stops instead.
  const std::uint64_t top = ~0ull;
  const auto big = geometric_sizes(top / 2, top, 2);
  EXPECT_EQ(big.size(), 2u);
}

TEST(ByteSize, GeometricSizesRefuseEmptyOrEndlessSweeps) {
  EXPECT_THROW(geometric_sizes(64, 8, 2), UsageError);
  EXPECT_THROW(geometric_sizes(8, 64, 1), UsageError);
  EXPECT_THROW(geometric_sizes(8, 64, 0), UsageError);
  EXPECT_THROW(geometric_sizes(0, 64, 2), UsageError);
}

TEST(ByteSize, FormatIsTheShortestExactSpelling) {
  EXPECT_EQ(format_byte_size(8), "8");
  EXPECT_EQ(format_byte_size(1536), "1536");
  EXPECT_EQ(format_byte_size(64 * 1024), "64K");
  EXPECT_EQ(format_byte_size(32ull << 20), "32M");
  EXPECT_EQ(format_byte_size(1ull << 30), "1G");
}

}  // namespace
}  // namespace scalebench
