#pragma once
// The layout of one run's HDF5 file (docs/hdf5-layout.md describes it for readers). Only rank 0
// writes it; this class knows nothing of MPI or torch. Steps arrive in batches and are appended
// as rows of [step, rank] datasets; after flush() the file on disk holds every appended step.
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/thread_owner.hpp"
#include "io/h5.hpp"
#include "metrics/rank_selection.hpp"
#include "metrics/step_record.hpp"

namespace scalebench::io {

// Bumped on any change a reader of the previous version would misread (a dataset renamed,
// reshaped, retyped or given another meaning); readers refuse files newer than they know.
// Adding datasets or attributes is not such a change.
//  1: /steps and /buckets hold every rank's rows.
//  2: they may hold a subset of the ranks (/steps attribute `ranks`), with /rank_stats over all.
//  3: forward_s no longer contains the broadcast of model buffers, which is its own phase,
//     buffer_sync_s (with buffer_sync_bytes); wall_s and its remainder other_s; control_s listed.
//     Every file, in any --record-ranks mode.
constexpr std::int64_t kSchemaVersion = 3;
// Root attribute "format": tells a scalebench run file from any other HDF5 file.
inline constexpr char kFormatName[] = "scalebench-run";

struct RankInfo {
  std::string hostname;
  int local_rank = 0;
  int node_index = 0;  // the rank's node as MPI decides it (shared memory), 0..nodes-1
  std::string device_name;
  std::string device_bus_id;
  std::string cpu_affinity;
  std::int64_t pid = 0;
};

// One row of /epochs: what a run on a real dataset reports per epoch, reduced over the ranks
// (Keras' history, plus the times the hardware-benchmark study reported).
struct EpochRecord {
  std::int64_t epoch = 0;
  std::int64_t last_step = 0;         // the step that ended the epoch
  std::int64_t train_samples = 0;     // over all ranks
  double train_loss = 0.0;            // sample-weighted mean of the epoch's step losses
  double train_accuracy = 0.0;        // correct predictions / samples over the epoch's steps
  double validation_loss = 0.0;       // NaN when there is no validation split
  double validation_accuracy = 0.0;
  std::int64_t validation_samples = 0;
  double train_s = 0.0;               // the epoch's training steps (slowest rank)
  double validation_s = 0.0;          // the epoch's evaluation (slowest rank)
  double elapsed_s = 0.0;             // training + validation since the first step
};

class RunFile {
 public:
  // Creates the file at `path` (fails if it exists: the caller writes under a temporary name and
  // renames at the end) with schema_version, format, status="running", an empty /steps dataset
  // [0, world_size] per step field, /buckets/start_s and duration_s [0, world_size, n_buckets],
  // an empty /ranks group and the empty /events table.
  // `bucket_every` K: /buckets/start_s and duration_s get rows for steps s % K == 0 only, and
  // /buckets/step lists those steps.
  // `recorded` (--record-ranks): the ranks whose rows /steps and /buckets hold, in that order
  // (default: every rank). When it is not "all", /steps gets the attribute `ranks`, and
  // /rank_stats/<field> [step, 5] holds min, median, max, mean and max_rank over every rank.
  static RunFile create(const std::string& path, int world_size, int n_buckets,
                        std::int64_t bucket_every = 1, RankSelection recorded = {});

  // Root attributes; setting one again replaces it.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, std::int64_t value);
  void set_attr(const std::string& name, double value);
  // Other integer types (int, std::size_t, ...) are stored as int64; without this an int would be
  // ambiguous between the two overloads above.
  template <class T, class = std::enable_if_t<std::is_integral_v<T>>>
  void set_attr(const std::string& name, T value) {
    set_attr(name, static_cast<std::int64_t>(value));
  }

  // /ranks/<column>, 1-D of length world_size; each vector is indexed by rank.
  void write_ranks(const std::vector<RankInfo>& ranks);
  void write_rank_column(const std::string& name, const std::vector<std::string>& values);
  // /ranks/<name>: one number per rank, with its unit and meaning (e.g. inference timings).
  void write_rank_values(const std::string& name, const std::vector<double>& values, const std::string& unit,
                         const std::string& description);
  // /buckets/bytes, /buckets/num_params and /buckets/spans_nodes (1 where the bucket's collective
  // joins ranks of more than one node, so its traffic crosses the network), 1-D of length n_buckets.
  void write_bucket_layout(const std::vector<std::int64_t>& bytes,
                           const std::vector<std::int64_t>& num_params,
                           const std::vector<std::int64_t>& spans_nodes);

  // `records` holds n_steps * world_size records, step-major: records[s * world_size + r] is rank
  // r's record of the s-th appended step, with exactly n_buckets bucket starts and durations.
  // Appends n_steps rows to every /steps dataset (the recorded ranks' columns) and to /rank_stats,
  // and rows of the sampled steps to /buckets/start_s and duration_s.
  void append_steps(const std::vector<StepRecord>& records);
  std::int64_t steps_written() const { return steps_written_; }

  // One row of /events. `step` is -1 for an event not tied to a step.
  void add_event(double time_s, int rank, std::int64_t step, const std::string& kind,
                 const std::string& message);
  // One row of /epochs (the group is made by the first call; runs on synthetic data have none).
  void append_epoch(const EpochRecord& record);

  void flush();
  // Flushes and closes; idempotent. Afterwards the writing calls throw std::logic_error.
  // (Destroying an open RunFile also closes it, but cannot report a failure.)
  void close();

  const std::string& path() const { return path_; }
  // The one thread that may call into this file (its creator until handed on): every writing call
  // and close() check it (core/thread_owner.hpp).
  ThreadOwner& owner() { return *owner_; }
  int world_size() const { return world_size_; }
  int n_buckets() const { return n_buckets_; }
  const RankSelection& recorded_ranks() const { return recorded_; }
  std::size_t metadata_cache_bytes() const { return file_.metadata_cache_bytes(); }

 private:
  struct Events {
    h5::Dataset time_s, rank, step, kind, message;
  };

  RunFile(std::string path, int world_size, int n_buckets, std::int64_t bucket_every,
          RankSelection recorded) noexcept;
  void require_open() const;  // throws std::logic_error after close()
  h5::File& file();
  void check_records(const std::vector<StepRecord>& records) const;
  void check_length(const std::string& what, std::size_t size, std::size_t expected) const;

  std::string path_;
  std::unique_ptr<ThreadOwner> owner_;  // a pointer: RunFile moves, an owner does not
  int world_size_;
  int n_buckets_;
  std::int64_t bucket_every_;
  RankSelection recorded_;
  std::int64_t steps_written_ = 0;
  // Declared before the datasets so that it is destroyed after them: HDF5 keeps a file open while
  // any object in it is.
  h5::File file_;
  std::vector<h5::Dataset> steps_;  // same order as step_fields()
  std::vector<h5::Dataset> rank_stats_;  // same order; empty when every rank is recorded
  h5::Dataset bucket_start_s_;
  h5::Dataset bucket_duration_s_;
  h5::Dataset bucket_ready_s_;
  h5::Dataset bucket_step_;
  Events events_;
  std::vector<h5::Dataset> epochs_;  // same order as the columns in append_epoch
};

}  // namespace scalebench::io
