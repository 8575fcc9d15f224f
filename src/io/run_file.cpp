#include "io/run_file.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace scalebench::io {
namespace {
// The per-step tables are appended in place at every flush. Uncompressed chunks have a fixed size
// and never move, so a rank 0 killed in mid-write (SIGKILL, a lost node) can leave unfinished only
// the rows of that write: the bytes of rows flushed before are rewritten with themselves. A
// compressed chunk is re-encoded and rewritten whole at each append (in place when its encoded
// length is unchanged), and a kill during that write corrupted every row of the chunk (CI,
// 2026-12-02: "inflate() failed" reading /steps/step after rank 0's SIGKILL, durability test).
// Flushed data first; the size this costs is in docs/scale.md.
constexpr h5::Compression kStepTables = h5::Compression::kNone;
}  // namespace

namespace {

// Every dataset carries a "description"; numeric ones also a "unit" ("s", "B", "samples", or "1"
// for plain numbers).
struct Doc {
  const char* unit;  // nullptr for strings
  const char* description;
};

void document(h5::Dataset& dataset, const Doc& doc) {
  if (doc.unit != nullptr) dataset.set_attr("unit", std::string(doc.unit));
  dataset.set_attr("description", std::string(doc.description));
}

const Doc kBucketStartDoc{"s",
                          "start of the bucket's gradient allreduce, relative to the step's start"};
const Doc kBucketDurationDoc{"s", "duration of the bucket's gradient allreduce"};
const Doc kBucketReadyDoc{"s",
                          "when the bucket's last gradient arrived (host clock; on CUDA when its hook ran), "
                          "relative to the step's start (/steps/start_time_s); NaN where not measured"};
const Doc kBucketBytesDoc{"B", "gradient bytes in the bucket"};
const Doc kBucketStepDoc{"1",
                         "the step (/steps/step) of each row of start_s and duration_s: every step, or "
                         "steps 0, K, 2K, ... with --record-buckets every:K (the group's attribute every)"};
const Doc kBucketNumParamsDoc{"1", "parameter tensors in the bucket"};
const Doc kBucketSpansNodesDoc{"1",
                               "1 if the bucket's allreduce joins ranks of more than one node (its "
                               "traffic crosses the network), 0 if it stays within one node"};

const Doc kEventTimeDoc{"s", "when the event happened, seconds since rank 0 created the run file"};
const Doc kEventRankDoc{"1", "rank that reported the event"};
const Doc kEventStepDoc{"1", "last step recorded when the event happened; -1 if none"};
const Doc kEventKindDoc{nullptr, "kind of event, e.g. failed, checksum_mismatch"};
const Doc kEventMessageDoc{nullptr, "what happened, in words"};

const Doc kHostnameDoc{nullptr, "host the rank ran on"};
const Doc kLocalRankDoc{"1", "index of the rank among the ranks on its node"};
const Doc kNodeIndexDoc{"1",
                        "the rank's node, 0..nodes-1 in the order of each node's lowest rank; a node "
                        "is what MPI says shares memory (MPI_COMM_TYPE_SHARED)"};
const Doc kDeviceNameDoc{nullptr,
                         "device the rank trained on: GPU model, or \"cpu: \" and the CPU model"};
const Doc kDeviceBusIdDoc{nullptr, "PCI bus id of the rank's GPU; empty on CPU"};
const Doc kCpuAffinityDoc{nullptr, "CPUs the rank's process could run on, e.g. 0-3,8"};
const Doc kPidDoc{"1", "process id of the rank"};

// Columns the caller adds by name through write_rank_column.
Doc rank_column_doc(const std::string& name) {
  if (name == "param_checksum") {
    return {nullptr,
            "checksum (hex) of the rank's model parameters and buffers at the end of the run; "
            "equal on every rank when the replicas stayed identical"};
  }
  return {nullptr, "per-rank value"};
}

const Doc kRankStatsDoc{nullptr,
                        "per step (row i belongs to /steps row i), statistics of the field over every "
                        "rank, in the columns named by the group's attribute columns: min, median (of an "
                        "even count: mean of the two middle values), max, mean, and max_rank (the "
                        "lowest rank holding the max)"};

// One step field of the recorded ranks' records, step-major, as stored: integer fields as int64
// (they are whole numbers carried in doubles, so rounding only removes representation noise).
std::vector<std::int64_t> int_column(const std::vector<StepRecord>& records, std::size_t field,
                                     std::size_t world_size, const std::vector<int>& ranks) {
  std::vector<std::int64_t> out;
  out.reserve(records.size() / world_size * ranks.size());
  for (std::size_t s = 0; s < records.size(); s += world_size) {
    for (const int r : ranks) out.push_back(std::llround(records[s + static_cast<std::size_t>(r)].values[field]));
  }
  return out;
}

std::vector<double> float_column(const std::vector<StepRecord>& records, std::size_t field,
                                 std::size_t world_size, const std::vector<int>& ranks) {
  std::vector<double> out;
  out.reserve(records.size() / world_size * ranks.size());
  for (std::size_t s = 0; s < records.size(); s += world_size) {
    for (const int r : ranks) out.push_back(records[s + static_cast<std::size_t>(r)].values[field]);
  }
  return out;
}

// [steps, kRankStatColumns] statistics of one field over every rank of each step.
std::vector<double> stats_column(const std::vector<StepRecord>& records, std::size_t field,
                                 std::size_t world_size, std::vector<double>& values,
                                 std::vector<double>& scratch) {
  std::vector<double> out;
  out.reserve(records.size() / world_size * kRankStatColumns);
  values.resize(world_size);
  for (std::size_t s = 0; s < records.size(); s += world_size) {
    for (std::size_t r = 0; r < world_size; ++r) values[r] = records[s + r].values[field];
    const auto stats = rank_stats(values.data(), world_size, scratch);
    out.insert(out.end(), stats.begin(), stats.end());
  }
  return out;
}

// One bucket table's values of the step rows listed in `rows` (each row: world_size records), for
// the recorded ranks.
std::vector<double> bucket_values(const std::vector<StepRecord>& records, const std::vector<std::size_t>& rows,
                                  std::size_t world_size, const std::vector<int>& ranks,
                                  std::vector<double> StepRecord::*member) {
  std::vector<double> out;
  for (const std::size_t s : rows) {
    for (const int r : ranks) {
      const StepRecord& record = records[s * world_size + static_cast<std::size_t>(r)];
      out.insert(out.end(), (record.*member).begin(), (record.*member).end());
    }
  }
  return out;
}

// bucket_values, or NaN (not measured) for records without that member's values.
std::vector<double> bucket_values_or_nan(const std::vector<StepRecord>& records, const std::vector<std::size_t>& rows,
                                         std::size_t world_size, const std::vector<int>& ranks, std::size_t n_buckets,
                                         std::vector<double> StepRecord::*member) {
  std::vector<double> out;
  for (const std::size_t s : rows) {
    for (const int r : ranks) {
      const std::vector<double>& v = records[s * world_size + static_cast<std::size_t>(r)].*member;
      if (v.empty()) {
        out.insert(out.end(), n_buckets, std::numeric_limits<double>::quiet_NaN());
      } else {
        out.insert(out.end(), v.begin(), v.end());
      }
    }
  }
  return out;
}

}  // namespace

RunFile::RunFile(std::string path, int world_size, int n_buckets, std::int64_t bucket_every,
                 RankSelection recorded) noexcept
    : path_(std::move(path)),
      owner_(std::make_unique<ThreadOwner>("run file " + path_)),
      world_size_(world_size),
      n_buckets_(n_buckets),
      bucket_every_(bucket_every),
      recorded_(std::move(recorded)) {}

RunFile RunFile::create(const std::string& path, int world_size, int n_buckets, std::int64_t bucket_every,
                        RankSelection recorded) {
  if (world_size < 1 || n_buckets < 0 || bucket_every < 1) {
    throw std::invalid_argument("run file " + path +
                                ": needs world_size >= 1, n_buckets >= 0 and bucket_every >= 1");
  }
  if (recorded.all()) recorded = select_ranks("all", world_size);
  bool ranks_ok = !recorded.ranks.empty() && recorded.ranks.front() == 0;
  for (std::size_t i = 1; i < recorded.ranks.size(); ++i) {
    ranks_ok = ranks_ok && recorded.ranks[i] > recorded.ranks[i - 1];
  }
  if (!ranks_ok || recorded.ranks.back() >= world_size) {
    throw std::invalid_argument("run file " + path + ": the recorded ranks must be ascending, from rank 0, "
                                "below the world size " + std::to_string(world_size));
  }
  RunFile run(path, world_size, n_buckets, bucket_every, std::move(recorded));
  const RankSelection& sel = run.recorded_;
  run.file_ = h5::File::create(path, h5::CreateMode::kExclusive);
  h5::File& file = run.file_;
  file.set_attr("format", std::string(kFormatName));
  file.set_attr("schema_version", kSchemaVersion);
  file.set_attr("status", std::string("running"));
  file.set_attr("record_ranks", sel.mode);

  const auto ranks = static_cast<hsize_t>(sel.ranks.size());
  h5::Group steps = file.create_group("steps");
  if (!sel.all()) steps.set_attr("ranks", std::vector<std::int64_t>(sel.ranks.begin(), sel.ranks.end()));
  for (const auto& field : step_fields()) {
    const h5::Type type = field.is_integer ? h5::Type::kInt64 : h5::Type::kFloat64;
    h5::Dataset d = steps.create_appendable(field.name, type, {ranks}, kStepTables);
    document(d, {field.unit, field.doc});
    run.steps_.push_back(std::move(d));
  }
  if (!sel.all()) {
    h5::Group stats = file.create_group("rank_stats");
    const auto& names = rank_stat_columns();
    stats.set_attr("columns", std::vector<std::string>(names.begin(), names.end()));
    for (const auto& field : step_fields()) {
      h5::Dataset d = stats.create_appendable(field.name, h5::Type::kFloat64, {kRankStatColumns},
                                              kStepTables);
      document(d, {field.unit, kRankStatsDoc.description});
      run.rank_stats_.push_back(std::move(d));
    }
  }

  h5::Group buckets = file.create_group("buckets");
  const std::vector<hsize_t> bucket_row{ranks, static_cast<hsize_t>(n_buckets)};
  run.bucket_start_s_ =
      buckets.create_appendable("start_s", h5::Type::kFloat64, bucket_row, kStepTables);
  document(run.bucket_start_s_, kBucketStartDoc);
  run.bucket_duration_s_ =
      buckets.create_appendable("duration_s", h5::Type::kFloat64, bucket_row, kStepTables);
  document(run.bucket_duration_s_, kBucketDurationDoc);
  run.bucket_ready_s_ =
      buckets.create_appendable("ready_s", h5::Type::kFloat64, bucket_row, kStepTables);
  document(run.bucket_ready_s_, kBucketReadyDoc);
  run.bucket_step_ = buckets.create_appendable("step", h5::Type::kInt64, {}, kStepTables);
  document(run.bucket_step_, kBucketStepDoc);
  buckets.set_attr("every", bucket_every);

  file.create_group("ranks");

  h5::Group events = file.create_group("events");
  Events& e = run.events_;
  e.time_s = events.create_appendable("time_s", h5::Type::kFloat64, {});
  document(e.time_s, kEventTimeDoc);
  e.rank = events.create_appendable("rank", h5::Type::kInt64, {});
  document(e.rank, kEventRankDoc);
  e.step = events.create_appendable("step", h5::Type::kInt64, {});
  document(e.step, kEventStepDoc);
  e.kind = events.create_appendable("kind", h5::Type::kString, {});
  document(e.kind, kEventKindDoc);
  e.message = events.create_appendable("message", h5::Type::kString, {});
  document(e.message, kEventMessageDoc);
  return run;
}

void RunFile::require_open() const {
  if (!file_.is_open()) throw std::logic_error("run file " + path_ + " is already closed");
}

h5::File& RunFile::file() {
  owner_->check("a write to the run file");
  require_open();
  return file_;
}

void RunFile::check_length(const std::string& what, std::size_t size, std::size_t expected) const {
  if (size != expected) {
    throw std::invalid_argument("run file " + path_ + ": " + what + " has " + std::to_string(size) +
                                " entries, expected " + std::to_string(expected));
  }
}

void RunFile::set_attr(const std::string& name, const std::string& value) {
  file().set_attr(name, value);
}
void RunFile::set_attr(const std::string& name, std::int64_t value) {
  file().set_attr(name, value);
}
void RunFile::set_attr(const std::string& name, double value) { file().set_attr(name, value); }

void RunFile::write_ranks(const std::vector<RankInfo>& ranks) {
  check_length("rank table", ranks.size(), static_cast<std::size_t>(world_size_));
  std::vector<std::string> hostname, device_name, device_bus_id, cpu_affinity;
  std::vector<std::int64_t> local_rank, node_index, pid;
  for (const auto& r : ranks) {
    hostname.push_back(r.hostname);
    local_rank.push_back(r.local_rank);
    node_index.push_back(r.node_index);
    device_name.push_back(r.device_name);
    device_bus_id.push_back(r.device_bus_id);
    cpu_affinity.push_back(r.cpu_affinity);
    pid.push_back(r.pid);
  }
  h5::Group group = file().open_group("ranks");
  auto write = [&group](const char* name, const auto& values, const Doc& doc) {
    h5::Dataset d = group.write_dataset(name, values);
    document(d, doc);
  };
  write("hostname", hostname, kHostnameDoc);
  write("local_rank", local_rank, kLocalRankDoc);
  write("node_index", node_index, kNodeIndexDoc);
  write("device_name", device_name, kDeviceNameDoc);
  write("device_bus_id", device_bus_id, kDeviceBusIdDoc);
  write("cpu_affinity", cpu_affinity, kCpuAffinityDoc);
  write("pid", pid, kPidDoc);
}

void RunFile::write_rank_column(const std::string& name, const std::vector<std::string>& values) {
  check_length("/ranks/" + name, values.size(), static_cast<std::size_t>(world_size_));
  h5::Dataset d = file().open_group("ranks").write_dataset(name, values);
  document(d, rank_column_doc(name));
}

void RunFile::write_rank_values(const std::string& name, const std::vector<double>& values,
                                const std::string& unit, const std::string& description) {
  check_length("/ranks/" + name, values.size(), static_cast<std::size_t>(world_size_));
  h5::Dataset d = file().open_group("ranks").write_dataset(name, values);
  d.set_attr("unit", unit);
  d.set_attr("description", description);
}

void RunFile::write_bucket_layout(const std::vector<std::int64_t>& bytes,
                                  const std::vector<std::int64_t>& num_params,
                                  const std::vector<std::int64_t>& spans_nodes) {
  check_length("/buckets/bytes", bytes.size(), static_cast<std::size_t>(n_buckets_));
  check_length("/buckets/num_params", num_params.size(), static_cast<std::size_t>(n_buckets_));
  check_length("/buckets/spans_nodes", spans_nodes.size(), static_cast<std::size_t>(n_buckets_));
  h5::Group group = file().open_group("buckets");
  h5::Dataset b = group.write_dataset("bytes", bytes);
  document(b, kBucketBytesDoc);
  h5::Dataset n = group.write_dataset("num_params", num_params);
  document(n, kBucketNumParamsDoc);
  h5::Dataset x = group.write_dataset("spans_nodes", spans_nodes);
  document(x, kBucketSpansNodesDoc);
}

void RunFile::check_records(const std::vector<StepRecord>& records) const {
  if (records.size() % static_cast<std::size_t>(world_size_) != 0) {
    throw std::invalid_argument("run file " + path_ + ": " + std::to_string(records.size()) +
                                " step records is not a multiple of the world size " +
                                std::to_string(world_size_));
  }
  for (const auto& r : records) {
    check_length("a step record's bucket starts", r.bucket_start_s.size(),
                 static_cast<std::size_t>(n_buckets_));
    check_length("a step record's bucket durations", r.bucket_duration_s.size(),
                 static_cast<std::size_t>(n_buckets_));
    if (!r.bucket_ready_s.empty()) {  // empty: not measured (NaN in the file)
      check_length("a step record's bucket ready times", r.bucket_ready_s.size(),
                   static_cast<std::size_t>(n_buckets_));
    }
  }
}

void RunFile::append_steps(const std::vector<StepRecord>& records) {
  check_records(records);
  require_open();
  const auto ranks = static_cast<std::size_t>(world_size_);
  const std::size_t rows = records.size() / ranks;
  const auto& fields = step_fields();
  const std::vector<int>& recorded = recorded_.ranks;
  for (std::size_t f = 0; f < kNumStepFields; ++f) {
    if (fields[f].is_integer) {
      steps_[f].append(rows, int_column(records, f, ranks, recorded));
    } else {
      steps_[f].append(rows, float_column(records, f, ranks, recorded));
    }
  }
  if (!rank_stats_.empty()) {
    std::vector<double> values, scratch;
    for (std::size_t f = 0; f < kNumStepFields; ++f) {
      rank_stats_[f].append(rows, stats_column(records, f, ranks, values, scratch));
    }
  }
  // Bucket rows of the sampled steps only (every rank's record of a step has the same step).
  std::vector<std::size_t> sampled_rows;
  std::vector<std::int64_t> sampled_steps;
  for (std::size_t s = 0; s < rows; ++s) {
    const auto step = static_cast<std::int64_t>(std::llround(records[s * ranks][StepField::kStep]));
    if (step % bucket_every_ != 0) continue;
    sampled_rows.push_back(s);
    sampled_steps.push_back(step);
  }
  if (!sampled_steps.empty()) {
    bucket_start_s_.append(sampled_steps.size(),
                           bucket_values(records, sampled_rows, ranks, recorded, &StepRecord::bucket_start_s));
    bucket_duration_s_.append(sampled_steps.size(),
                              bucket_values(records, sampled_rows, ranks, recorded,
                                                           &StepRecord::bucket_duration_s));
    bucket_ready_s_.append(sampled_steps.size(),
                           bucket_values_or_nan(records, sampled_rows, ranks, recorded,
                                                static_cast<std::size_t>(n_buckets_), &StepRecord::bucket_ready_s));
    bucket_step_.append(sampled_steps.size(), sampled_steps);
  }
  steps_written_ += static_cast<std::int64_t>(rows);
}

void RunFile::add_event(double time_s, int rank, std::int64_t step, const std::string& kind,
                        const std::string& message) {
  require_open();
  events_.time_s.append(1, std::vector<double>{time_s});
  events_.rank.append(1, std::vector<std::int64_t>{rank});
  events_.step.append(1, std::vector<std::int64_t>{step});
  events_.kind.append(1, std::vector<std::string>{kind});
  events_.message.append(1, std::vector<std::string>{message});
}

void RunFile::append_epoch(const EpochRecord& r) {
  require_open();
  struct Column {
    const char* name;
    Doc doc;
    bool integer;
    double value;
  };
  const Column columns[] = {
      {"epoch", {"1", "epoch, from 0"}, true, static_cast<double>(r.epoch)},
      {"last_step", {"1", "the step that ended the epoch"}, true, static_cast<double>(r.last_step)},
      {"train_samples", {"samples", "training samples of the epoch, all ranks"}, true,
       static_cast<double>(r.train_samples)},
      {"train_loss", {"1", "sample-weighted mean of the epoch's training step losses, all ranks"}, false,
       r.train_loss},
      {"train_accuracy", {"1", "training accuracy over the epoch's steps (each batch before its update), all ranks"},
       false, r.train_accuracy},
      {"validation_loss", {"1", "loss on the validation split at the epoch's end (NaN: none)"}, false,
       r.validation_loss},
      {"validation_accuracy", {"1", "accuracy on the validation split at the epoch's end"}, false,
       r.validation_accuracy},
      {"validation_samples", {"samples", "validation samples evaluated, all ranks"}, true,
       static_cast<double>(r.validation_samples)},
      {"train_s", {"s", "time of the epoch's training steps (slowest rank)"}, false, r.train_s},
      {"validation_s", {"s", "time of the epoch's evaluation (slowest rank)"}, false, r.validation_s},
      {"elapsed_s", {"s", "training + validation time since the first step (total execution time)"},
       false, r.elapsed_s},
  };
  if (epochs_.empty()) {
    h5::Group group = file().create_group("epochs");
    for (const auto& c : columns) {
      epochs_.push_back(group.create_appendable(c.name, c.integer ? h5::Type::kInt64 : h5::Type::kFloat64, {}));
      document(epochs_.back(), c.doc);
    }
  }
  for (std::size_t i = 0; i < std::size(columns); ++i) {
    if (columns[i].integer) {
      epochs_[i].append(1, std::vector<std::int64_t>{static_cast<std::int64_t>(columns[i].value)});
    } else {
      epochs_[i].append(1, std::vector<double>{columns[i].value});
    }
  }
}

void RunFile::flush() { file().flush(); }

void RunFile::close() {
  if (!file_.is_open()) return;
  owner_->check("closing the run file");
  // The checked flush writes every cached chunk, so closing the datasets below has nothing left
  // to write (their own close errors would go unreported).
  file_.flush();
  steps_.clear();
  rank_stats_.clear();
  bucket_start_s_ = {};
  bucket_duration_s_ = {};
  bucket_ready_s_ = {};
  bucket_step_ = {};
  events_ = {};
  epochs_.clear();
  file_.close();
}

}  // namespace scalebench::io
