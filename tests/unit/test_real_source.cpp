// Preprocessing, the dataset-vs-model check, the registry's errors, the training source (the
// prefetching source must yield exactly what a synchronous pass yields), the evaluation shards,
// the validation carve, and -- when the package is installed -- the real Fashion-MNIST.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <unistd.h>

#include "datasets/batch_source.hpp"
#include "datasets/mnist.hpp"
#include "datasets/prefetcher.hpp"
#include "datasets/preprocess.hpp"
#include "datasets/real_source.hpp"
#include "models/registry.hpp"
#include "tests/support/mnist_files.hpp"

namespace fs = std::filesystem;

namespace scalebench::datasets {
namespace {

SourceSpec image_spec(std::vector<std::int64_t> shape, std::int64_t classes = 10) {
  SourceSpec s;
  s.input_shape = std::move(shape);
  s.input_dtype = torch::kFloat32;
  s.num_classes = classes;
  return s;
}
SourceSpec token_spec(std::int64_t length, std::int64_t classes = 2) {
  SourceSpec s;
  s.input_shape = {length};
  s.input_dtype = torch::kInt64;
  s.vocabulary = 20000;
  s.num_classes = classes;
  return s;
}

// --- Preprocessing ----------------------------------------------------------------------------
TEST(Preprocess, ScalesResizesBilinearlyAndCopiesGreyToRgb) {
  // One 1x2 grey row [0, 255] to 1x4: half-pixel centres give [0, 0.25, 0.75, 1].
  const torch::Tensor raw = torch::tensor({0, 255}, torch::kUInt8).reshape({1, 1, 1, 2});
  const torch::Tensor x = to_model_input(raw, {3, 1, 4}, torch::kFloat32);
  ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{1, 3, 1, 4}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(x[0][0][0], torch::tensor({0.0f, 0.25f, 0.75f, 1.0f})));
  EXPECT_TRUE(torch::equal(x[0][0], x[0][2]));  // the grey value in every channel
  // 28x28 MNIST to Model A's 32x32x3: a constant stays constant, scaled by 1/255.
  const torch::Tensor mnist = torch::full({2, 1, 28, 28}, 51, torch::kUInt8);
  const torch::Tensor a = to_model_input(mnist, {3, 32, 32}, torch::kFloat32);
  EXPECT_EQ(a.sizes(), (std::vector<std::int64_t>{2, 3, 32, 32}));
  EXPECT_TRUE(torch::allclose(a, torch::full_like(a, 0.2f)));
  // Same size: only scaled.
  const torch::Tensor same = to_model_input(mnist, {1, 28, 28}, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(same, torch::full({2, 1, 28, 28}, 0.2f)));
}

TEST(Preprocess, FlattensForVectorModelsPassesTokensAndHandlesEmptyBatches) {
  const torch::Tensor raw = torch::arange(2 * 784).remainder(256).to(torch::kUInt8).reshape({2, 1, 28, 28});
  const torch::Tensor v = to_model_input(raw, {784}, torch::kFloat32);
  EXPECT_EQ(v.sizes(), (std::vector<std::int64_t>{2, 784}));
  EXPECT_FLOAT_EQ(v[1][3].item<float>(), static_cast<float>((784 + 3) % 256) / 255.0f);
  const torch::Tensor ids = torch::tensor({{0, 1, 5}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(to_model_input(ids, {3}, torch::kInt64), ids));
  const torch::Tensor none = to_model_input(torch::empty({0, 1, 28, 28}, torch::kUInt8), {3, 32, 32},
                                            torch::kFloat32);
  EXPECT_EQ(none.sizes(), (std::vector<std::int64_t>{0, 3, 32, 32}));
}

// --- Dataset vs model -------------------------------------------------------------------------
const std::vector<DatasetInfo> kKnown = {{"mnist", SampleKind::kImage, {1, 28, 28}, 10},
                                         {"cifar10", SampleKind::kImage, {3, 32, 32}, 10},
                                         {"imdb", SampleKind::kTokens, {}, 2},
                                         {"imagefolder", SampleKind::kImage, {}, 0}};

std::string refusal(const DatasetInfo& d, const SourceSpec& s) {
  try {
    check_fits(d, s, kKnown);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(Fit, AcceptsWhatTheStudiesDid) {
  EXPECT_EQ(refusal(kKnown[0], image_spec({3, 32, 32})), "");  // MNIST into Model A
  EXPECT_EQ(refusal(kKnown[0], image_spec({784})), "");        // MNIST into fcn_r
  EXPECT_EQ(refusal(kKnown[0], image_spec({1, 28, 28})), "");
  EXPECT_EQ(refusal(kKnown[1], image_spec({3, 32, 32})), "");
  EXPECT_EQ(refusal(kKnown[2], token_spec(100)), "");
  EXPECT_EQ(refusal({"imagefolder", SampleKind::kImage, {}, 2}, image_spec({3, 150, 150}, 2)), "");
}

TEST(Fit, RefusesWithReasonAndWhatFits) {
  const std::string tokens = refusal(kKnown[0], token_spec(100));
  EXPECT_NE(tokens.find("takes token ids"), std::string::npos) << tokens;
  EXPECT_NE(tokens.find("datasets that fit: imdb"), std::string::npos) << tokens;
  const std::string rgb_to_grey = refusal(kKnown[1], image_spec({1, 28, 28}));
  EXPECT_NE(rgb_to_grey.find("only grey -> RGB"), std::string::npos) << rgb_to_grey;
  EXPECT_NE(rgb_to_grey.find("mnist"), std::string::npos) << rgb_to_grey;
  const std::string classes = refusal(kKnown[1], image_spec({3, 150, 150}, 2));
  EXPECT_NE(classes.find("10 classes, the model predicts 2"), std::string::npos) << classes;
  EXPECT_NE(classes.find("imagefolder"), std::string::npos) << classes;
  EXPECT_NE(refusal(kKnown[2], image_spec({3, 32, 32})).find("does not take token ids"), std::string::npos);
  EXPECT_NE(refusal(kKnown[1], image_spec({784})).find("flat vectors of 784"), std::string::npos);
  SourceSpec tiny_vocabulary = token_spec(100);
  tiny_vocabulary.vocabulary = 2;
  EXPECT_NE(refusal(kKnown[2], tiny_vocabulary).find("reserved ids"), std::string::npos);
  EXPECT_NE(refusal({"imagefolder", SampleKind::kImage, {}, 10}, image_spec({4, 32, 32})).find("not 4"),
            std::string::npos);
}

// --- A small MNIST folder for the sources -----------------------------------------------------
class Sources : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kTrain = 50, kTest = 11;
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scalebench_sources_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_pair("train", kTrain);
    write_pair("t10k", kTest);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_pair(const std::string& prefix, std::uint32_t n) {
    test_support::write_mnist_pair(dir_, prefix, n);  // image i all of value i, label i % 10
  }
  SourceSpec spec(int rank, int world, std::int64_t prefetch) const {
    SourceSpec s = image_spec({1, 28, 28});
    s.dataset = "mnist";
    s.data_dir = dir_.string();
    s.batch_per_rank = 4;
    s.rank = rank;
    s.world_size = world;
    s.seed = 5;
    s.validation_fraction = 0.2;
    s.prefetch = prefetch;
    return s;
  }
  // The sample ids of a batch (each image is filled with its id in the file).
  static std::vector<int> ids(const Batch& b) {
    std::vector<int> out;
    for (std::int64_t i = 0; i < b.inputs.size(0); ++i) {
      out.push_back(static_cast<int>(std::lround(b.inputs[i][0][0][0].item<float>() * 255.0f)));
    }
    return out;
  }
  fs::path dir_;
};

TEST_F(Sources, PrefetchingYieldsExactlyTheSynchronousBatches) {
  auto sync = make_batch_source(spec(1, 2, 0));
  auto ahead = make_batch_source(spec(1, 2, 3));
  // 40 training samples (10 carved for validation), global batch 8: 5 steps per epoch.
  ASSERT_EQ(sync->steps_per_epoch(), 5);
  EXPECT_EQ(ahead->name(), "mnist");
  for (std::int64_t step = 0; step < 12; ++step) {
    const Batch a = sync->batch(step), b = ahead->batch(step);
    EXPECT_TRUE(torch::equal(a.inputs, b.inputs)) << step;
    EXPECT_TRUE(torch::equal(a.targets, b.targets)) << step;
    EXPECT_EQ(a.global_samples, b.global_samples);
    EXPECT_EQ(a.global_samples, 8);
  }
  // Out of order: a restart from the asked step gives the same batch.
  EXPECT_TRUE(torch::equal(ahead->batch(3).inputs, sync->batch(3).inputs));
  EXPECT_TRUE(torch::equal(ahead->batch(1).targets, sync->batch(1).targets));
}

TEST_F(Sources, RanksTogetherSeeTheTrainingSplitOncePerEpochWithLabels) {
  std::vector<std::unique_ptr<BatchSource>> ranks;
  for (int r = 0; r < 3; ++r) {
    SourceSpec s = spec(r, 3, 2);
    s.batch_per_rank = 3;  // global 9 over 40 samples: 5 steps, the last of 4 (2, 1, 1)
    ranks.push_back(make_batch_source(s));
  }
  std::multiset<int> seen;
  for (std::int64_t step = 0; step < 5; ++step) {
    std::int64_t total = 0;
    for (auto& src : ranks) {
      const Batch b = src->batch(step);
      EXPECT_EQ(b.inputs.sizes().size(), 4u);
      EXPECT_EQ(b.global_samples, step < 4 ? 9 : 4);
      total += b.inputs.size(0);
      const auto got = ids(b);
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(b.targets[static_cast<std::int64_t>(i)].item<std::int64_t>(), got[i] % 10);
        seen.insert(got[i]);
      }
    }
    EXPECT_EQ(total, step < 4 ? 9 : 4);
  }
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_EQ(std::set<int>(seen.begin(), seen.end()).size(), 40u);  // no sample twice
  // None of them is a validation sample.
  SourceSpec s = spec(0, 1, 0);
  auto val = make_eval_source(s, Split::kValidation);
  for (std::int64_t i = 0; i < val->steps(); ++i) {
    for (int id : ids(val->batch(i))) EXPECT_EQ(seen.count(id), 0u) << id;
  }
}

TEST_F(Sources, EvalShardsCoverTheSplitOnceInOrder) {
  for (int world : {1, 2, 3, 4}) {
    std::vector<int> all;
    std::int64_t steps = -1;
    for (int r = 0; r < world; ++r) {
      SourceSpec s = spec(r, world, 0);
      s.batch_per_rank = 2;
      auto test = make_eval_source(s, Split::kTest);
      EXPECT_EQ(test->samples(), kTest);
      EXPECT_EQ(test->name(), "mnist/test");
      if (steps < 0) steps = test->steps();
      EXPECT_EQ(test->steps(), steps) << "every rank runs the same number of steps";
      for (std::int64_t i = 0; i < test->steps(); ++i) {
        const Batch b = test->batch(i);
        EXPECT_LE(b.inputs.size(0), 2);
        EXPECT_GE(b.global_samples, b.inputs.size(0));
        for (int id : ids(b)) all.push_back(id);
      }
      EXPECT_THROW(test->batch(test->steps()), std::out_of_range);
    }
    std::vector<int> expected(kTest);
    for (std::uint32_t i = 0; i < kTest; ++i) expected[i] = static_cast<int>(i);
    EXPECT_EQ(all, expected) << "world " << world;
  }
}

TEST_F(Sources, ValidationCarveIsSeededAndDisjoint) {
  SourceSpec s = spec(0, 1, 0);
  auto v5 = make_eval_source(s, Split::kValidation);
  EXPECT_EQ(v5->samples(), 10);  // 0.2 of 50
  s.seed = 6;
  auto v6 = make_eval_source(s, Split::kValidation);
  EXPECT_FALSE(torch::equal(v5->batch(0).inputs, v6->batch(0).inputs));
  // Directly: the union of both parts is the original, in file order within each.
  LabelledSet train{torch::arange(20).reshape({20, 1}), torch::arange(20), {1}}, val;
  carve_validation(train, val, 0.25, 3);
  EXPECT_EQ(val.size(), 5);
  EXPECT_EQ(train.size(), 15);
  const auto merged = std::get<0>(torch::sort(torch::cat({train.labels, val.labels})));
  EXPECT_TRUE(torch::equal(merged, torch::arange(20)));
  EXPECT_TRUE(torch::equal(val.labels, std::get<0>(torch::sort(val.labels))));
}

TEST_F(Sources, RegistryErrorsNameWhatIsNeeded) {
  SourceSpec s = spec(0, 1, 0);
  s.dataset = "mnits";
  try {
    make_batch_source(s);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("allowed: synthetic, mnist, fashion-mnist, cifar10, imdb, imagefolder"),
              std::string::npos) << e.what();
  }
  s.dataset = "cifar10";
  s.data_dir.clear();
  try {
    make_batch_source(s);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("needs --data-dir DIR holding data_batch_1.bin"), std::string::npos)
        << e.what();
  }
  s.dataset = "imdb";
  s.data_dir = dir_.string();
  EXPECT_THROW(make_batch_source(s), UsageError);  // an image model: refused before reading
  s = spec(0, 1, 0);
  s.data_dir = (dir_ / "absent").string();
  EXPECT_THROW(make_batch_source(s), DataError);
  s = spec(0, 1, 0);
  s.dataset = "synthetic";
  EXPECT_THROW(make_eval_source(s, Split::kTest), UsageError);
  EXPECT_EQ(make_batch_source(s)->batch(0).global_samples, s.batch_per_rank * s.world_size);
}

// Sources filled from real models, as the trainer fills them (src/app/commands.cpp): the batches
// go through forward, and a model whose classes do not match is refused before reading.
TEST_F(Sources, FeedsTheReferenceModels) {
  auto spec_for = [&](const models::Network& net) {
    SourceSpec s = spec(0, 1, 1);
    s.input_shape = net.input().shape;
    s.input_dtype = net.input().dtype;
    s.vocabulary = net.input().vocabulary;
    s.num_classes = net.label_classes();
    return s;
  };
  torch::NoGradGuard no_grad;
  models::ModelOptions grey28;
  grey28.image_size = 28;
  grey28.channels = 1;
  for (const auto& [name, options] : {std::pair<std::string, models::ModelOptions>{"cifar10_cnn", {}},
                                      {"cifar10_cnn", grey28}, {"fcn_r", {}}}) {
    auto net = models::find(name)->make(options);
    net->eval();
    const Batch b = make_batch_source(spec_for(*net))->batch(0);
    const torch::Tensor logits = net->forward(b.inputs);
    EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{4, net->outputs()})) << name;
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>()) << name;
  }
  // A tiny aclImdb tree into the Keras example's CNN-LSTM (one sigmoid unit: 2 label classes).
  for (const char* split : {"train", "test"}) {
    for (const char* label : {"pos", "neg"}) {
      for (int i = 0; i < 3; ++i) {
        const fs::path f = dir_ / "aclImdb" / split / label / (std::to_string(i) + "_5.txt");
        fs::create_directories(f.parent_path());
        std::ofstream(f) << label << " review number " << i << " of the " << split << " set";
      }
    }
  }
  auto lstm = models::find("imdb_cnn_lstm")->make({});
  lstm->eval();
  SourceSpec s = spec_for(*lstm);
  s.dataset = "imdb";
  s.data_dir = (dir_ / "aclImdb").string();
  s.batch_per_rank = 2;
  s.validation_fraction = 0.0;
  auto src = make_batch_source(s);
  EXPECT_EQ(src->steps_per_epoch(), 3);
  const Batch b = src->batch(0);
  EXPECT_EQ(b.inputs.sizes(), (std::vector<std::int64_t>{2, lstm->input().shape[0]}));
  EXPECT_EQ(lstm->forward(b.inputs).sizes(), (std::vector<std::int64_t>{2, 1}));
  // catsdogs_cnn predicts 2 classes: MNIST's 10 do not fit; only imagefolder could.
  SourceSpec cats = spec_for(*models::find("catsdogs_cnn")->make({}));
  try {
    make_batch_source(cats);
    FAIL() << "10 classes fed to a 2-class model";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the model predicts 2"), std::string::npos) << what;
    EXPECT_NE(what.find("datasets that fit: imagefolder"), std::string::npos) << what;
  }
}

// --- The prefetcher alone -----------------------------------------------------------------------
TEST(Prefetcher, RethrowsTheWorkersErrorThenRecovers) {
  std::atomic<int> fail_at{3};
  Prefetcher p([&](std::int64_t step) {
                 if (step == fail_at.load()) throw std::runtime_error("bad step " + std::to_string(step));
                 return Batch{torch::full({1}, step), torch::full({1}, step), step};
               },
               2);
  for (std::int64_t s = 0; s < 3; ++s) EXPECT_EQ(p.get(s).global_samples, s);
  try {
    p.get(3);
    FAIL() << "the worker's error was lost";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "bad step 3");
  }
  fail_at = -1;
  EXPECT_EQ(p.get(3).global_samples, 3);  // asked again: made again
  EXPECT_EQ(p.get(4).global_samples, 4);
}

TEST(Prefetcher, StopsCleanlyWhileTheQueueIsFull) {
  std::atomic<int> made{0};
  {
    Prefetcher p([&](std::int64_t s) { ++made; return Batch{torch::zeros({1}), torch::zeros({1}), s}; }, 2);
    EXPECT_EQ(p.get(0).global_samples, 0);
  }  // destructor joins a worker blocked on a full queue
  EXPECT_LE(made.load(), 3);
}

// --- The real Fashion-MNIST (Debian package dataset-fashion-mnist) ------------------------------
TEST(RealData, FashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz") && !fs::exists(dir + "/train-images-idx3-ubyte")) {
    GTEST_SKIP() << dir << " is not installed";
  }
  const TrainTest tt = read_mnist_dir(dir);
  EXPECT_EQ(tt.train.size(), 60000);
  EXPECT_EQ(tt.test.size(), 10000);
  EXPECT_EQ(tt.train.sample_shape, (std::vector<std::int64_t>{1, 28, 28}));
  for (const LabelledSet* s : {&tt.train, &tt.test}) {
    EXPECT_EQ(s->labels.min().item<std::int64_t>(), 0);
    EXPECT_EQ(s->labels.max().item<std::int64_t>(), 9);
    // Fashion-MNIST is balanced: every class 1/10 of each split.
    EXPECT_TRUE(torch::all(torch::bincount(s->labels) == s->size() / 10).item<bool>());
  }
  EXPECT_GT(tt.train.inputs.max().item<int>(), 200);  // real images, not blank
  // Through the registry into Model A's input (32x32x3), as the study fed it.
  SourceSpec s = image_spec({3, 32, 32});
  s.dataset = "fashion-mnist";
  s.data_dir = dir;
  s.batch_per_rank = 64;
  auto src = make_batch_source(s);
  EXPECT_EQ(src->steps_per_epoch(), (54000 + 63) / 64);  // 6000 carved for validation
  const Batch b = src->batch(0);
  EXPECT_EQ(b.inputs.sizes(), (std::vector<std::int64_t>{64, 3, 32, 32}));
  EXPECT_GE(b.inputs.min().item<float>(), 0.0f);
  EXPECT_LE(b.inputs.max().item<float>(), 1.0f);
  EXPECT_EQ(make_eval_source(s, Split::kValidation)->samples(), 6000);
  EXPECT_EQ(make_eval_source(s, Split::kTest)->samples(), 10000);
}

}  // namespace
}  // namespace scalebench::datasets
