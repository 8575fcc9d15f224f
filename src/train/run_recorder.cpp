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
                         std::int64_t flush_every, Watchdog* watchdog, std::int64_t bucket_every)
    : world_(world),
      output_path_(std::move(output_path)),
      n_buckets_(n_buckets),
      flush_every_(flush_every),
      watchdog_(watchdog),
      summary_(world.is_root() ? world.size() : 1) {  // only rank 0 summarises
  std::string error;
  if (world_.is_root()) {
    try {
      file_ = std::make_unique<io::RunFile>(
          io::RunFile::create(partial_path(output_path_), world_.size(), n_buckets_, bucket_every));
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

void RunRecorder::record(StepRecord record) {
  last_step_ = static_cast<std::int64_t>(record[StepField::kStep]);
  pending_.push_back(std::move(record));
  if (static_cast<std::int64_t>(pending_.size()) >= flush_every_) flush();
}

void RunRecorder::flush() {
  // Packed per record: the fields, then bucket starts, then bucket durations (zeros where a step
  // had no buckets, e.g. plain training).
  const std::size_t per_record = kNumStepFields + 2 * static_cast<std::size_t>(n_buckets_);
  std::vector<double> packed(pending_.size() * per_record, 0.0);
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    double* out = &packed[i * per_record];
    std::copy(pending_[i].values.begin(), pending_[i].values.end(), out);
    const auto& starts = pending_[i].bucket_start_s;
    const auto& durations = pending_[i].bucket_duration_s;
    for (std::size_t b = 0; b < starts.size() && b < static_cast<std::size_t>(n_buckets_); ++b) {
      out[kNumStepFields + b] = starts[b];
      out[kNumStepFields + static_cast<std::size_t>(n_buckets_) + b] = durations[b];
    }
  }
  std::vector<double> all;
  {
    const auto step = pending_.empty() ? -1LL : static_cast<long long>(pending_.back()[StepField::kStep]);
    Watchdog::Guard guard(watchdog_, step, "gather of step records to rank 0");
    all = world_.gather_to_root(packed);
  }
  const std::size_t steps = pending_.size();
  pending_.clear();
  if (!world_.is_root() || steps == 0) return;

  // Reorder rank-major (as gathered) into step-major (as the file stores rows).
  const std::size_t ranks = static_cast<std::size_t>(world_.size());
  std::vector<StepRecord> rows(steps * ranks);
  for (std::size_t r = 0; r < ranks; ++r) {
    for (std::size_t s = 0; s < steps; ++s) {
      const double* in = &all[(r * steps + s) * per_record];
      StepRecord& rec = rows[s * ranks + r];
      std::copy(in, in + kNumStepFields, rec.values.begin());
      rec.bucket_start_s.assign(in + kNumStepFields, in + kNumStepFields + n_buckets_);
      rec.bucket_duration_s.assign(in + kNumStepFields + n_buckets_,
                                   in + kNumStepFields + 2 * n_buckets_);
    }
  }
  file_->append_steps(rows);
  file_->flush();
  summary_.add_steps(rows);
}

bool RunRecorder::finish(const std::string& status, const std::string& checksum) {
  flush();
  const std::vector<std::string> checksums = world_.gather_strings_to_root(checksum);
  bool agree = true;
  for (const auto& c : checksums) agree = agree && c == checksums.front();
  finished_ = true;
  if (!world_.is_root()) return true;
  file_->write_rank_column("param_checksum", checksums);
  file_->set_attr("param_checksums_agree", static_cast<std::int64_t>(agree ? 1 : 0));
  if (!agree) {
    file_->add_event(seconds_since_start(), 0, last_step_, "checksum_mismatch",
                     "parameters differ across ranks at the end of the run");
  }
  file_->set_attr("status", status);
  file_->set_attr("end_time", utc_timestamp_iso());
  file_->close();
  if (status == "completed") {
    std::filesystem::rename(partial_path(output_path_), output_path_);  // replaces (--overwrite)
  }
  return agree;
}

void RunRecorder::add_event(const std::string& kind, const std::string& message) {
  if (file_) file_->add_event(seconds_since_start(), world_.rank(), last_step_, kind, message);
}

void RunRecorder::abandon(const std::string& status, const std::string& message) noexcept {
  finished_ = true;
  if (!file_) return;
  try {
    file_->add_event(seconds_since_start(), world_.rank(), last_step_, status, message);
    file_->set_attr("status", status);
    file_->set_attr("end_time", utc_timestamp_iso());
    file_->close();
  } catch (const std::exception& e) {
    log::error(std::string("could not mark the run file ") + status + ": " + e.what());
  }
  file_.reset();
}

}  // namespace scalebench
