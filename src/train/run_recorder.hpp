#pragma once
// Gets every rank's step records into the run file. Ranks buffer their records; every
// `flush_every` steps all ranks gather them to rank 0 (one MPI_Gather, outside any step's timing),
// whose writer thread (RecordWriter) appends and flushes them while the steps go on, so a crash
// loses at most that many steps, the file stays readable, and no step contains the file write.
// The file is written as <output>.partial and renamed to <output> only when the run completed: a
// half-written file is never passed off as a result.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "metrics/rank_selection.hpp"
#include "metrics/step_record.hpp"
#include "metrics/summary.hpp"
#include "train/record_sink.hpp"
#include "train/record_writer.hpp"
#include "runtime/watchdog.hpp"
#include "runtime/world.hpp"

namespace scalebench {

class RunRecorder {
 public:
  // Collective. Rank 0 creates the .partial file; if it cannot, every rank throws UsageError.
  // `recorded`: the ranks whose rows the file keeps (--record-ranks); every rank's records still
  // reach rank 0, for the summary and /rank_stats.
  RunRecorder(const World& world, std::string output_path, int n_buckets, std::int64_t flush_every,
              Watchdog* watchdog, std::int64_t bucket_every = 1, RankSelection recorded = {});
  ~RunRecorder();

  static std::string partial_path(const std::string& output_path) { return output_path + ".partial"; }

  // Rank 0: runs `write` on the open run file (metadata, attributes), on the writer's thread, after
  // everything recorded so far, and waits for it; its exception comes back here. A no-op on other
  // ranks. Only the writer's thread calls into the file (RunFile::owner() checks it), so `write`
  // must do nothing but write: no collective, nothing that waits for another rank.
  void with_file(const std::function<void(io::RunFile&)>& write);
  bool writes_file() const { return sink_ != nullptr; }

  // Every rank calls this for every step, in step order.
  void record(StepRecord record);
  // Collective: moves buffered records to rank 0's file.
  void flush();
  // Collective: flushes, stores per-rank checksums, sets the final status and end time; on
  // "completed" renames the file to its final name. Returns whether all checksums agree.
  bool finish(const std::string& status, const std::string& checksum);
  // Rank 0: adds an event to the file (a no-op on other ranks).
  void add_event(const std::string& kind, const std::string& message);
  // Rank 0 only, no collective: after a fault, mark the file failed and close it, keeping the
  // .partial name. Safe to call on any rank (no-op elsewhere).
  void abandon(const std::string& status, const std::string& message) noexcept;

  // Rank 0: the summary of every record flushed so far (accumulated as they are written: rank 0
  // keeps no record beyond the current flush, so its memory does not grow with the steps).
  RunSummary summary();
  const std::string& output_path() const { return output_path_; }
  // The origin of /events/time_s (this rank's host clock when the recorder was created).
  std::chrono::steady_clock::time_point events_origin() const { return started_; }

 private:
  // Events are stamped in seconds since the recorder (and so the run file) was created.
  double seconds_since_start() const;

  const World& world_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::int64_t last_step_ = -1;  // last step recorded on this rank, for events
  std::string output_path_;
  int n_buckets_;
  std::int64_t flush_every_;
  Watchdog* watchdog_;
  std::unique_ptr<RecordSink> sink_;  // rank 0 only
  std::unique_ptr<RecordWriter> writer_;  // rank 0 only; destroyed before sink_ (declared after)
  std::vector<StepRecord> pending_;
  std::atomic<bool> finished_{false};  // abandon() may run on the watchdog's thread
};

std::string utc_timestamp_iso();  // 2026-11-22T13:45:05Z

}  // namespace scalebench
