#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "io/run_file.hpp"
#include "metrics/rank_selection.hpp"
#include "metrics/step_record.hpp"

namespace scalebench::io {
namespace {

namespace fs = std::filesystem;

constexpr int kRanks = 2;
constexpr int kBuckets = 3;

// Distinct, recognisable values: field f of rank r at step s is s*1000 + r*100 + f (plus 0.25 for
// float fields, so that a float stored as an integer would show).
double field_value(int step, int rank, std::size_t field) {
  const double base = step * 1000.0 + rank * 100.0 + static_cast<double>(field);
  return step_fields()[field].is_integer ? base : base + 0.25;
}
double bucket_start(int step, int rank, int bucket) { return step + rank * 0.1 + bucket * 0.01; }
double bucket_duration(int step, int rank, int bucket) {
  return 0.5 * step + rank + bucket * 0.125;
}

StepRecord make_record(int step, int rank, int n_buckets) {
  StepRecord rec;
  for (std::size_t f = 0; f < kNumStepFields; ++f) rec.values[f] = field_value(step, rank, f);
  for (int b = 0; b < n_buckets; ++b) {
    rec.bucket_start_s.push_back(bucket_start(step, rank, b));
    rec.bucket_duration_s.push_back(bucket_duration(step, rank, b));
  }
  return rec;
}

// Steps [first, first + count), step-major, as RunFile::append_steps wants them.
std::vector<StepRecord> make_steps(int first, int count, int ranks = kRanks,
                                   int n_buckets = kBuckets) {
  std::vector<StepRecord> out;
  for (int s = first; s < first + count; ++s) {
    for (int r = 0; r < ranks; ++r) out.push_back(make_record(s, r, n_buckets));
  }
  return out;
}

class RunFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("scalebench_test_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

void expect_steps(const h5::File& file, int n_steps) {
  for (std::size_t f = 0; f < kNumStepFields; ++f) {
    const auto& field = step_fields()[f];
    SCOPED_TRACE(field.name);
    const h5::Dataset d = file.open_dataset(std::string("steps/") + field.name);
    EXPECT_EQ(d.dims(), (std::vector<hsize_t>{static_cast<hsize_t>(n_steps), kRanks}));
    EXPECT_EQ(d.type_class(), field.is_integer ? H5T_INTEGER : H5T_FLOAT);
    EXPECT_EQ(d.attr_string("unit"), field.unit);
    EXPECT_EQ(d.attr_string("description"), field.doc);
    const std::vector<double> values = d.read_double();
    ASSERT_EQ(values.size(), static_cast<std::size_t>(n_steps * kRanks));
    for (int s = 0; s < n_steps; ++s) {
      for (int r = 0; r < kRanks; ++r) EXPECT_EQ(values[s * kRanks + r], field_value(s, r, f));
    }
  }
}

void expect_buckets(const h5::File& file, int n_steps) {
  const h5::Dataset start = file.open_dataset("buckets/start_s");
  const h5::Dataset duration = file.open_dataset("buckets/duration_s");
  const std::vector<hsize_t> dims{static_cast<hsize_t>(n_steps), kRanks, kBuckets};
  EXPECT_EQ(start.dims(), dims);
  EXPECT_EQ(duration.dims(), dims);
  EXPECT_EQ(start.type_class(), H5T_FLOAT);
  EXPECT_EQ(start.attr_string("unit"), "s");
  const std::vector<double> starts = start.read_double();
  const std::vector<double> durations = duration.read_double();
  for (int s = 0; s < n_steps; ++s) {
    for (int r = 0; r < kRanks; ++r) {
      for (int b = 0; b < kBuckets; ++b) {
        const std::size_t i = static_cast<std::size_t>((s * kRanks + r) * kBuckets + b);
        EXPECT_EQ(starts[i], bucket_start(s, r, b));
        EXPECT_EQ(durations[i], bucket_duration(s, r, b));
      }
    }
  }
}

TEST_F(RunFileTest, WritesTheLayoutAndReadsItBack) {
  const std::string file_path = path("run.h5");
  RunFile run = RunFile::create(file_path, kRanks, kBuckets);
  run.set_attr("model", std::string("cifar10_cnn"));
  run.set_attr("config", std::string(R"({"lr": 0.1, "name": "grüße"})"));
  run.set_attr("global_batch", std::int64_t{256});
  run.set_attr("bucket_mb", 25.5);
  run.set_attr("world_size", kRanks);  // an int, through the template overload
  run.write_ranks({{"node-a", 0, 0, "cpu: Xeon", "", "0-3", 4242},
                   {"node-b", 0, 1, "H100", "0000:3B:00.0", "4-7", 4343}});
  run.write_bucket_layout({1000, 2000, 3000}, {2, 1, 4}, {1, 1, 1});
  run.append_steps(make_steps(0, 2));
  EXPECT_EQ(run.steps_written(), 2);
  run.append_steps(make_steps(2, 3));
  EXPECT_EQ(run.steps_written(), 5);
  run.add_event(1.5, 1, 3, "warning", "slow step");
  run.add_event(2.5, 0, -1, "checksum_mismatch", "parameters differ");
  run.write_rank_column("param_checksum", {"00ff", "00ff"});
  run.set_attr("status", std::string("completed"));  // replaces "running"
  run.close();
  run.close();  // idempotent

  const h5::File file = h5::File::open_read_only(file_path);
  EXPECT_EQ(file.attr_string("format"), "scalebench-run");
  EXPECT_EQ(file.attr_int64("schema_version"), kSchemaVersion);
  EXPECT_EQ(file.attr_string("record_ranks"), "all");
  EXPECT_FALSE(file.open_group("steps").has_attr("ranks"));
  EXPECT_FALSE(file.exists("rank_stats"));
  EXPECT_EQ(file.attr_string("status"), "completed");
  EXPECT_EQ(file.attr_string("model"), "cifar10_cnn");
  EXPECT_EQ(file.attr_string("config"), R"({"lr": 0.1, "name": "grüße"})");
  EXPECT_EQ(file.attr_int64("global_batch"), 256);
  EXPECT_EQ(file.attr_double("bucket_mb"), 25.5);
  EXPECT_EQ(file.attr_int64("world_size"), kRanks);

  expect_steps(file, 5);
  expect_buckets(file, 5);

  EXPECT_EQ(file.open_dataset("buckets/bytes").read_int64(),
            (std::vector<std::int64_t>{1000, 2000, 3000}));
  EXPECT_EQ(file.open_dataset("buckets/num_params").read_int64(),
            (std::vector<std::int64_t>{2, 1, 4}));
  EXPECT_EQ(file.open_dataset("buckets/spans_nodes").read_int64(), (std::vector<std::int64_t>{1, 1, 1}));
  // Chunked along steps and not compressed: an uncompressed chunk never moves nor is re-encoded,
  // so a writer killed mid-append cannot damage rows flushed before (src/io/run_file.cpp).
  EXPECT_TRUE(file.open_dataset("steps/step_s").filters().empty());
  EXPECT_TRUE(file.open_dataset("buckets/duration_s").filters().empty());
  EXPECT_TRUE(file.open_dataset("events/kind").filters().empty());
  EXPECT_EQ(file.open_dataset("buckets/bytes").attr_string("unit"), "B");

  EXPECT_EQ(file.open_dataset("ranks/hostname").read_strings(),
            (std::vector<std::string>{"node-a", "node-b"}));
  EXPECT_EQ(file.open_dataset("ranks/local_rank").read_int64(), (std::vector<std::int64_t>{0, 0}));
  EXPECT_EQ(file.open_dataset("ranks/node_index").read_int64(), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(file.open_dataset("ranks/device_bus_id").read_strings(),
            (std::vector<std::string>{"", "0000:3B:00.0"}));
  EXPECT_EQ(file.open_dataset("ranks/cpu_affinity").read_strings(),
            (std::vector<std::string>{"0-3", "4-7"}));
  EXPECT_EQ(file.open_dataset("ranks/pid").read_int64(), (std::vector<std::int64_t>{4242, 4343}));
  EXPECT_EQ(file.open_dataset("ranks/param_checksum").read_strings(),
            (std::vector<std::string>{"00ff", "00ff"}));
  EXPECT_EQ(file.open_dataset("ranks/pid").type_class(), H5T_INTEGER);
  EXPECT_EQ(file.open_dataset("ranks/hostname").type_class(), H5T_STRING);

  EXPECT_EQ(file.open_dataset("events/time_s").read_double(), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(file.open_dataset("events/rank").read_int64(), (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(file.open_dataset("events/step").read_int64(), (std::vector<std::int64_t>{3, -1}));
  EXPECT_EQ(file.open_dataset("events/kind").read_strings(),
            (std::vector<std::string>{"warning", "checksum_mismatch"}));
  EXPECT_EQ(file.open_dataset("events/message").read_strings(),
            (std::vector<std::string>{"slow step", "parameters differ"}));
}

TEST_F(RunFileTest, NewFileHasEmptyTablesAndRunningStatus) {
  const std::string file_path = path("empty.h5");
  RunFile::create(file_path, kRanks, kBuckets).close();

  const h5::File file = h5::File::open_read_only(file_path);
  EXPECT_EQ(file.attr_string("status"), "running");
  EXPECT_EQ(file.open_dataset("steps/step").dims(), (std::vector<hsize_t>{0, kRanks}));
  EXPECT_EQ(file.open_dataset("buckets/start_s").dims(),
            (std::vector<hsize_t>{0, kRanks, kBuckets}));
  for (const char* column : {"time_s", "rank", "step", "kind", "message"}) {
    const h5::Dataset d = file.open_dataset(std::string("events/") + column);
    EXPECT_EQ(d.dims(), std::vector<hsize_t>{0}) << column;
    EXPECT_TRUE(d.has_attr("description")) << column;
  }
  EXPECT_TRUE(file.open_dataset("events/kind").read_strings().empty());
  EXPECT_TRUE(file.exists("ranks"));
}

TEST_F(RunFileTest, CreateRefusesAnExistingFile) {
  const std::string file_path = path("taken.h5");
  RunFile::create(file_path, kRanks, kBuckets).close();
  try {
    RunFile::create(file_path, kRanks, kBuckets);
    FAIL() << "create() overwrote an existing file";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("HDF5"), std::string::npos) << what;
    EXPECT_NE(what.find(file_path), std::string::npos) << what;
  }
}

TEST_F(RunFileTest, FlushedFileIsReadableWithoutClose) {
  const std::string file_path = path("live.h5");
  const std::string copy_path = path("crashed.h5");
  RunFile run = RunFile::create(file_path, kRanks, kBuckets);
  run.set_attr("model", std::string("fcn"));
  run.append_steps(make_steps(0, 2));
  run.append_steps(make_steps(2, 3));
  run.flush();
  // A copy taken while the writer still has the file open is what a crash leaves behind.
  fs::copy_file(file_path, copy_path);
  run.append_steps(make_steps(5, 1));  // not flushed, not in the copy

  const h5::File file = h5::File::open_read_only(copy_path);
  EXPECT_EQ(file.attr_string("status"), "running");
  EXPECT_EQ(file.attr_string("model"), "fcn");
  expect_steps(file, 5);
  expect_buckets(file, 5);
}

TEST_F(RunFileTest, AppendsAcrossManyChunks) {
  const std::string file_path = path("long.h5");
  RunFile run = RunFile::create(file_path, kRanks, kBuckets);
  run.append_steps(make_steps(0, 100));  // chunks hold 64 rows
  run.append_steps(make_steps(100, 50));
  run.close();

  const h5::File file = h5::File::open_read_only(file_path);
  expect_steps(file, 150);
  expect_buckets(file, 150);
}

// --record-buckets every:K: bucket rows for steps 0, K, 2K, ... only, listed in /buckets/step,
// across appends that do not start on a multiple of K.
TEST_F(RunFileTest, BucketRowsForEveryKthStep) {
  const std::string file_path = path("every3.h5");
  RunFile run = RunFile::create(file_path, kRanks, kBuckets, 3);
  run.append_steps(make_steps(0, 4));
  run.append_steps(make_steps(4, 5));  // steps 4..8
  run.close();
  const h5::File file = h5::File::open_read_only(file_path);
  expect_steps(file, 9);
  // make_record's step field is s * 1000: rows 0, 3 and 6 are steps 0, 3000 and 6000.
  EXPECT_EQ(file.open_dataset("buckets/step").read_int64(), (std::vector<std::int64_t>{0, 3000, 6000}));
  EXPECT_EQ(file.open_dataset("buckets/duration_s").dims(),
            (std::vector<hsize_t>{3, kRanks, kBuckets}));
  EXPECT_EQ(file.open_group("buckets").attr_int64("every"), 3);
  // Row 1 is step 3's: the same values make_record gave step 3 (not step 1's).
  const std::vector<double> all = file.open_dataset("buckets/duration_s").read_double();
  const StepRecord step3 = make_record(3, 0, kBuckets);
  EXPECT_DOUBLE_EQ(all[1 * kRanks * kBuckets], step3.bucket_duration_s[0]);
}

TEST_F(RunFileTest, ZeroBucketsIsAllowed) {
  const std::string file_path = path("nobuckets.h5");
  RunFile run = RunFile::create(file_path, 1, 0);
  run.write_bucket_layout({}, {}, {});
  run.append_steps(make_steps(0, 3, 1, 0));
  run.close();

  const h5::File file = h5::File::open_read_only(file_path);
  EXPECT_EQ(file.open_dataset("buckets/start_s").dims(), (std::vector<hsize_t>{3, 1, 0}));
  EXPECT_EQ(file.open_dataset("buckets/bytes").dims(), std::vector<hsize_t>{0});
  EXPECT_EQ(file.open_dataset("steps/step").read_int64(),
            (std::vector<std::int64_t>{0, 1000, 2000}));
}

TEST_F(RunFileTest, RejectsMisshapenInput) {
  RunFile run = RunFile::create(path("bad.h5"), kRanks, kBuckets);
  EXPECT_THROW(run.append_steps(make_steps(0, 1, 1)), std::invalid_argument);  // one rank short
  EXPECT_THROW(run.append_steps(make_steps(0, 1, kRanks, kBuckets - 1)), std::invalid_argument);
  EXPECT_THROW(run.write_rank_column("param_checksum", {"only-one"}), std::invalid_argument);
  EXPECT_THROW(run.write_bucket_layout({1, 2}, {1, 2}, {0, 0}), std::invalid_argument);
  EXPECT_THROW(run.write_bucket_layout({1, 2, 3}, {1, 2, 3}, {0, 0}), std::invalid_argument);
  EXPECT_EQ(run.steps_written(), 0);
  run.close();
  EXPECT_THROW(run.set_attr("status", std::string("failed")), std::logic_error);
  EXPECT_THROW(run.append_steps(make_steps(0, 1)), std::logic_error);
}

// --- --record-ranks ---------------------------------------------------------------------------

TEST(SelectRanks, ResolvesEveryMode) {
  EXPECT_EQ(select_ranks("all", 3).ranks, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(select_ranks("auto", 3).mode, "all");
  EXPECT_EQ(select_ranks("auto", kAutoAllRanksUpTo).mode, "all");
  const RankSelection big = select_ranks("auto", 4096);
  EXPECT_EQ(big.mode, "sample:" + std::to_string(kAutoAllRanksUpTo));
  ASSERT_EQ(big.ranks.size(), static_cast<std::size_t>(kAutoAllRanksUpTo));
  EXPECT_EQ(big.ranks[1], 4096 / kAutoAllRanksUpTo);
  EXPECT_EQ(select_ranks("stats", 8).ranks, std::vector<int>{0});
  EXPECT_EQ(select_ranks("stats", 8).mode, "stats");
  EXPECT_EQ(select_ranks("sample:3", 10).ranks, (std::vector<int>{0, 3, 6}));
  EXPECT_EQ(select_ranks("sample:1", 10).ranks, std::vector<int>{0});
  // More than the world: every rank, still with the statistics (the mode says how many).
  const RankSelection capped = select_ranks("sample:20", 4);
  EXPECT_EQ(capped.mode, "sample:4");
  EXPECT_EQ(capped.ranks, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(capped.all());
  // Evenly spaced, strictly increasing, for awkward ratios.
  const RankSelection odd = select_ranks("sample:7", 9);
  for (std::size_t i = 1; i < odd.ranks.size(); ++i) EXPECT_GT(odd.ranks[i], odd.ranks[i - 1]);
  EXPECT_LT(odd.ranks.back(), 9);
}

TEST(SelectRanks, RefusesAnythingElseSayingWhatIsAllowed) {
  for (const std::string bad : {"", "sample", "sample:", "sample:0", "sample:-2", "sample:x", "every:2",
                                "ALL", "sample:3x", "sample:99999999999"}) {
    SCOPED_TRACE(bad);
    try {
      select_ranks(bad, 4);
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--record-ranks " + bad + ":"), std::string::npos) << what;
      EXPECT_NE(what.find("sample:K"), std::string::npos) << what;
    }
  }
}

TEST(RankStats, MinMedianMaxMeanAndTheMaxsRank) {
  std::vector<double> scratch;
  const std::vector<double> odd{3.0, 9.0, 1.0, 9.0, 5.0};
  const auto a = rank_stats(odd.data(), odd.size(), scratch);
  EXPECT_EQ(a[0], 1.0);
  EXPECT_EQ(a[1], 5.0);
  EXPECT_EQ(a[2], 9.0);
  EXPECT_DOUBLE_EQ(a[3], 27.0 / 5.0);
  EXPECT_EQ(a[4], 1.0);  // the lowest of the ranks holding the max
  const std::vector<double> even{4.0, 1.0, 3.0, 2.0};
  const auto b = rank_stats(even.data(), even.size(), scratch);
  EXPECT_EQ(b[1], 2.5);  // mean of the two middle values, as numpy.median
  EXPECT_EQ(b[4], 0.0);
  const std::vector<double> one{7.0};
  const auto c = rank_stats(one.data(), 1, scratch);
  EXPECT_EQ(c[0], 7.0);
  EXPECT_EQ(c[1], 7.0);
  EXPECT_EQ(c[4], 0.0);
  const std::vector<double> with_nan{1.0, std::nan(""), 2.0};
  const auto d = rank_stats(with_nan.data(), with_nan.size(), scratch);
  EXPECT_TRUE(std::isnan(d[0]) && std::isnan(d[1]) && std::isnan(d[2]) && std::isnan(d[3]));
  EXPECT_EQ(d[4], 1.0);
  EXPECT_EQ(rank_stat_columns()[4], std::string("max_rank"));
}

// sample:2 of 5 ranks keeps ranks 0 and 2; stats keeps rank 0. Both carry /rank_stats over all 5.
TEST_F(RunFileTest, RecordsTheSelectedRanksAndStatisticsOverAll) {
  constexpr int kWorld = 5;
  for (const std::string mode : {"sample:2", "stats"}) {
    SCOPED_TRACE(mode);
    const RankSelection sel = select_ranks(mode, kWorld);
    const std::string file_path = path(mode.substr(0, 5) + ".h5");
    {
      RunFile run = RunFile::create(file_path, kWorld, kBuckets, 3, sel);
      run.append_steps(make_steps(0, 3, kWorld));
      run.append_steps(make_steps(3, 2, kWorld));
      run.close();
    }
    const h5::File file = h5::File::open_read_only(file_path);
    EXPECT_EQ(file.attr_int64("schema_version"), kSchemaVersion);
    EXPECT_EQ(file.attr_string("record_ranks"), sel.mode);
    const std::vector<std::int64_t> ranks = file.open_group("steps").attr_int64_array("ranks");
    EXPECT_EQ(ranks, std::vector<std::int64_t>(sel.ranks.begin(), sel.ranks.end()));
    const std::size_t k = sel.ranks.size();
    for (std::size_t f = 0; f < kNumStepFields; ++f) {
      SCOPED_TRACE(step_fields()[f].name);
      const std::string name = step_fields()[f].name;
      const h5::Dataset d = file.open_dataset("steps/" + name);
      EXPECT_EQ(d.dims(), (std::vector<hsize_t>{5, k}));
      const std::vector<double> v = d.read_double();
      for (int s = 0; s < 5; ++s) {
        for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(v[s * k + j], field_value(s, sel.ranks[j], f));
      }
      // field_value grows with the rank: min is rank 0's, max rank 4's, median rank 2's.
      const h5::Dataset st = file.open_dataset("rank_stats/" + name);
      EXPECT_EQ(st.dims(), (std::vector<hsize_t>{5, kRankStatColumns}));
      const std::vector<double> stats = st.read_double();
      for (int s = 0; s < 5; ++s) {
        const double* row = &stats[s * kRankStatColumns];
        EXPECT_EQ(row[0], field_value(s, 0, f));
        EXPECT_EQ(row[1], field_value(s, 2, f));
        EXPECT_EQ(row[2], field_value(s, 4, f));
        EXPECT_DOUBLE_EQ(row[3], field_value(s, 2, f));  // evenly spaced values: mean = median
        EXPECT_EQ(row[4], 4.0);
      }
    }
    // Bucket rows of every:3 (make_record's step field is s * 1000: rows 0 and 3), recorded
    // ranks only.
    const std::vector<double> durations = file.open_dataset("buckets/duration_s").read_double();
    EXPECT_EQ(file.open_dataset("buckets/duration_s").dims(), (std::vector<hsize_t>{2, k, kBuckets}));
    const int steps[] = {0, 3};
    for (int i = 0; i < 2; ++i) {
      for (std::size_t j = 0; j < k; ++j) {
        for (int b = 0; b < kBuckets; ++b) {
          EXPECT_EQ(durations[(i * k + j) * kBuckets + b], bucket_duration(steps[i], sel.ranks[j], b));
        }
      }
    }
  }
}

TEST_F(RunFileTest, RefusesRecordedRanksOutsideTheWorld) {
  RankSelection bad;
  bad.mode = "sample:2";
  bad.ranks = {0, 7};
  EXPECT_THROW(RunFile::create(path("bad.h5"), 4, 1, 1, bad), std::invalid_argument);
  bad.ranks = {1, 2};  // rank 0 is always recorded
  EXPECT_THROW(RunFile::create(path("bad2.h5"), 4, 1, 1, bad), std::invalid_argument);
}

TEST(H5Check, MessageNamesTheCallAndItsLocation) {
  const std::string missing = "/nonexistent-dir/none.h5";
  int line = 0;
  try {
    line = __LINE__, H5_CHECK(H5Fopen(missing.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    FAIL() << "opening a missing file succeeded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("HDF5 call H5Fopen(missing.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT) failed"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("test_run_file.cpp:" + std::to_string(line)), std::string::npos) << what;
    EXPECT_EQ(what.find("see HDF5 error stack"), std::string::npos) << what;  // a real reason
  }
}

TEST(H5Check, OpenReadOnlyNamesTheFile) {
  EXPECT_THROW(
      {
        try {
          h5::File::open_read_only("/nonexistent-dir/none.h5");
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/none.h5"), std::string::npos);
          throw;
        }
      },
      std::runtime_error);
}

TEST(H5Chunks, ChunksStayNearOneMebibyte) {
  EXPECT_EQ(h5::chunk_shape({4}, 8), (std::vector<hsize_t>{64, 4}));
  EXPECT_EQ(h5::chunk_shape({}, 8), std::vector<hsize_t>{64});
  EXPECT_EQ(h5::chunk_shape({2, 0}, 8), (std::vector<hsize_t>{64, 2, 1}));
  for (const auto& row : {std::vector<hsize_t>{4096}, {1024, 300}, {1u << 20}}) {
    const std::vector<hsize_t> chunk = h5::chunk_shape(row, 8);
    hsize_t bytes = 8;
    for (hsize_t c : chunk) bytes *= c;
    EXPECT_LE(bytes, hsize_t{1} << 20);
    EXPECT_GE(bytes, hsize_t{1} << 19);  // not shrunk more than needed
  }
}

}  // namespace
}  // namespace scalebench::io
