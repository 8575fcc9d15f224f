#pragma once
// Everything a training run is asked to do, as parsed from the command line, and its validation.
// Validation is pure (no MPI, no filesystem) so that every rank reaches the same verdict on the
// same argv without talking, and so it can be unit-tested; the checks that need the filesystem
// (the output path) run on rank 0 only and are agreed on by the caller.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "comm/comm_options.hpp"
#include "metrics/rank_selection.hpp"
#include "models/options.hpp"

namespace scalebench {

struct RunConfig {
  std::string model;
  std::string dataset = "synthetic";
  std::string device = "auto";    // cpu | cuda | auto
  std::string backend = "auto";   // auto | mpi | nccl
  std::optional<std::int64_t> batch_size;    // per rank
  std::optional<std::int64_t> global_batch;  // strong scaling: divided by the world size
  std::optional<std::int64_t> steps;
  std::optional<std::int64_t> epochs;
  std::optional<std::int64_t> warmup_steps;
  std::string optimizer;          // "" = the model's default
  std::optional<double> lr;
  std::optional<double> lr_decay;
  std::optional<double> momentum;            // unset = the model's (sgd only)
  std::uint64_t seed = 42;
  int threads = 0;                // intra-op threads per rank; 0 = LibTorch's default
  double bucket_mb = 25.0;
  double first_bucket_mb = 1.0;   // DDP's first_bucket_bytes: communication starts early in backward
  // The order parameters fill buckets: "observed" (the order backward produced their gradients, in
  // one pass before the first step, as DDP rebuilds after its first), or "registration" (reverse
  // registration order, DDP's initial plan).
  std::string bucket_order = "observed";
  double mpi_chunk_mb = kDefaultMpiChunkMb;  // CommOptions::mpi_chunk_bytes, in MiB
  // --overlap auto|on|off (--no-overlap = off): bucket allreduces during backward; auto measures
  // both in warm-up and keeps the faster (ddp/overlap_choice.hpp).
  std::string overlap = "auto";
  std::string output;             // "" = scalebench-<model>-np<N>-<UTC time>.h5
  bool overwrite = false;
  std::string tag;
  double comm_timeout_s = 300.0;
  std::int64_t flush_every = 20;
  // --record-buckets every:K: per-bucket allreduce times are recorded for steps s % K == 0 only
  // (the [step, rank, bucket] tables are the largest thing a run writes at many ranks).
  std::string record_buckets = "every:1";
  // --record-ranks auto|all|stats|sample:K: which ranks' rows the file keeps (rank_selection.hpp).
  std::string record_ranks = "auto";
  std::int64_t synthetic_batches = 8;
  bool quiet = false;
  // --progress auto|lines|inplace|none: rank 0's progress display (app/progress.hpp); --quiet is none.
  std::string progress = "auto";
  // --cpu-allocator caching|system: host tensors from scalebench's caching allocator (large blocks
  // kept for reuse, runtime/memory_budget.hpp) or LibTorch's default (malloc).
  std::string cpu_allocator = "caching";
  // Memory: a per-rank host budget (MiB of address-space growth after setup; unset = none), and
  // the search for the largest per-rank batch that fits instead of a training run.
  std::optional<std::int64_t> host_memory_limit_mb;
  // Real datasets and training to accuracy (synthetic data has no validation or test split).
  std::string data_dir;
  double validation_fraction = 0.1;  // of the training set, held out for per-epoch evaluation
  std::int64_t prefetch = 2;         // batches prepared ahead by a background thread
  std::int64_t patience = 0;         // early stopping on validation accuracy; 0 = off
  double min_delta = 0.0;            // the least gain that counts as an improvement
  std::optional<double> target_accuracy;  // stop when validation accuracy reaches it
  std::string save;                  // write the trained model here (torch::save); "" = do not
  bool find_max_batch = false;
  std::int64_t max_batch_limit = 65536;
  // What may be chosen about the model (models/options.hpp): unset = the study's.
  std::optional<std::int64_t> image_size;
  bool trainable_base = false;
  std::optional<std::int64_t> vocab_size;
  std::optional<std::int64_t> sequence_length;
  std::optional<std::int64_t> embedding_size;
  std::string weights;            // initial weights file (torch::save of the module); "" = none
  std::string command_line;       // as typed, for the record
};

// The run as it will execute: defaults filled from the model, sizes derived from the world.
struct ResolvedRun {
  std::int64_t batch_per_rank = 0;
  std::int64_t global_batch = 0;
  std::int64_t steps = 0;
  std::int64_t warmup_steps = 0;
  std::string optimizer;
  double lr = 0.0;
  double lr_decay = 0.0;
  double momentum = 0.0;
  std::int64_t bucket_cap_bytes = 0;
  std::int64_t first_bucket_cap_bytes = 0;
};

constexpr const char* kAllowedOptimizers = "sgd, adam, rmsprop";

// Throws UsageError naming what is wrong and what is allowed. `steps_per_epoch` is the batch
// source's (needed to turn --epochs into steps).
ResolvedRun resolve_run(const RunConfig& cfg, int world_size, std::int64_t steps_per_epoch);
// Validates options that do not depend on the model (device, backend, numbers in range). Throws
// UsageError. `cuda_devices` is the number of GPUs this rank sees.
void validate_options(const RunConfig& cfg, int world_size, int cuda_devices);
// K of --record-buckets every:K (K >= 1); throws UsageError for anything else.
std::int64_t record_buckets_every(const std::string& value);
// --record-ranks resolved for `world_size` ranks; throws UsageError saying what is allowed.
RankSelection record_ranks_selection(const std::string& value, int world_size);
// Default output file name for a run started at `utc_stamp` (YYYYmmddTHHMMSSZ).
std::string default_output_name(const RunConfig& cfg, int world_size, const std::string& utc_stamp);
// Rank 0 only: checks that the output can be written. Returns "" or the error message.
std::string check_output_path(const std::string& path, bool overwrite);

nlohmann::json to_json(const RunConfig& cfg);

// The model options of a run (image size, frozen base, vocabulary, weights file, ...).
models::ModelOptions model_options(const RunConfig& cfg);

}  // namespace scalebench
