#pragma once
// Rank 0's side of recording: what it does with the records every rank gathered to it at a flush.
// It unpacks them (rank-major, as MPI_Gather delivers), feeds every rank's records to the run
// summary, and appends what --record-ranks keeps to the run file, then flushes the file. Split from
// RunRecorder (which owns the gather) so that bench/record_sim can drive exactly this code with
// fabricated records of thousands of ranks in one process, without MPI.
#include <cstddef>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "metrics/rank_selection.hpp"
#include "metrics/step_record.hpp"
#include "metrics/summary.hpp"

namespace scalebench {

// One rank's records as a flat array for the gather: per record, the step fields, then the bucket
// starts, the bucket durations (zeros where a step had fewer buckets, e.g. plain training), and
// the bucket ready times (NaN where not measured).
std::size_t packed_record_size(int n_buckets);
std::vector<double> pack_records(const std::vector<StepRecord>& records, int n_buckets);

class RecordSink {
 public:
  // Creates the run file at `path` (which must not exist).
  RecordSink(const std::string& path, int world_size, int n_buckets, std::int64_t bucket_every,
             RankSelection recorded);

  // `gathered`: every rank's pack_records of `steps` records, rank after rank. Appends them to the
  // file and the summary, then flushes the file, so that what was appended is on disk.
  void append_gathered(const std::vector<double>& gathered, std::size_t steps);

  io::RunFile& file() { return file_; }
  RunSummary summary() const { return summary_.summary(); }
  std::size_t summary_memory_bytes() const { return summary_.memory_bytes(); }

 private:
  int world_size_;
  int n_buckets_;
  io::RunFile file_;
  SummaryAccumulator summary_;
  std::vector<StepRecord> rows_;  // reused between flushes: its buckets' vectors keep their capacity
};

}  // namespace scalebench
