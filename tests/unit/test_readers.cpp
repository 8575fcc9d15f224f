// The dataset readers on small files in each real format, written here into a temporary folder:
// MNIST-style IDX (plain and gzipped), CIFAR-10 binary batches, an aclImdb tree, an image folder of
// PNG and JPEG files (written with stb_image_write), which is decoded lazily, per batch, to exactly
// the bytes an eager decode of the same files gives. Then the damage each must refuse, with a
// DataError that names the file or folder.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <unistd.h>

#include "datasets/cifar10.hpp"
#include "datasets/cifar_parse.hpp"
#include "datasets/imagefolder.hpp"
#include "datasets/imdb.hpp"
#include "datasets/input_rows.hpp"
#include "datasets/mnist.hpp"
#include "datasets/real_source.hpp"
#include "datasets/sampler.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

namespace fs = std::filesystem;

namespace scalebench::datasets {
namespace {

std::string idx(std::initializer_list<std::uint32_t> dims, const std::string& values) {
  std::string h = {0, 0, 8, static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return h + values;
}

std::string pixels(std::size_t n, int salt) {
  std::string v(n, '\0');
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>((i * 7 + static_cast<std::size_t>(salt)) % 256);
  return v;
}

class Readers : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("scalebench_readers_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const fs::path& rel, const std::string& bytes) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  std::string write_gz(const fs::path& rel, const std::string& bytes) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return p.string();
  }
  // A small MNIST folder: n_train / n_test images of 28x28, labels i % 10.
  void write_mnist(const fs::path& rel, int n_train, int n_test, bool gz) {
    auto labels = [](int n) {
      std::string l;
      for (int i = 0; i < n; ++i) l.push_back(static_cast<char>(i % 10));
      return l;
    };
    auto put = [&](const std::string& name, const std::string& bytes) {
      gz ? write_gz(rel / (name + ".gz"), bytes) : write(rel / name, bytes);
    };
    put("train-images-idx3-ubyte", idx({std::uint32_t(n_train), 28, 28}, pixels(n_train * 784u, 1)));
    put("train-labels-idx1-ubyte", idx({std::uint32_t(n_train)}, labels(n_train)));
    put("t10k-images-idx3-ubyte", idx({std::uint32_t(n_test), 28, 28}, pixels(n_test * 784u, 2)));
    put("t10k-labels-idx1-ubyte", idx({std::uint32_t(n_test)}, labels(n_test)));
  }
  static std::string cifar_records(int n, int salt) {
    std::string out;
    for (int r = 0; r < n; ++r) {
      out.push_back(static_cast<char>((r + salt) % 10));
      out += pixels(kCifarPixels, r + salt);
    }
    return out;
  }
  void write_cifar(const fs::path& rel) {
    for (int i = 1; i <= 5; ++i) write(rel / ("data_batch_" + std::to_string(i) + ".bin"), cifar_records(2, i));
    write(rel / "test_batch.bin", cifar_records(3, 9));
  }
  void write_png(const fs::path& rel, int w, int h, int channels, std::uint8_t value) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * channels), value);
    ASSERT_TRUE(stbi_write_png(p.c_str(), w, h, channels, px.data(), w * channels));
  }
  void write_jpg(const fs::path& rel, int w, int h, std::uint8_t value) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * 3), value);
    ASSERT_TRUE(stbi_write_jpg(p.c_str(), w, h, 3, px.data(), 95));
  }

  // `fn` must throw a DataError whose message contains `names` and `problem`.
  static void expect_data_error(const std::function<void()>& fn, const std::string& names,
                                const std::string& problem) {
    try {
      fn();
      ADD_FAILURE() << "accepted; expected an error naming " << names;
    } catch (const DataError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(names), std::string::npos) << what;
      EXPECT_NE(what.find(problem), std::string::npos) << what;
    }
  }

  // An image whose every pixel differs (a gradient salted by `salt`), so that decoding, resizing
  // and the channel order all show in the bytes.
  void write_pattern(const fs::path& rel, int w, int h, int channels, int salt, bool jpg) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * channels));
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 13 + static_cast<std::size_t>(salt) * 31) % 251);
    ASSERT_TRUE(jpg ? stbi_write_jpg(p.c_str(), w, h, channels, px.data(), 90)
                    : stbi_write_png(p.c_str(), w, h, channels, px.data(), w * channels));
  }

  fs::path dir_;
};

// Every row of a set decoded from files, as one tensor.
torch::Tensor decoded(const LabelledSet& set) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(set.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  return input_rows(set, all, 2);
}

// What read_imagefolder held before it decoded lazily: every file decoded at load, in file order.
LabelledSet eager(const LabelledSet& lazy) {
  const auto& s = lazy.sample_shape;
  LabelledSet out{torch::empty({lazy.size(), s[0], s[1], s[2]}, torch::kUInt8), lazy.labels, s, {}};
  for (std::int64_t i = 0; i < lazy.size(); ++i) {
    decode_image_into(lazy.files[static_cast<std::size_t>(i)], s[0], s[1], s[2],
                      out.inputs.data_ptr<std::uint8_t>() + i * s[0] * s[1] * s[2]);
  }
  return out;
}

// --- MNIST / Fashion-MNIST --------------------------------------------------------------------
TEST_F(Readers, MnistPlainAndGzipped) {
  write_mnist("plain", 12, 5, false);
  write_mnist("gz", 12, 5, true);
  for (const char* sub : {"plain", "gz"}) {
    const TrainTest tt = read_mnist_dir((dir_ / sub).string());
    EXPECT_EQ(tt.train.inputs.sizes(), (std::vector<std::int64_t>{12, 1, 28, 28}));
    EXPECT_EQ(tt.train.inputs.scalar_type(), torch::kUInt8);
    EXPECT_EQ(tt.test.size(), 5);
    EXPECT_EQ(tt.train.sample_shape, (std::vector<std::int64_t>{1, 28, 28}));
    EXPECT_EQ(tt.train.labels[11].item<std::int64_t>(), 1);
    EXPECT_EQ(tt.train.labels.scalar_type(), torch::kInt64);
    // Pixel (image 1, row 2, col 3) is value 784 + 2*28 + 3 of the file.
    EXPECT_EQ(tt.train.inputs[1][0][2][3].item<int>(), static_cast<int>(((784 + 59) * 7 + 1) % 256));
  }
}

TEST_F(Readers, MnistRefusesBadFolders) {
  expect_data_error([&] { read_mnist_dir((dir_ / "nowhere").string()); }, "nowhere", "not a directory");
  write_mnist("m", 4, 2, false);
  fs::remove(dir_ / "m" / "t10k-labels-idx1-ubyte");
  expect_data_error([&] { read_mnist_dir((dir_ / "m").string()); }, "t10k-labels-idx1-ubyte", "missing");
  // Counts disagree.
  write("m/t10k-labels-idx1-ubyte", idx({3}, std::string("\1\2\3")));
  expect_data_error([&] { read_mnist_dir((dir_ / "m").string()); }, "t10k-labels-idx1-ubyte",
                    "holds 3 labels but");
  // A label of 10.
  write("m/t10k-labels-idx1-ubyte", idx({2}, std::string("\1\x0a")));
  expect_data_error([&] { read_mnist_dir((dir_ / "m").string()); }, "t10k-labels-idx1-ubyte", "label 10");
  // Wrong magic, truncated data (the IDX reader's messages, with this file's name).
  write("m/t10k-labels-idx1-ubyte", "PK\3\4zzzz");
  expect_data_error([&] { read_mnist_dir((dir_ / "m").string()); }, "t10k-labels-idx1-ubyte", "not an IDX file");
  write("m/t10k-labels-idx1-ubyte", idx({2}, std::string("\1")));
  expect_data_error([&] { read_mnist_dir((dir_ / "m").string()); }, "t10k-labels-idx1-ubyte", "truncated");
  // Labels given as images: 3 dimensions where 1 belongs.
  write("m/t10k-labels-idx1-ubyte", idx({2, 28, 28}, pixels(2 * 784, 0)));
  expect_data_error([&] { read_mnist_dir((dir_ / "m").string()); }, "t10k-labels-idx1-ubyte", "1 dimension");
}

// --- CIFAR-10 ---------------------------------------------------------------------------------
TEST_F(Readers, Cifar10Batches) {
  write_cifar("c");
  const TrainTest tt = read_cifar10_dir((dir_ / "c").string());
  EXPECT_EQ(tt.train.inputs.sizes(), (std::vector<std::int64_t>{10, 3, 32, 32}));
  EXPECT_EQ(tt.test.size(), 3);
  // data_batch_2's first record: label (0 + 2) % 10, pixel k = (k*7 + 2) % 256; CHW as stored.
  EXPECT_EQ(tt.train.labels[2].item<std::int64_t>(), 2);
  EXPECT_EQ(tt.train.inputs[2][1][0][5].item<int>(), ((1024 + 5) * 7 + 2) % 256);
  EXPECT_EQ(tt.test.labels[2].item<std::int64_t>(), (2 + 9) % 10);
  // The tarball's folder name is looked into.
  write_cifar("outer/cifar-10-batches-bin");
  EXPECT_EQ(read_cifar10_dir((dir_ / "outer").string()).test.size(), 3);
}

TEST_F(Readers, Cifar10RefusesDamage) {
  write_cifar("c");
  fs::remove(dir_ / "c" / "data_batch_4.bin");
  expect_data_error([&] { read_cifar10_dir((dir_ / "c").string()); }, "data_batch_4.bin", "missing");
  const std::string good = cifar_records(2, 0);
  write("c/data_batch_4.bin", good.substr(0, good.size() - 100));
  expect_data_error([&] { read_cifar10_dir((dir_ / "c").string()); }, "data_batch_4.bin",
                    "not a whole number of 3073-byte");
  std::string bad_label = good;
  bad_label[kCifarRecord] = 10;
  write("c/data_batch_4.bin", bad_label);
  expect_data_error([&] { read_cifar10_dir((dir_ / "c").string()); }, "data_batch_4.bin", "record 1 has label 10");
  write("c/data_batch_4.bin", "");
  expect_data_error([&] { read_cifar10_dir((dir_ / "c").string()); }, "data_batch_4.bin", "empty");
  expect_data_error([&] { read_cifar10_dir((dir_ / "none").string()); }, "none", "not a directory");
}

TEST(CifarParse, ParsesFromMemory) {
  std::string bytes(2 * kCifarRecord, '\0');
  bytes[0] = 3;
  bytes[kCifarRecord] = 9;
  bytes[kCifarRecord + 1] = static_cast<char>(200);
  const CifarRecords r = parse_cifar10(bytes, "mem");
  EXPECT_EQ(r.count, 2u);
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{3, 9}));
  ASSERT_EQ(r.pixels.size(), 2 * kCifarPixels);
  EXPECT_EQ(r.pixels[kCifarPixels], 200);
}

// --- IMDB -------------------------------------------------------------------------------------
TEST(Imdb, TokenizesAsDocumented) {
  EXPECT_EQ(imdb_tokenize("It's GREAT!<br /><br />10/10, don't 'miss' it... ''"),
            (std::vector<std::string>{"it's", "great", "10", "10", "don't", "'miss'", "it"}));
  EXPECT_EQ(imdb_tokenize("caf\xc3\xa9-au-lait"), (std::vector<std::string>{"caf\xc3\xa9", "au", "lait"}));
  EXPECT_TRUE(imdb_tokenize("  ... <br /> ").empty());
}

TEST(Imdb, RanksWordsByCountThenBytesAndEncodesKerasStyle) {
  const auto index = imdb_word_index({{"b", "a", "c", "a"}, {"c", "d", "a"}});
  // a:3, c:2, b:1, d:1 -> b before d (tie, by bytes).
  EXPECT_EQ(index.at("a"), 4);
  EXPECT_EQ(index.at("c"), 5);
  EXPECT_EQ(index.at("b"), 6);
  EXPECT_EQ(index.at("d"), 7);
  // Vocabulary 6: ids 0..5, so b and d and unknown words become 2; pad/truncate at the front.
  EXPECT_EQ(imdb_encode({"a", "b", "zz", "c"}, index, 6, 7),
            (std::vector<std::int64_t>{0, 0, 1, 4, 2, 2, 5}));
  EXPECT_EQ(imdb_encode({"a", "b", "zz", "c"}, index, 6, 3), (std::vector<std::int64_t>{2, 2, 5}));
}

TEST_F(Readers, ImdbTree) {
  write("aclImdb/train/pos/0_9.txt", "Great great film.<br />Loved it");
  write("aclImdb/train/pos/1_8.txt", "great acting");
  write("aclImdb/train/neg/0_1.txt", "Awful film");
  write("aclImdb/train/neg/urls.list", "ignored: not .txt");
  write("aclImdb/test/pos/0_10.txt", "great unseenword");
  write("aclImdb/test/neg/0_2.txt", "awful awful");
  const TrainTest tt = read_imdb_dir((dir_ / "aclImdb").string(), 8, 5);
  ASSERT_EQ(tt.train.size(), 3);
  EXPECT_EQ(tt.train.sample_shape, (std::vector<std::int64_t>{5}));
  // neg first, then pos, files sorted: labels 0, 1, 1.
  EXPECT_TRUE(torch::equal(tt.train.labels, torch::tensor({0, 1, 1}, torch::kInt64)));
  // Train counts: great 3, film 2, acting/awful/it/loved 1 (bytes order): great=4, film=5,
  // acting=6, awful=7, it=8 (>= vocabulary 8: out of vocabulary), loved=9.
  EXPECT_TRUE(torch::equal(tt.train.inputs[0], torch::tensor({0, 0, 1, 7, 5}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(tt.train.inputs[1], torch::tensor({4, 4, 5, 2, 2}, torch::kInt64)));
  // Test words unseen in train are out of vocabulary; test counts never enter the ranking.
  EXPECT_TRUE(torch::equal(tt.test.inputs[0], torch::tensor({0, 0, 1, 7, 7}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(tt.test.inputs[1], torch::tensor({0, 0, 1, 4, 2}, torch::kInt64)));
}

TEST_F(Readers, ImdbRefusesMissingOrEmptyFolders) {
  write("a/train/pos/0_9.txt", "good");
  write("a/train/neg/0_1.txt", "bad");
  write("a/test/pos/0_9.txt", "good");
  expect_data_error([&] { read_imdb_dir((dir_ / "a").string(), 100, 10); }, (dir_ / "a/test/neg").string(), "missing");
  fs::create_directories(dir_ / "a/test/neg");
  expect_data_error([&] { read_imdb_dir((dir_ / "a").string(), 100, 10); }, (dir_ / "a/test/neg").string(), "no .txt");
  expect_data_error([&] { read_imdb_dir((dir_ / "b").string(), 100, 10); }, "b", "not a directory");
}

// --- Image folders ----------------------------------------------------------------------------
TEST_F(Readers, ImageFolderWithTrainAndTest) {
  write_png("f/train/cat/1.png", 20, 10, 3, 255);
  write_jpg("f/train/cat/2.JPG", 16, 16, 255);
  write_png("f/train/dog/1.png", 8, 8, 1, 0);
  write("f/train/dog/notes.txt", "not an image: ignored");
  write_png("f/test/cat/1.png", 8, 8, 3, 255);
  write_png("f/test/dog/1.png", 8, 8, 3, 0);
  EXPECT_EQ(imagefolder_classes((dir_ / "f").string()), (std::vector<std::string>{"cat", "dog"}));
  const TrainTest tt = read_imagefolder((dir_ / "f").string(), 3, 6, 5, 0.2);
  EXPECT_TRUE(tt.train.decodes_from_files());
  const torch::Tensor train = decoded(tt.train);
  EXPECT_EQ(train.sizes(), (std::vector<std::int64_t>{3, 3, 6, 5}));
  EXPECT_TRUE(torch::equal(tt.train.labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  EXPECT_EQ(tt.test.size(), 2);
  // Uniform images stay uniform through decode + resize (JPEG within its rounding).
  EXPECT_GE(train[0].min().item<int>(), 254);
  EXPECT_GE(train[1].min().item<int>(), 250);
  EXPECT_EQ(train[2].max().item<int>(), 0);
  // Grey decoding of the same folder gives one channel.
  EXPECT_EQ(decoded(read_imagefolder((dir_ / "f").string(), 1, 4, 4, 0.2).train).size(1), 1);
}

TEST_F(Readers, ImageFolderCarvesAFixedTestSplit) {
  for (int i = 0; i < 10; ++i) {
    write_png("g/a/" + std::to_string(i) + ".png", 4, 4, 3, static_cast<std::uint8_t>(i));
    write_png("g/b/" + std::to_string(i) + ".png", 4, 4, 3, static_cast<std::uint8_t>(100 + i));
  }
  const TrainTest one = read_imagefolder((dir_ / "g").string(), 3, 4, 4, 0.25);
  const TrainTest two = read_imagefolder((dir_ / "g").string(), 3, 4, 4, 0.25);
  EXPECT_EQ(one.test.size(), 5);
  EXPECT_EQ(one.train.size(), 15);
  EXPECT_TRUE(torch::equal(decoded(one.test), decoded(two.test)));
  EXPECT_EQ(one.test.files, two.test.files);
  // Train and test are disjoint: every image has a distinct value.
  std::set<int> values;
  const torch::Tensor train = decoded(one.train), test = decoded(one.test);
  for (int i = 0; i < 15; ++i) values.insert(train[i][0][0][0].item<int>());
  for (int i = 0; i < 5; ++i) values.insert(test[i][0][0][0].item<int>());
  EXPECT_EQ(values.size(), 20u);
}

// The lazy decode changes nothing a run sees: the same files in the same splits (sorted classes,
// sorted files, the fixed test carve, the seeded validation carve), and every batch of the
// training and evaluation sources, prefetched and decoded with several threads, bit-identical to
// the batch of an eagerly decoded copy of the same splits (what every rank held before).
TEST_F(Readers, ImageFolderDecodesLazilyExactlyAsTheEagerDecode) {
  for (int i = 0; i < 14; ++i) {
    write_pattern("lazy/cat/" + std::to_string(i) + ".png", 9 + i, 7 + (i % 3), 3, i, false);
    write_pattern("lazy/dog/" + std::to_string(i) + ".jpg", 12, 10 + i, 3, 100 + i, true);
  }
  write_pattern("lazy/dog/grey.png", 6, 6, 1, 7, false);  // stb converts grey to RGB
  const std::string dir = (dir_ / "lazy").string();
  constexpr std::int64_t kC = 3, kH = 10, kW = 8;

  // The file lists: sorted within each class, classes in order, train and test a partition.
  const TrainTest tt = read_imagefolder(dir, kC, kH, kW, 0.2);
  EXPECT_EQ(tt.test.size(), 6);  // round(0.2 * 29)
  std::vector<std::string> all = tt.train.files;
  all.insert(all.end(), tt.test.files.begin(), tt.test.files.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected;
  for (const char* cls : {"cat", "dog"}) {
    for (const auto& e : fs::directory_iterator(dir_ / "lazy" / cls)) expected.push_back(e.path().string());
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
  for (const LabelledSet* set : {&tt.train, &tt.test}) {
    EXPECT_TRUE(std::is_sorted(set->files.begin(), set->files.end()));
    for (std::int64_t i = 0; i < set->size(); ++i) {
      const bool dog = set->files[static_cast<std::size_t>(i)].find("/dog/") != std::string::npos;
      EXPECT_EQ(set->labels[i].item<std::int64_t>(), dog ? 1 : 0);
    }
  }
  // One thread or four: the same bytes as the eager decode.
  const LabelledSet eager_train = eager(tt.train);
  std::vector<std::int64_t> rows{5, 0, 17, 3, 3, 22};
  for (int threads : {1, 4}) {
    EXPECT_TRUE(torch::equal(input_rows(tt.train, rows, threads),
                             eager_train.inputs.index_select(0, torch::tensor(rows))));
  }

  // Through the registry: the sources decode lazily in their prefetch threads.
  SourceSpec spec;
  spec.dataset = "imagefolder";
  spec.data_dir = dir;
  spec.input_shape = {kC, kH, kW};
  spec.num_classes = 2;
  spec.batch_per_rank = 3;
  spec.world_size = 2;
  spec.rank = 1;
  spec.seed = 11;
  spec.validation_fraction = 0.25;
  spec.prefetch = 2;
  spec.decode_threads = 3;
  LabelledSet train = eager_train, validation;  // the eager splits, carved as the registry carves
  carve_validation(train, validation, spec.validation_fraction, spec.seed);
  ShardedSampler sampler(train.size(), spec.batch_per_rank * spec.world_size, spec.world_size, spec.rank, spec.seed);
  auto source = make_batch_source(spec);
  ASSERT_EQ(source->steps_per_epoch(), sampler.steps_per_epoch());
  for (std::int64_t step = 0; step < 2 * sampler.steps_per_epoch(); ++step) {
    const Batch lazy = source->batch(step);
    const Batch ref = gather_batch(train, sampler.indices(step), spec, sampler.global_size(step));
    EXPECT_TRUE(torch::equal(lazy.inputs, ref.inputs)) << step;
    EXPECT_TRUE(torch::equal(lazy.targets, ref.targets)) << step;
    EXPECT_EQ(lazy.global_samples, ref.global_samples);
  }
  auto val = make_eval_source(spec, Split::kValidation);
  ASSERT_EQ(val->samples(), validation.size());
  const Shard shard = contiguous_shard(validation.size(), spec.world_size, spec.rank);
  for (int pass = 0; pass < 2; ++pass) {  // a second evaluation restarts the prefetcher at 0
    for (std::int64_t i = 0; i < val->steps(); ++i) {
      std::vector<std::int64_t> r;
      for (std::int64_t k = i * spec.batch_per_rank; k < std::min(shard.count, (i + 1) * spec.batch_per_rank); ++k) {
        r.push_back(shard.first + k);
      }
      const Batch lazy = val->batch(i);
      EXPECT_TRUE(torch::equal(lazy.inputs, gather_batch(validation, r, spec, 0).inputs)) << i;
    }
  }
}

TEST(InputRows, DecodesWithAtMostTheThreadsItIsGiven) {
  std::atomic<int> running{0}, most{0};
  std::atomic<std::int64_t> done{0};
  parallel_for_bounded(40, 3, [&](std::int64_t) {
    const int now = ++running;
    for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --running;
    ++done;
  });
  EXPECT_EQ(done, 40);
  EXPECT_LE(most, 3);
  // Two calls at once (two sources' prefetch threads) share the bound.
  running = 0;
  most = 0;
  auto body = [&](std::int64_t) {
    const int now = ++running;
    for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --running;
  };
  std::thread other([&] { parallel_for_bounded(30, 3, body); });
  parallel_for_bounded(30, 3, body);
  other.join();
  EXPECT_LE(most, 3);
  EXPECT_THROW(parallel_for_bounded(10, 2, [](std::int64_t i) {
                 if (i == 4) throw DataError("x.png: image does not decode");
               }), DataError);
}

TEST_F(Readers, ImageFolderRefusesBadImagesAndEmptyClasses) {
  write_png("h/a/1.png", 4, 4, 3, 1);
  write("h/b/broken.png", "\x89PNG but not really");
  expect_data_error([&] { read_imagefolder((dir_ / "h").string(), 3, 4, 4, 0.5); },
                    (dir_ / "h/b/broken.png").string(), "does not decode");
  fs::remove(dir_ / "h/b/broken.png");
  expect_data_error([&] { imagefolder_classes((dir_ / "h").string()); }, (dir_ / "h/b").string(),
                    "holds no .jpg");
  expect_data_error([&] { imagefolder_classes((dir_ / "nope").string()); }, "nope", "not a directory");
  fs::create_directories(dir_ / "empty");
  expect_data_error([&] { imagefolder_classes((dir_ / "empty").string()); }, "empty", "no class folders");
  // A test/ whose classes differ from train/'s.
  write_png("s/train/a/1.png", 4, 4, 3, 1);
  write_png("s/test/z/1.png", 4, 4, 3, 1);
  expect_data_error([&] { read_imagefolder((dir_ / "s").string(), 3, 4, 4, 0.5); }, (dir_ / "s/test").string(),
                    "class folders differ");
}

}  // namespace
}  // namespace scalebench::datasets
