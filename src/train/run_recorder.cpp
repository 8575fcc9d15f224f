#include "train/run_recorder.hpp"

#include <ctime>
#include <filesystem>

#include "core/errors.hpp"
#include "runtime/log.hpp"

namespace scalebench {

std::string utc_timestamp_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

RunRecorder::RunRecorder(const World& world, std::string output_path, int n_buckets,
                         std::int64_t flush_every, Watchdog* watchdog, std::int64_t bucket_every,
                         RankSelection recorded)
    : world_(world),
      output_path_(std::move(output_path)),
      n_buckets_(n_buckets),
      flush_every_(flush_every),
      watchdog_(watchdog) {
  std::string error;
  if (world_.is_root()) {
    try {
      sink_ = std::make_unique<RecordSink>(partial_path(output_path_), world_.size(), n_buckets_, bucket_every,
                                           std::move(recorded));
      writer_ = std::make_unique<RecordWriter>(*sink_);
    } catch (const std::exception& e) {
      error = "--output " + output_path_ + ": cannot create " + partial_path(output_path_) + " (" +
              e.what() + ")";
    }
  }
  error = world_.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);
}

double RunRecorder::seconds_since_start() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

RunRecorder::~RunRecorder() {
  if (!finished_) abandon("failed", "run ended without finishing its record");
}

void RunRecorder::with_file(const std::function<void(io::RunFile&)>& write) {
  if (!sink_) return;
  writer_->run([this, &write] { write(sink_->file()); });
}

RunSummary RunRecorder::summary() {
  if (!sink_) return RunSummary{};
  writer_->drain();
  return sink_->summary();
}

void RunRecorder::record(StepRecord record) {
  last_step_ = static_cast<std::int64_t>(record[StepField::kStep]);
  pending_.push_back(std::move(record));
  if (static_cast<std::int64_t>(pending_.size()) >= flush_every_) flush();
}

void RunRecorder::flush() {
  const std::vector<double> packed = pack_records(pending_, n_buckets_);
  std::vector<double> all;
  {
    const auto step = pending_.empty() ? -1LL : static_cast<long long>(pending_.back()[StepField::kStep]);
    Watchdog::Guard guard(watchdog_, step, "gather of step records to rank 0");
    all = world_.gather_to_root(packed);
  }
  const std::size_t steps = pending_.size();
  pending_.clear();
  if (sink_) writer_->post(std::move(all), steps);
}

bool RunRecorder::finish(const std::string& status, const std::string& checksum) {
  flush();
  const std::vector<std::string> checksums = world_.gather_strings_to_root(checksum);
  bool agree = true;
  for (const auto& c : checksums) agree = agree && c == checksums.front();
  finished_ = true;
  if (!sink_) return true;
  const double now = seconds_since_start();
  with_file([&](io::RunFile& file) {
    file.write_rank_column("param_checksum", checksums);
    file.set_attr("param_checksums_agree", static_cast<std::int64_t>(agree ? 1 : 0));
    if (!agree) {
      file.add_event(now, 0, last_step_, "checksum_mismatch", "parameters differ across ranks at the end of the run");
    }
    file.set_attr("status", status);
    file.set_attr("end_time", utc_timestamp_iso());
    file.close();
  });
  writer_.reset();  // joined: nothing touches the file any more
  if (status == "completed") {
    std::filesystem::rename(partial_path(output_path_), output_path_);  // replaces (--overwrite)
  }
  return agree;
}

void RunRecorder::add_event(const std::string& kind, const std::string& message) {
  const double now = seconds_since_start();
  with_file([&](io::RunFile& file) { file.add_event(now, world_.rank(), last_step_, kind, message); });
}

void RunRecorder::abandon(const std::string& status, const std::string& message) noexcept {
  if (finished_.exchange(true)) return;
  if (!writer_) return;
  // What was gathered is written first (faults lose no recorded step), then the status, by the
  // writer's thread (the file's only caller), within a bound: this may run on the watchdog's
  // thread while the job must end. The job owns copies of what it writes: if the bound passes,
  // it may still run after this returns.
  const double now = seconds_since_start();
  const std::int64_t step = last_step_;
  const int rank = world_.rank();
  RecordSink* sink = sink_.get();
  const bool marked = writer_->run_then_stop_within(
      [sink, now, step, rank, status, message] {
        io::RunFile& file = sink->file();
        file.add_event(now, rank, step, status, message);
        file.set_attr("status", status);
        file.set_attr("end_time", utc_timestamp_iso());
        file.close();
      },
      std::chrono::seconds(10));
  if (!marked) {
    log::error("could not mark the run file " + status + " within 10 s (a write to it was still running); "
               "it stays .partial with the steps it holds");
  }
}

}  // namespace scalebench
