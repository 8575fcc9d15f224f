// One copy of a small dataset per node: the node's rank 0 reads it into an MPI shared-memory
// window, every rank of the node maps the same pages. At any world size and layout: the node's
// ranks see one segment (the same file mapped, and a byte one rank writes is read by another), the
// batches are bit-identical to those of a rank that loads the dataset alone (so training on them
// is unchanged), and a reader's error reaches every rank of its node as the same DataError.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "datasets/batch_source.hpp"
#include "datasets/shared_splits.hpp"
#include "runtime/node_share_mpi.hpp"
#include "runtime/node_shared_memory.hpp"
#include "runtime/world.hpp"
#include "tests/support/mnist_files.hpp"

namespace fs = std::filesystem;

namespace scalebench {
namespace {

// The device and inode of the mapping that holds `p` (from /proc/self/maps), or "" if none.
std::string mapping_of(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    std::uintptr_t lo = 0, hi = 0;
    char perms[8] = {0}, dev[16] = {0};
    unsigned long offset = 0, inode = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &offset, dev, &inode) == 6 &&
        addr >= lo && addr < hi) {
      return std::string(dev) + ":" + std::to_string(inode) + (perms[3] == 's' ? " shared" : " private");
    }
  }
  return "";
}

TEST(NodeSharedMemory, OneSegmentPerNodeThatEveryRankSees) {
  const World& w = World::get();
  NodeSharedMemory memory(w.node_comm(), 1 << 20);
  ASSERT_NE(memory.data(), nullptr);
  EXPECT_EQ(memory.size(), 1u << 20);
  if (w.local_rank() == 0) {
    for (std::size_t i = 0; i < memory.size(); ++i) memory.data()[i] = static_cast<std::uint8_t>(i % 251);
  }
  memory.publish();
  bool same = true;
  for (std::size_t i = 0; i < memory.size(); ++i) same = same && memory.data()[i] == i % 251;
  EXPECT_TRUE(same);
  memory.publish();  // every rank has read before one writes
  // The same pages, not copies: the node's last rank writes, its rank 0 reads.
  if (w.local_rank() == w.local_size() - 1) memory.data()[7] = 200;
  memory.publish();
  EXPECT_EQ(memory.data()[7], 200);
  // Every rank of the node maps one shared file-backed segment (a node of one rank may get plain
  // memory: Open MPI's osc/sm allocates a one-process window with malloc).
  const std::string mine = mapping_of(memory.data());
  if (w.local_size() > 1) EXPECT_NE(mine.find(" shared"), std::string::npos) << mine;
  for (const auto& other : w.allgather_strings_in_node(mine)) EXPECT_EQ(other, mine);
}

datasets::DatasetSplits header() {
  datasets::DatasetSplits h;
  h.name = "tiny";
  h.classes = 3;
  return h;
}

TEST(SharedSplits, EveryRankOfTheNodeViewsTheReadersOneCopy) {
  const World& w = World::get();
  auto node = mpi_node_share(w);
  int reads = 0;
  auto splits = datasets::load_shared_on_node(*node, header(), [&](datasets::DatasetSplits& s) {
    ++reads;
    s.train = {torch::arange(60, torch::kInt64).to(torch::kUInt8).reshape({20, 1, 3}), torch::arange(20) % 3, {1, 3}, {}};
    s.validation = {torch::empty({0, 1, 3}, torch::kUInt8), torch::empty({0}, torch::kInt64), {1, 3}, {}};
    s.test = {torch::full({4, 1, 3}, 9, torch::kUInt8), torch::zeros({4}, torch::kInt64), {1, 3}, {}};
  });
  EXPECT_EQ(reads, w.local_rank() == 0 ? 1 : 0) << "only the node's rank 0 reads";
  ASSERT_NE(splits->shared_memory, nullptr);
  EXPECT_EQ(splits->name, "tiny");
  EXPECT_EQ(splits->train.sample_shape, (std::vector<std::int64_t>{1, 3}));
  EXPECT_TRUE(torch::equal(splits->train.inputs, torch::arange(60, torch::kInt64).to(torch::kUInt8).reshape({20, 1, 3})));
  EXPECT_TRUE(torch::equal(splits->train.labels, torch::arange(20) % 3));
  EXPECT_EQ(splits->validation.size(), 0);
  EXPECT_EQ(splits->test.inputs.sum().item<std::int64_t>(), 9 * 12);
  // Every split lies in the one segment the node's ranks share.
  const std::string mine = mapping_of(splits->train.inputs.data_ptr());
  if (w.local_size() > 1) EXPECT_NE(mine.find(" shared"), std::string::npos) << mine;
  EXPECT_EQ(mapping_of(splits->test.labels.data_ptr()), mine);
  for (const auto& other : w.allgather_strings_in_node(mine)) EXPECT_EQ(other, mine);
  w.barrier();  // no rank frees the window (collective) while another still reads it
}

TEST(SharedSplits, TheReadersErrorReachesEveryRankOfTheNode) {
  const World& w = World::get();
  auto node = mpi_node_share(w);
  try {
    datasets::load_shared_on_node(*node, header(), [](datasets::DatasetSplits&) {
      throw datasets::DataError("/data/t10k-images-idx3-ubyte.gz: truncated");
    });
    ADD_FAILURE() << "no error on rank " << w.rank();
  } catch (const datasets::DataError& e) {
    EXPECT_STREQ(e.what(), "/data/t10k-images-idx3-ubyte.gz: truncated");
  }
  // Then the world agrees on it as on any usage error: one message on every rank.
  EXPECT_EQ(w.agree_on_error("/data/t10k-images-idx3-ubyte.gz: truncated"), "/data/t10k-images-idx3-ubyte.gz: truncated");
}

// A small MNIST folder (image i filled with i, label i % 10), written by rank 0 for everyone.
class SharedMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    const World& w = World::get();
    dir_ = fs::temp_directory_path() / ("scalebench_node_share_" + w.broadcast_string(std::to_string(::getpid())));
    if (w.is_root()) {
      fs::remove_all(dir_);
      fs::create_directories(dir_);
      write_pair("train", 90);
      write_pair("t10k", 13);
    }
    w.barrier();
  }
  void TearDown() override {
    World::get().barrier();
    if (World::get().is_root()) fs::remove_all(dir_);
  }
  void write_pair(const std::string& prefix, std::uint32_t n) {
    test_support::write_mnist_pair(dir_, prefix, n);  // image i all of value i, label i % 10
  }
  datasets::SourceSpec spec(std::shared_ptr<datasets::NodeShare> node) const {
    const World& w = World::get();
    datasets::SourceSpec s;
    s.dataset = "mnist";
    s.data_dir = dir_.string();
    s.input_shape = {3, 32, 32};  // Model A/B's input: resized and grey -> RGB per batch
    s.num_classes = 10;
    s.batch_per_rank = 4;
    s.rank = w.rank();
    s.world_size = w.size();
    s.seed = 3;
    s.validation_fraction = 0.2;
    s.prefetch = 2;
    s.node_share = std::move(node);
    return s;
  }
  fs::path dir_;
};

struct Seen {
  std::vector<torch::Tensor> train, test;
};

Seen batches_of(const datasets::SourceSpec& s) {
  Seen seen;
  auto train = datasets::make_batch_source(s);
  for (std::int64_t step = 0; step < 2 * train->steps_per_epoch() + 1; ++step) {
    const datasets::Batch b = train->batch(step);
    seen.train.push_back(torch::cat({b.inputs.flatten(1), b.targets.unsqueeze(1).to(torch::kFloat32)}, 1));
  }
  auto test = datasets::make_eval_source(s, datasets::Split::kTest);
  for (std::int64_t i = 0; i < test->steps(); ++i) seen.test.push_back(test->batch(i).inputs);
  return seen;
}

TEST_F(SharedMnist, BatchesAreBitIdenticalToARankThatLoadsAlone) {
  // First each rank alone (its own copy), then the node sharing one: the same batches, so the
  // same training. (Each load is dropped before the next: the cache would otherwise serve it.)
  const Seen alone = batches_of(spec(datasets::process_local_share()));
  const Seen shared = batches_of(spec(mpi_node_share(World::get())));
  ASSERT_EQ(alone.train.size(), shared.train.size());
  for (std::size_t i = 0; i < alone.train.size(); ++i) EXPECT_TRUE(torch::equal(alone.train[i], shared.train[i])) << i;
  ASSERT_EQ(alone.test.size(), shared.test.size());
  for (std::size_t i = 0; i < alone.test.size(); ++i) EXPECT_TRUE(torch::equal(alone.test[i], shared.test[i])) << i;
}

TEST_F(SharedMnist, AMissingFileIsOneDataErrorOnEveryRank) {
  if (World::get().is_root()) fs::remove(dir_ / "t10k-labels-idx1-ubyte");
  World::get().barrier();
  std::string error;
  try {
    datasets::make_batch_source(spec(mpi_node_share(World::get())));
  } catch (const datasets::DataError& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("t10k-labels-idx1-ubyte"), std::string::npos) << "rank " << World::get().rank() << ": " << error;
  EXPECT_TRUE(World::get().all_equal(std::hash<std::string>{}(error)));
}

}  // namespace
}  // namespace scalebench
