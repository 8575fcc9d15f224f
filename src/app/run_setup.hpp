#pragma once
// What a training command builds before its first step, shared by `train` and `train
// --find-max-batch`: each rank's replica, data and optimizer (local, no collective), the run's
// identity that all ranks must agree on, and the run file's metadata.
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "comm/communicator.hpp"
#include "core/config.hpp"
#include "datasets/batch_source.hpp"
#include "ddp/bucket_plan.hpp"
#include "io/run_file.hpp"
#include "metrics/summary.hpp"
#include "models/registry.hpp"
#include "runtime/world.hpp"
#include "train/optimizers.hpp"

namespace scalebench {

// Everything a run needs that each rank builds on its own, before any collective.
struct LocalSetup {
  const models::ModelEntry* entry = nullptr;
  torch::Device device = torch::kCPU;
  BackendChoice backend = BackendChoice::kAuto;
  ResolvedRun run;
  std::shared_ptr<models::Network> model;
  std::unique_ptr<datasets::BatchSource> data;
  // A real dataset's held-out splits, this rank's shard of each (null for synthetic data, and the
  // validation split also with --validation-fraction 0).
  std::unique_ptr<datasets::EvalSource> validation;
  std::unique_ptr<datasets::EvalSource> test;
  double model_build_s = 0.0;  // constructing the model and loading --weights (infer's "loading time")
  std::unique_ptr<Optimizer> optimizer;
  std::int64_t params_total = 0;
  std::int64_t params_trainable = 0;
  std::int64_t macs_per_sample = 0;
};

// Where this rank computes and which backend reduces: the GPU of its node-local rank (refusing
// more ranks than GPUs with NCCL), or the CPU. `device` and `backend` are the validated option
// values (cpu|cuda|auto, auto|mpi|nccl). Throws UsageError.
struct Placement {
  torch::Device device = torch::kCPU;
  BackendChoice backend = BackendChoice::kAuto;
};
Placement place_rank(const World& world, const std::string& device, const std::string& backend);

// Validates the options and builds this rank's replica, data source and optimizer. Throws
// UsageError. `extra_steps` is a test-only skew (fault injection) of the resolved step count.
// Collective over the node for a real dataset (loaded into node-shared memory): when another rank
// of the node failed before loading, this rank returns a setup without data, and the caller's
// agree_on_error, which must follow, brings it that rank's error.
LocalSetup build_local(const World& world, const RunConfig& cfg, std::int64_t extra_steps = 0);
// What the data layer needs to feed this model at `batch_per_rank` (dataset, shape, shard, seed).
datasets::SourceSpec source_spec(const World& world, const RunConfig& cfg, const LocalSetup& s,
                                 std::int64_t batch_per_rank);
// The data source for another per-rank batch size (find-max-batch), same dataset and seed.
std::unique_ptr<datasets::BatchSource> make_data_for_batch(const World& world, const RunConfig& cfg,
                                                           const LocalSetup& s, std::int64_t batch_per_rank);

// What every rank must agree on before it averages gradients with the others: the model as built,
// the gradient buckets, the step count, batch, optimizer and the build. Collective: returns "" on
// every rank when all agree, otherwise (on every rank) a message naming the ranks and the fields
// that differ from rank 0's.
nlohmann::json run_identity(const RunConfig& cfg, const LocalSetup& s, const BucketPlan& plan);
// The device kind and the backend this rank will create its communicator with: agreed on
// (check_run_identity) before any communicator exists, since ranks that disagree would pair an
// NCCL-id broadcast with another backend's collective and hang. Also part of run_identity.
nlohmann::json device_identity(const LocalSetup& s);
std::string check_run_identity(const World& world, const nlohmann::json& mine);

void write_metadata(io::RunFile& f, const World& world, const RunConfig& cfg, const LocalSetup& s,
                    const Communicator& comm, const BucketPlan& plan);
void write_summary_attrs(io::RunFile& f, const RunSummary& s);
// Collective: gathers each rank's host, device, CPU affinity and pid to rank 0 (empty elsewhere).
std::vector<io::RankInfo> gather_rank_infos(const World& world, const torch::Device& device);

std::string compact_utc_stamp();  // 20261122T134505Z
std::string shape_string(const std::vector<std::int64_t>& shape);  // 3x32x32

}  // namespace scalebench
