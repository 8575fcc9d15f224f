#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include "core/config.hpp"
#include "core/errors.hpp"

namespace scalebench {
namespace {

RunConfig base() {
  RunConfig c;
  c.model = "cifar10_cnn";
  return c;
}

// Asserts that validation fails with a message containing every fragment.
void expect_usage_error(const RunConfig& c, int world, int gpus,
                        std::initializer_list<const char*> fragments) {
  try {
    validate_options(c, world, gpus);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(Config, AcceptsDefaults) { EXPECT_NO_THROW(validate_options(base(), 4, 0)); }

TEST(Config, RecordBucketsEveryK) {
  EXPECT_EQ(record_buckets_every("every:1"), 1);
  EXPECT_EQ(record_buckets_every("every:50"), 50);
  for (const char* bad : {"every:0", "every:", "every:-2", "every:2x", "all", "every:99999999999999"}) {
    auto c = base();
    c.record_buckets = bad;
    expect_usage_error(c, 1, 0, {"--record-buckets", bad, "allowed: every:K"});
  }
}

TEST(Config, RejectsBadDataMemoryAndStoppingOptions) {
  auto c = base();
  c.validation_fraction = 1.0;
  expect_usage_error(c, 1, 0, {"--validation-fraction", "up to, not including, 1"});
  c.validation_fraction = -0.1;
  expect_usage_error(c, 1, 0, {"--validation-fraction"});
  c = base();
  c.prefetch = -1;
  expect_usage_error(c, 1, 0, {"--prefetch -1", "0 or more"});
  c = base();
  c.patience = -2;
  expect_usage_error(c, 1, 0, {"--patience -2", "0 (off) or more"});
  c = base();
  c.min_delta = -0.5;
  expect_usage_error(c, 1, 0, {"--min-delta", "0 or more"});
  c = base();
  c.dataset = "fashion-mnist";
  c.target_accuracy = 1.5;
  expect_usage_error(c, 1, 0, {"--target-accuracy", "(0, 1]"});
  // Monitoring validation accuracy needs a real dataset with a validation split.
  c = base();
  c.patience = 3;
  expect_usage_error(c, 1, 0, {"--patience", "synthetic", "fashion-mnist"});
  c.dataset = "fashion-mnist";
  c.validation_fraction = 0.0;
  expect_usage_error(c, 1, 0, {"--patience", "--validation-fraction must be above 0"});
  c.validation_fraction = 0.1;
  EXPECT_NO_THROW(validate_options(c, 1, 0));
  c = base();
  c.host_memory_limit_mb = 0;
  expect_usage_error(c, 1, 0, {"--host-memory-limit 0", "at least 1"});
  c = base();
  c.max_batch_limit = 0;
  expect_usage_error(c, 1, 0, {"--max-batch-limit 0", "at least 1"});
  c = base();
  c.find_max_batch = true;
  c.global_batch = 64;
  expect_usage_error(c, 2, 0, {"--find-max-batch", "--global-batch"});
  c = base();
  c.find_max_batch = true;
  c.max_batch_limit = 8;
  c.batch_size = 16;
  expect_usage_error(c, 1, 0, {"--batch-size 16", "--max-batch-limit 8"});
}

TEST(Config, RejectsWhatIsNotAllowed) {
  auto c = base();
  c.model = "nope";
  expect_usage_error(c, 1, 0, {"--model nope", "allowed", "cifar10_cnn", "fcn_r"});
  c = base();
  c.device = "tpu";
  expect_usage_error(c, 1, 0, {"--device tpu", "cpu, cuda, auto"});
  c = base();
  c.device = "cuda";
  expect_usage_error(c, 1, 0, {"--device cuda", "no CUDA GPU"});
  c = base();
  c.global_batch = 10;
  expect_usage_error(c, 4, 0, {"--global-batch 10", "4 ranks", "multiple of 4"});
  c = base();
  c.global_batch = 8;
  c.batch_size = 2;
  expect_usage_error(c, 4, 0, {"exclude"});
  c = base();
  c.batch_size = 0;
  expect_usage_error(c, 1, 0, {"--batch-size 0"});
  c = base();
  c.bucket_mb = 0;
  expect_usage_error(c, 1, 0, {"--bucket-mb"});
  c = base();
  c.mpi_chunk_mb = -1;
  expect_usage_error(c, 1, 0, {"--mpi-chunk-mb", "0 (one call per bucket) to 4096"});
  c = base();
  c.mpi_chunk_mb = 0;  // one call per bucket: allowed
  EXPECT_NO_THROW(validate_options(c, 2, 0));
  c = base();
  c.optimizer = "lbfgs";
  expect_usage_error(c, 1, 0, {"--optimizer lbfgs", "sgd, adam, rmsprop"});
  c = base();
  c.lr = -1.0;
  expect_usage_error(c, 1, 0, {"--lr"});
  c = base();
  c.comm_timeout_s = 0;
  expect_usage_error(c, 1, 0, {"--comm-timeout"});
  c = base();
  c.backend = "gloo";
  expect_usage_error(c, 1, 0, {"--backend gloo", "auto, mpi, nccl"});
  c = base();
  c.steps = 3;
  c.epochs = 1;
  expect_usage_error(c, 1, 0, {"--steps and --epochs"});
}

TEST(Config, ResolvesDefaultsFromTheModel) {
  auto c = base();
  const ResolvedRun r = resolve_run(c, 2, 8);
  EXPECT_EQ(r.batch_per_rank, 32);  // the Keras example's batch
  EXPECT_EQ(r.global_batch, 64);
  EXPECT_EQ(r.steps, 50);
  EXPECT_EQ(r.warmup_steps, 5);
  EXPECT_EQ(r.optimizer, "rmsprop");
  EXPECT_DOUBLE_EQ(r.lr, 1e-4);
  EXPECT_EQ(r.bucket_cap_bytes, 25LL * 1024 * 1024);
}

TEST(Config, StrongScalingSplitsTheGlobalBatch) {
  auto c = base();
  c.global_batch = 64;
  EXPECT_EQ(resolve_run(c, 4, 8).batch_per_rank, 16);
}

TEST(Config, EpochsBecomeSteps) {
  auto c = base();
  c.epochs = 3;
  EXPECT_EQ(resolve_run(c, 1, 8).steps, 24);
}

TEST(Config, WarmupMustLeaveMeasuredSteps) {
  auto c = base();
  c.steps = 3;
  EXPECT_EQ(resolve_run(c, 1, 8).warmup_steps, 2);  // default shrinks for short runs
  c.warmup_steps = 3;
  EXPECT_THROW(resolve_run(c, 1, 8), UsageError);
}

TEST(Config, ModelOptionsAreCheckedAgainstTheModel) {
  auto c = base();
  c.model = "modelA";
  c.image_size = 16;
  expect_usage_error(c, 1, 0, {"--image-size 16", "allowed: 32 or more", "modelA"});
  c.image_size = 64;
  EXPECT_NO_THROW(validate_options(c, 1, 0));
  c = base();
  c.trainable_base = true;
  expect_usage_error(c, 1, 0, {"--trainable-base", "modelA"});
  c = base();
  c.model = "fcn_r";
  c.image_size = 28;
  expect_usage_error(c, 1, 0, {"--image-size 28", "no image input"});
  c = base();
  c.vocab_size = 5000;
  expect_usage_error(c, 1, 0, {"--vocab-size 5000", "imdb_cnn_lstm"});
  c = base();
  c.model = "imdb_cnn_lstm";
  c.vocab_size = 5000;
  c.sequence_length = 250;
  c.embedding_size = 32;
  EXPECT_NO_THROW(validate_options(c, 1, 0));
  c.sequence_length = 4;
  expect_usage_error(c, 1, 0, {"--sequence-length 4", "allowed: 8 or more"});
  c = base();
  c.momentum = 1.5;
  expect_usage_error(c, 1, 0, {"--momentum 1.5", "0 <= momentum < 1"});
}

TEST(Config, ModelOptionsTravelToTheModelAndTheRecord) {
  auto c = base();
  c.model = "modelA";
  c.image_size = 64;
  c.trainable_base = true;
  c.weights = "w.pt";
  const models::ModelOptions o = model_options(c);
  EXPECT_EQ(o.image_size, 64);
  EXPECT_TRUE(o.trainable_base);
  EXPECT_EQ(o.weights, "w.pt");
  EXPECT_FALSE(o.vocab_size.has_value());
  const auto j = to_json(c);
  EXPECT_EQ(j.at("image_size"), 64);
  EXPECT_EQ(j.at("trainable_base"), true);
  EXPECT_EQ(j.at("weights"), "w.pt");
  EXPECT_TRUE(j.at("vocab_size").is_null());
  EXPECT_TRUE(j.at("sequence_length").is_null());
  EXPECT_TRUE(j.at("embedding_size").is_null());
  EXPECT_TRUE(j.at("momentum").is_null());
}

TEST(Config, OptimiserDefaultsAreTheStudies) {
  const std::tuple<const char*, const char*, double, double> expected[] = {
      {"modelA", "adam", 1e-3, 0.0},     {"modelB", "adam", 1e-3, 0.0},
      {"cifar10_cnn", "rmsprop", 1e-4, 0.0}, {"catsdogs_cnn", "rmsprop", 1e-3, 0.0},
      {"imdb_cnn_lstm", "adam", 1e-3, 0.0},  {"fcn_r", "sgd", 0.05, 0.0},
      {"resnet50", "sgd", 0.1, 0.9}};
  for (const auto& [model, optimizer, lr, momentum] : expected) {
    auto c = base();
    c.model = model;
    const ResolvedRun r = resolve_run(c, 1, 8);
    EXPECT_EQ(r.optimizer, optimizer) << model;
    EXPECT_DOUBLE_EQ(r.lr, lr) << model;
    EXPECT_DOUBLE_EQ(r.momentum, momentum) << model;
  }
  auto c = base();
  c.model = "resnet50";
  c.optimizer = "adam";
  c.lr = 0.5;
  c.momentum = 0.0;
  const ResolvedRun r = resolve_run(c, 1, 8);
  EXPECT_EQ(r.optimizer, "adam");
  EXPECT_DOUBLE_EQ(r.lr, 0.5);
  EXPECT_DOUBLE_EQ(r.momentum, 0.0);
}

TEST(Config, OutputPathChecks) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("sb_cfg_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string file = (dir / "run.h5").string();
  EXPECT_EQ(check_output_path(file, false), "");
  std::ofstream(file) << "x";
  EXPECT_NE(check_output_path(file, false).find("exists"), std::string::npos);
  EXPECT_EQ(check_output_path(file, true), "");
  EXPECT_NE(check_output_path((dir / "missing" / "r.h5").string(), false).find("does not exist"),
            std::string::npos);
  EXPECT_NE(check_output_path(dir.string(), false).find("directory"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace scalebench
