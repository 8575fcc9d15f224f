// The IDX reader on small files in the real format, written here: good files plain and gzipped,
// and every kind of damage, each refused with the file's name and the problem.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "datasets/idx.hpp"

namespace scalebench::datasets {
namespace {

std::string header(std::uint8_t type, std::initializer_list<std::uint32_t> dims) {
  std::string h = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return h;
}

std::string values(std::size_t n) {
  std::string v(n, '\0');
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>(i % 251);
  return v;
}

class IdxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("scalebench_idx_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string write_gz(const std::string& name, const std::string& bytes) {
    const auto path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return path;
  }
  void expect_refused(const std::string& path, const std::string& problem) {
    try {
      read_idx_file(path);
      FAIL() << "accepted " << path;
    } catch (const DataError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(problem), std::string::npos) << what;
    }
  }
  std::filesystem::path dir_;
};

TEST_F(IdxFiles, ReadsImagesAndLabels) {
  const auto images = write("images-idx3-ubyte", header(0x08, {3, 28, 28}) + values(3 * 28 * 28));
  const IdxArray a = read_idx_file(images);
  EXPECT_EQ(a.dims, (std::vector<std::int64_t>{3, 28, 28}));
  ASSERT_EQ(a.values.size(), 3u * 28 * 28);
  EXPECT_EQ(a.values[0], 0);
  EXPECT_EQ(a.values[300], 300 % 251);
  const IdxArray l = read_idx_file(write("labels-idx1-ubyte", header(0x08, {5}) + "\x01\x02\x03\x04\x09"));
  EXPECT_EQ(l.dims, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(l.values.back(), 9);
}

TEST_F(IdxFiles, ReadsGzippedFilesLikePlainOnes) {
  const std::string bytes = header(0x08, {2, 4, 4}) + values(32);
  const IdxArray plain = read_idx_file(write("a", bytes));
  const IdxArray gz = read_idx_file(write_gz("a.gz", bytes));
  EXPECT_EQ(plain.dims, gz.dims);
  EXPECT_EQ(plain.values, gz.values);
}

TEST_F(IdxFiles, RefusesDamage) {
  expect_refused((dir_ / "missing").string(), "cannot open");
  expect_refused(write("short", std::string("\0\0", 2)), "too short");
  expect_refused(write("magic", "PK\x08\x01" + values(8)), "not an IDX file");
  expect_refused(write("type", header(0x0D, {4}) + values(16)), "allowed: 0x08");
  expect_refused(write("ndims0", std::string("\0\0\x08\0", 4)), "dimensions; allowed: 1 to 8");
  expect_refused(write("header", header(0x08, {3, 28, 28}).substr(0, 10)), "truncated IDX header");
  expect_refused(write("data", header(0x08, {3, 28, 28}) + values(100)), "(truncated)");
  expect_refused(write("trailing", header(0x08, {2}) + values(3)), "(trailing data)");
  expect_refused(write("overflow", header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu})),
                 "overflow");
}

TEST_F(IdxFiles, RefusesDamagedGzip) {
  const std::string bytes = header(0x08, {4, 28, 28}) + values(4 * 28 * 28);
  const auto good = write_gz("good.gz", bytes);
  std::ifstream in(good, std::ios::binary);
  const std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  expect_refused(write("cut.gz", gz.substr(0, gz.size() / 2)), "truncated gzip");
  std::string flipped = gz;
  for (std::size_t i = 20; i < 60 && i < flipped.size(); ++i) flipped[i] = static_cast<char>(~flipped[i]);
  expect_refused(write("flipped.gz", flipped), "gzip");
}

TEST(Idx, ParsesFromMemoryWithoutTrustingTheHeader) {
  // A header that claims 4 G values in a 20-byte buffer must not allocate them.
  const std::string lie = header(0x08, {0x10000u, 0x10000u}) + values(4);
  EXPECT_THROW(parse_idx(lie, "lie"), DataError);
}

}  // namespace
}  // namespace scalebench::datasets
