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

io::RunFile* RunRecorder::root_file() {
  if (!sink_) return nullptr;
  writer_->drain();
  return &sink_->file();
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
  io::RunFile& file = *root_file();
  file.write_rank_column("param_checksum", checksums);
  file.set_attr("param_checksums_agree", static_cast<std::int64_t>(agree ? 1 : 0));
  if (!agree) {
    file.add_event(seconds_since_start(), 0, last_step_, "checksum_mismatch",
                     "parameters differ across ranks at the end of the run");
  }
  file.set_attr("status", status);
  file.set_attr("end_time", utc_timestamp_iso());
  file.close();
  if (status == "completed") {
    std::filesystem::rename(partial_path(output_path_), output_path_);  // replaces (--overwrite)
  }
  return agree;
}

void RunRecorder::add_event(const std::string& kind, const std::string& message) {
  if (io::RunFile* file = root_file()) file->add_event(seconds_since_start(), world_.rank(), last_step_, kind, message);
}

void RunRecorder::abandon(const std::string& status, const std::string& message) noexcept {
  finished_ = true;
  if (!sink_) return;
  // What was gathered is written first (faults lose no recorded step), within a bound: this may
  // run on the watchdog's thread while the job must end.
  if (!writer_->stop_within(std::chrono::seconds(10))) {
    log::error("could not mark the run file " + status + ": a write to it did not return within 10 s");
    return;  // the write in progress owns the file; it stays .partial with what it holds
  }
  try {
    io::RunFile& file = sink_->file();
    file.add_event(seconds_since_start(), world_.rank(), last_step_, status, message);
    file.set_attr("status", status);
    file.set_attr("end_time", utc_timestamp_iso());
    file.close();
  } catch (const std::exception& e) {
    log::error(std::string("could not mark the run file ") + status + ": " + e.what());
  }
  writer_.reset();
  sink_.reset();
}

}  // namespace scalebench
