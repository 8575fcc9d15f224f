// RecordWriter: rank 0's writes on their own thread. Everything posted reaches the file in order,
// a failed write is reported to the main thread (never lost silently), and stopping writes what is
// queued before the file is handed back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_owner.hpp"
#include "train/record_sink.hpp"
#include "train/record_writer.hpp"

namespace scalebench {
namespace {

constexpr int kRanks = 2;
constexpr int kBuckets = 2;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()) + ".h5")).string();
}

// What the gather delivers to rank 0 for `steps` steps from `first`: every rank's packed records,
// rank after rank.
std::vector<double> gathered(int first, int steps) {
  std::vector<double> all;
  for (int r = 0; r < kRanks; ++r) {
    std::vector<StepRecord> records;
    for (int s = first; s < first + steps; ++s) {
      StepRecord rec;
      rec[StepField::kStep] = s;
      rec[StepField::kSamples] = 4;
      rec[StepField::kStepS] = 0.5 + r;
      rec[StepField::kWallS] = 0.75 + r;
      rec.bucket_start_s = {0.1, 0.2};
      rec.bucket_duration_s = {0.05, 0.05};
      rec.bucket_ready_s = {0.09, 0.15};
      records.push_back(rec);
    }
    const std::vector<double> packed = pack_records(records, kBuckets);
    all.insert(all.end(), packed.begin(), packed.end());
  }
  return all;
}

class RecordWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = temp_path("record-writer");
    std::filesystem::remove(path_);
    sink_ = std::make_unique<RecordSink>(path_, kRanks, kBuckets, 1, RankSelection{});
  }
  void TearDown() override {
    sink_.reset();
    std::filesystem::remove(path_);
  }
  std::string path_;
  std::unique_ptr<RecordSink> sink_;
};

TEST_F(RecordWriterTest, WritesEveryPostedBatchInOrder) {
  RecordWriter writer(*sink_, 2);
  for (int batch = 0; batch < 5; ++batch) writer.post(gathered(3 * batch, 3), 3);
  writer.drain();
  EXPECT_EQ(sink_->file().steps_written(), 15);
  const RunSummary s = sink_->summary();
  EXPECT_EQ(s.measured_steps, 15);
  EXPECT_DOUBLE_EQ(s.median_wall_s, 1.75);  // the slowest rank's wall time
  EXPECT_DOUBLE_EQ(s.throughput_samples_s, 8 / 1.75);
}

TEST_F(RecordWriterTest, AFailedWriteReachesTheMainThread) {
  RecordWriter writer(*sink_, 2);
  writer.post(gathered(0, 2), 2);
  writer.post(std::vector<double>(7, 0.0), 2);  // not what 2 steps of 2 ranks pack into
  EXPECT_THROW(writer.drain(), std::invalid_argument);
  EXPECT_THROW(writer.post(gathered(2, 1), 1), std::invalid_argument);
  EXPECT_EQ(sink_->file().steps_written(), 2);  // the good batch is in the file
}

TEST_F(RecordWriterTest, StoppingWritesWhatIsQueuedFirst) {
  RecordWriter writer(*sink_, 4);
  for (int batch = 0; batch < 3; ++batch) writer.post(gathered(2 * batch, 2), 2);
  std::int64_t seen = -1;
  std::thread::id ran_on;
  // As the watchdog marks a stuck run: from another thread, the job last, on the writer's thread.
  std::thread watchdog([&] {
    EXPECT_TRUE(writer.run_then_stop_within(
        [&] {
          seen = sink_->file().steps_written();
          ran_on = std::this_thread::get_id();
          sink_->file().set_attr("status", std::string("stuck"));
        },
        std::chrono::seconds(30)));
  });
  watchdog.join();
  EXPECT_EQ(seen, 6);
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_NE(ran_on, std::thread::id());
  EXPECT_THROW(writer.post(gathered(6, 1), 1), std::logic_error);
}

TEST_F(RecordWriterTest, JobsRunOnTheWriterThreadAfterWhatWasPosted) {
  RecordWriter writer(*sink_, 2);
  for (int batch = 0; batch < 4; ++batch) writer.post(gathered(2 * batch, 2), 2);
  std::int64_t seen = -1;
  writer.run([&] {
    seen = sink_->file().steps_written();
    sink_->file().set_attr("model", std::string("fcn_r"));
  });
  EXPECT_EQ(seen, 8);
  // A job's exception comes back to its caller; the file stays writable.
  EXPECT_THROW(writer.run([] { throw std::runtime_error("job failed"); }), std::runtime_error);
  writer.post(gathered(8, 1), 1);
  writer.drain();
  EXPECT_EQ(sink_->file().steps_written(), 9);
}

// The rule "only the writer's thread calls into the run file while the writer exists" is checked
// on every call: a write from the main thread (what the watchdog's direct write used to be) is
// caught before it reaches HDF5.
TEST_F(RecordWriterTest, AWriteFromAnotherThreadBreaksTheRule) {
  ThreadOwner::set_violation_handler([](const std::string& message) { throw std::logic_error(message); });
  {
    RecordWriter writer(*sink_, 2);
    try {
      sink_->file().set_attr("status", std::string("stuck"));
      ADD_FAILURE() << "a write from a thread that does not own the file was not caught";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("threading rule broken"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("run file"), std::string::npos) << e.what();
    }
  }
  // The writer is gone: its thread released the file, which the main thread adopts.
  sink_->file().owner().adopt("test: after the writer");
  sink_->file().set_attr("status", std::string("completed"));
  ThreadOwner::set_violation_handler(nullptr);
}

TEST_F(RecordWriterTest, ATinyQueueStillTakesEveryBatch) {
  // One batch may wait: post() blocks until the writer took the previous one (backpressure).
  RecordWriter writer(*sink_, 1);
  for (int step = 0; step < 50; ++step) writer.post(gathered(step, 1), 1);
  writer.drain();
  EXPECT_EQ(sink_->file().steps_written(), 50);
}

}  // namespace
}  // namespace scalebench
