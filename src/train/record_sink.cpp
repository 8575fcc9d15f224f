#include "train/record_sink.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace scalebench {

std::size_t packed_record_size(int n_buckets) {
  return kNumStepFields + 3 * static_cast<std::size_t>(n_buckets);
}

std::vector<double> pack_records(const std::vector<StepRecord>& records, int n_buckets) {
  const std::size_t per_record = packed_record_size(n_buckets);
  const auto buckets = static_cast<std::size_t>(n_buckets);
  std::vector<double> packed(records.size() * per_record, 0.0);
  for (std::size_t i = 0; i < records.size(); ++i) {
    double* out = &packed[i * per_record];
    std::copy(records[i].values.begin(), records[i].values.end(), out);
    const auto& starts = records[i].bucket_start_s;
    const auto& durations = records[i].bucket_duration_s;
    for (std::size_t b = 0; b < starts.size() && b < buckets; ++b) out[kNumStepFields + b] = starts[b];
    for (std::size_t b = 0; b < durations.size() && b < buckets; ++b) {
      out[kNumStepFields + buckets + b] = durations[b];
    }
    // Ready times: NaN where not measured (a record without them), as the file stores it.
    const auto& ready = records[i].bucket_ready_s;
    for (std::size_t b = 0; b < buckets; ++b) {
      out[kNumStepFields + 2 * buckets + b] = b < ready.size() ? ready[b] : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return packed;
}

RecordSink::RecordSink(const std::string& path, int world_size, int n_buckets, std::int64_t bucket_every,
                       RankSelection recorded)
    : world_size_(world_size),
      n_buckets_(n_buckets),
      file_(io::RunFile::create(path, world_size, n_buckets, bucket_every, std::move(recorded))),
      summary_(world_size) {}

void RecordSink::append_gathered(const std::vector<double>& gathered, std::size_t steps) {
  if (steps == 0) return;
  const std::size_t per_record = packed_record_size(n_buckets_);
  const auto ranks = static_cast<std::size_t>(world_size_);
  if (gathered.size() != steps * ranks * per_record) {
    throw std::invalid_argument("gathered records: " + std::to_string(gathered.size()) + " values, expected " +
                                std::to_string(steps * ranks * per_record));
  }
  // Rank-major (as gathered) to step-major (as the file stores rows).
  rows_.resize(steps * ranks);
  const auto b = static_cast<std::ptrdiff_t>(n_buckets_);
  for (std::size_t r = 0; r < ranks; ++r) {
    for (std::size_t s = 0; s < steps; ++s) {
      const double* in = &gathered[(r * steps + s) * per_record];
      StepRecord& rec = rows_[s * ranks + r];
      std::copy(in, in + kNumStepFields, rec.values.begin());
      rec.bucket_start_s.assign(in + kNumStepFields, in + kNumStepFields + b);
      rec.bucket_duration_s.assign(in + kNumStepFields + b, in + kNumStepFields + 2 * b);
      rec.bucket_ready_s.assign(in + kNumStepFields + 2 * b, in + kNumStepFields + 3 * b);
    }
  }
  file_.append_steps(rows_);
  file_.flush();
  summary_.add_steps(rows_);
}

}  // namespace scalebench
