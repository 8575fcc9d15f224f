#include "app/commands.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <algorithm>
#include <atomic>
#include <optional>

#include "app/accuracy_tracker.hpp"
#include "app/progress.hpp"
#include "app/run_setup.hpp"
#include "app/step_control.hpp"
#include "comm/communicator.hpp"
#include "comm/hang_on_cue.hpp"
#include "core/errors.hpp"
#include "ddp/checksum.hpp"
#include "ddp/overlap_choice.hpp"
#include "ddp/reducer.hpp"
#include "device/device.hpp"
#include "metrics/process_stats.hpp"
#include "metrics/summary.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/guarded_wait.hpp"
#include "runtime/log.hpp"
#include "runtime/memory_budget.hpp"
#include "runtime/clock_sync.hpp"
#include "runtime/cpu_budget.hpp"
#include "runtime/math_libraries.hpp"
#include "runtime/progress_board.hpp"
#include "runtime/stop_signals.hpp"
#include "runtime/watchdog.hpp"
#include "train/out_of_memory.hpp"
#include "train/run_recorder.hpp"
#include "train/trainer.hpp"

namespace scalebench {
namespace {

std::string mib(double bytes) { return std::to_string(static_cast<std::int64_t>(bytes / 1048576.0)) + " MiB"; }

std::string describe_out_of_memory(const StepOutOfMemory& e, const LocalSetup& s, std::uint64_t limit_bytes) {
  const device::DeviceMemory mem = device::memory(s.device);
  std::string text = error_context() + " ran out of memory in the " + e.phase() + " of step " +
                     std::to_string(e.step()) + " with batch " + std::to_string(s.run.batch_per_rank) +
                     "/rank: " + e.what() + " (peak RSS " + mib(static_cast<double>(peak_rss_bytes()));
  if (mem.peak_allocated_bytes >= 0) text += ", device peak allocated " + mib(static_cast<double>(mem.peak_allocated_bytes));
  if (!s.device.is_cuda() && cpu_tensor_peak_bytes() >= 0) {
    text += ", CPU tensors peak " + mib(static_cast<double>(cpu_tensor_peak_bytes()));
  }
  if (limit_bytes > 0) text += ", host memory limit " + mib(static_cast<double>(limit_bytes));
  return text + ")";
}

// The CPU tensor budget (--host-memory-limit; for --find-max-batch on a CPU, its share of the
// host's available memory by default: it grows the batch until an allocation fails, which without
// a budget would be the kernel's OOM killer). Installed before the model is built, so that the
// parameters count too, as on a GPU. Returns the budget in bytes (0: none).
std::uint64_t install_cpu_budget(const World& world, const RunConfig& cfg) {
  const bool cpu = cfg.device == "cpu" || (cfg.device == "auto" && device::cuda_device_count() == 0);
  std::uint64_t budget = 0;
  if (cfg.host_memory_limit_mb && *cfg.host_memory_limit_mb > 0) {
    budget = static_cast<std::uint64_t>(*cfg.host_memory_limit_mb) << 20;
  } else if (cfg.find_max_batch && cpu) {
    budget = static_cast<std::uint64_t>(0.9 * static_cast<double>(host_available_memory_bytes()) /
                                        world.local_size());
  }
  if (budget > 0) set_cpu_tensor_budget(budget);
  // Host tensors on every device: a CUDA run's batches and host copies are CPU tensors too.
  if (cfg.cpu_allocator == "caching") enable_cpu_block_cache();
  return budget;
}

// --save: rank 0 writes the trained model (all replicas are identical) as a LibTorch archive that
// --weights loads, under a temporary name renamed when complete, so a crash leaves no half file.
void save_model(const World& world, models::Network& model, const std::string& path) {
  std::string error;
  if (world.is_root()) {
    const std::string partial = path + ".partial";
    try {
      torch::serialize::OutputArchive archive;
      model.save(archive);
      archive.save_to(partial);
      std::filesystem::rename(partial, path);
    } catch (const std::exception& e) {
      std::filesystem::remove(partial);
      error = "cannot save the model to " + path + ": " + e.what();
    }
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw std::runtime_error(error);
}

// One training run, from the options to the closed file. The members are declared in the order
// the run sets them up, so that they are torn down in the reverse order: the recorder (which marks
// an unfinished file failed) goes before the reducer and the watchdog, the watchdog (whose callback
// uses the communicator and the recorder) before the communicator. Setup happens in the
// constructor, in phases that agree on any error before the next collective; run() is the step
// loop or the batch search, and ends in finish() or end_early().
class TrainSession {
 public:
  TrainSession(World& world, RunConfig cfg);
  TrainSession(const TrainSession&) = delete;
  TrainSession& operator=(const TrainSession&) = delete;
  // The exit code; a fault escapes as an exception after the file was marked failed.
  int run();

 private:
  void build_replica();      // phase 1, local: every rank's model, data, optimizer (agreed errors)
  void check_output();       // phase 2, rank 0: the output path (agreed)
  void build_collective();   // phase 3: communicator, watchdog, buckets, replicas, run file
  int train();               // the step loop
  int search_max_batch();    // --find-max-batch
  // Ends a run that every rank agreed to stop after `step`: records why (rank 0), closes the file
  // under its .partial name (it is not a completed result) and returns the documented exit code.
  int end_early(const StopVerdict& stop, std::int64_t step, const std::string& my_oom);
  // Each rank updates BatchNorm statistics from its own batch; rank 0's are the model's (they are
  // broadcast before every forward, as DDP does), so they are made equal before the checksum
  // that proves the replicas identical.
  std::string final_checksum();
  std::unique_ptr<Trainer> make_trainer(datasets::BatchSource* data);
  // Collective: estimates every rank's run-clock offset to rank 0's and stores it in /ranks as
  // clock_offset_<when>_s (when: start, end), with its uncertainty.
  void record_clock_offsets(const char* when);
  // --overlap auto: reports a measured warm-up step's time (the slowest rank's, a collective) and,
  // after the last one, records the mode kept.
  void choose_overlap(std::int64_t step, double step_s);
  // --bucket-order observed: the order one backward pass on 2 synthetic samples produces the
  // gradients in (local, no collective; the run's data and random streams are untouched).
  std::vector<std::size_t> observe_bucket_order();
  double run_clock_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - run_clock_origin_).count();
  }

  // This rank's run clock (start_time_s, end_time_s, the offsets between ranks) starts here.
  const std::chrono::steady_clock::time_point run_clock_origin_ = std::chrono::steady_clock::now();

  World& world_;
  RunConfig cfg_;
  const FaultInjection inject_;
  const std::uint64_t memory_limit_;
  LocalSetup s_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<ProgressBoard> board_;
  std::vector<std::string> hostnames_;  // the watchdog names ranks by host; filled with the file
  // What makes this run's figures unrepresentative (rank 0 only): said at the start and again
  // under the summary, where a reader of a long log looks, and stored in the file.
  std::vector<std::string> run_warnings_;
  // Read by the watchdog's thread when it fires, set by the main thread once the file exists.
  std::atomic<RunRecorder*> recorder_for_watchdog_{nullptr};
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<Reducer> reducer_;
  std::vector<std::vector<std::size_t>> initial_bucket_params_;  // the plan before it was rebuilt
  std::unique_ptr<OverlapChooser> overlap_choice_;  // the training loop's; the batch search keeps the start mode
  std::unique_ptr<RunRecorder> recorder_;
  std::unique_ptr<PhaseClock> clock_;
  std::unique_ptr<StepControl> control_;
};

TrainSession::TrainSession(World& world, RunConfig cfg)
    : world_(world),
      cfg_(std::move(cfg)),
      inject_(fault_injection_from_env(world.rank())),
      memory_limit_(install_cpu_budget(world, cfg_)) {
  build_replica();
  check_output();
  build_collective();
}

void TrainSession::build_replica() {
  // A usage error found by any rank is agreed on before anyone enters a collective, so no rank
  // waits for one that quit.
  std::string error;
  std::string oom_error;
  try {
    s_ = build_local(world_, cfg_, inject_.extra_steps());
  } catch (const UsageError& e) {
    error = e.what();
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e)) throw;
    oom_error = std::string("out of memory while building the model on ") + error_context() + ": " + e.what();
  }
  error = world_.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);
  oom_error = world_.agree_on_error(oom_error);
  if (!oom_error.empty()) throw AgreedFault(kExitOutOfMemory, oom_error);
}

void TrainSession::check_output() {
  // Results are never overwritten before a new run completes.
  if (cfg_.output.empty()) cfg_.output = default_output_name(cfg_, world_.size(), compact_utc_stamp());
  cfg_.output = world_.broadcast_string(cfg_.output);
  std::string error = world_.is_root() ? check_output_path(cfg_.output, cfg_.overwrite) : "";
  if (error.empty() && world_.is_root() && std::filesystem::exists(RunRecorder::partial_path(cfg_.output))) {
    error = "--output " + cfg_.output + ": " + RunRecorder::partial_path(cfg_.output) +
            " exists (a run writing it is in progress or was interrupted); remove it or choose "
            "another name";
  }
  if (error.empty() && world_.is_root() && !cfg_.save.empty()) {
    // The same rules as for the run file (never overwritten silently, the folder must exist).
    error = check_output_path(cfg_.save, cfg_.overwrite);
    if (!error.empty()) error = "--save" + error.substr(std::string("--output").size());
  }
  error = world_.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);
}

std::vector<std::size_t> TrainSession::observe_bucket_order() {
  datasets::SourceSpec spec = source_spec(world_, cfg_, s_, 2);
  spec.dataset = "synthetic";  // whatever the run reads: only the graph's shape matters here
  spec.rank = 0;
  spec.world_size = 1;
  spec.synthetic_batches = 1;
  spec.prefetch = 0;
  const datasets::Batch probe = datasets::make_batch_source(spec)->batch(0);
  return observe_gradient_order(*s_.model, *reducer_, probe);
}

void TrainSession::build_collective() {
  // Before any communicator: the NCCL one broadcasts its id, the MPI one duplicates the world,
  // and ranks that would build different ones would pair those collectives and hang.
  if (const std::string error = check_run_identity(world_, device_identity(s_)); !error.empty()) {
    throw AgreedFault(kExitDesync, error);
  }
  comm_ = make_communicator(s_.backend, s_.device, CommOptions::from_mpi_chunk_mb(cfg_.mpi_chunk_mb));
  if (inject_.kind == FaultInjection::Kind::kHang && inject_.mine) {
    comm_ = hang_on_cue(std::move(comm_), [this] { return inject_.hangs_collectives(); });
  }
  board_ = std::make_unique<ProgressBoard>(world_);
  watchdog_ = std::make_unique<Watchdog>(
      cfg_.comm_timeout_s,
      [this](const std::string& message) {
        comm_->abort();
        // Rank 0 marks the file before the job goes: its flushed steps stay, it says why it ended.
        if (RunRecorder* r = recorder_for_watchdog_.load()) r->abandon("stuck", message);
      },
      [this] { return board_->laggards(hostnames_); });
  // The bucket buffers are the last large allocation of setup: running out of memory here is
  // agreed like while building the model (exit 6, one message), not a fault of one rank.
  std::string oom_error;
  std::vector<std::size_t> order;
  try {
    reducer_ = std::make_unique<Reducer>(
        models::trainable_parameters(*s_.model), *comm_,
        ReducerOptions{s_.run.bucket_cap_bytes, cfg_.overlap != "off", s_.run.first_bucket_cap_bytes});
    overlap_choice_ = std::make_unique<OverlapChooser>(parse_overlap_mode(cfg_.overlap), s_.run.warmup_steps,
                                                       world_.size());
    initial_bucket_params_ = bucket_params(reducer_->plan());
    if (cfg_.bucket_order == "observed") order = observe_bucket_order();
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e)) throw;
    oom_error = std::string("out of memory while building the model's gradient buckets on ") +
                error_context() + ": " + e.what();
  }
  oom_error = world_.agree_on_error(oom_error);
  if (!oom_error.empty()) throw AgreedFault(kExitOutOfMemory, oom_error);
  if (cfg_.bucket_order == "observed") {
    // Rank 0's order on every rank (as DDP rebuilds from rank 0's): the plan is the same
    // everywhere even where autograd's threads could order two gradients differently.
    order = nlohmann::json::parse(world_.broadcast_string(nlohmann::json(order).dump())).get<std::vector<std::size_t>>();
    try {
      reducer_->rebuild(order);
    } catch (const std::exception& e) {
      if (!is_out_of_memory(e)) throw;
      oom_error = std::string("out of memory while rebuilding the gradient buckets on ") + error_context() + ": " + e.what();
    }
    oom_error = world_.agree_on_error(oom_error);
    if (!oom_error.empty()) throw AgreedFault(kExitOutOfMemory, oom_error);
  }
  // Before the first collective on model tensors: ranks that built different models, buckets or
  // step counts would pair mismatched collectives (a hang) or average garbage.
  const std::string error = check_run_identity(world_, run_identity(cfg_, s_, reducer_->plan()));
  if (!error.empty()) throw AgreedFault(kExitDesync, error);
  {
    Watchdog::Guard guard(watchdog_.get(), -1, "broadcast of the initial model state");
    broadcast_initial_state(*comm_, *s_.model);
  }
  const auto n_buckets = static_cast<int>(reducer_->plan().buckets.size());
  recorder_ = std::make_unique<RunRecorder>(world_, cfg_.output, n_buckets, cfg_.flush_every, watchdog_.get(),
                                            record_buckets_every(cfg_.record_buckets),
                                            record_ranks_selection(cfg_.record_ranks, world_.size()));
  recorder_for_watchdog_.store(recorder_.get());
  const auto ranks = gather_rank_infos(world_, s_.device);
  // Rank 0 (which writes the file) judges the ranks' CPUs and the BLAS; the job below only writes.
  double cpu_threads_per_cpu_max = 0.0;
  if (recorder_->writes_file()) {
    for (const auto& r : ranks) hostnames_.push_back(r.hostname);
    if (!s_.device.is_cuda()) {
      // Ranks' compute threads against the CPUs of their hosts: a CPU run's figures are only the
      // machine's when no two compute threads share a core.
      std::vector<std::string> affinities;
      for (const auto& r : ranks) affinities.push_back(r.cpu_affinity);
      const auto loads = host_loads(hostnames_, affinities, torch::get_num_threads());
      cpu_threads_per_cpu_max = max_host_load(loads);
      if (std::string w = oversubscription_warning(loads); !w.empty()) run_warnings_.push_back(std::move(w));
      if (std::string w = reference_blas_warning(detect_math_libraries()); !w.empty()) {
        run_warnings_.push_back(std::move(w));
      }
    }
  }
  std::string joined_warnings;
  for (const auto& w : run_warnings_) joined_warnings += (joined_warnings.empty() ? "" : "\n") + w;
  recorder_->with_file([&](io::RunFile& f) {
    write_metadata(f, world_, cfg_, s_, *comm_, reducer_->plan());
    // Rewritten when --overlap auto has chosen (until then: "still measuring").
    f.set_attr("overlap_choice", overlap_choice_->reason());
    f.set_attr("bucket_order", cfg_.bucket_order);
    f.set_attr("bucket_plan_initial", nlohmann::json(initial_bucket_params_).dump());
    f.set_attr("bucket_plan", nlohmann::json(bucket_params(reducer_->plan())).dump());
    // Places /events on rank 0's run clock, so a timeline draws each event where it happened.
    f.set_attr("events_origin_run_clock_s",
               std::chrono::duration<double>(recorder_->events_origin() - run_clock_origin_).count());
    f.write_ranks(ranks);
    if (!s_.device.is_cuda()) f.set_attr("cpu_threads_per_cpu_max", cpu_threads_per_cpu_max);
    f.set_attr("run_warnings", joined_warnings);
    if (memory_limit_ > 0) f.set_attr("host_memory_limit_bytes", static_cast<std::int64_t>(memory_limit_));
    f.set_attr("cpu_allocator", std::string(cpu_block_cache_enabled() ? "caching" : "system"));
    f.flush();
  });
  record_clock_offsets("start");
  clock_ = device::make_phase_clock(s_.device);
  control_ = std::make_unique<StepControl>(world_, *watchdog_, *board_);
  log::info("scalebench: " + cfg_.model + " on " + std::to_string(world_.size()) + " rank(s), " +
            std::to_string(world_.nodes()) + " node(s), device " + (s_.device.is_cuda() ? "cuda" : "cpu") +
            ", backend " + comm_->backend() + ", batch " + std::to_string(s_.run.batch_per_rank) +
            "/rank (global " + std::to_string(s_.run.global_batch) + "), " +
            std::to_string(s_.run.steps) + " steps (" + std::to_string(s_.run.warmup_steps) +
            " warm-up), " + std::to_string(n_buckets) + " gradient bucket(s), " +
            std::to_string(torch::get_num_threads()) + " thread(s)/rank -> " + cfg_.output);
  for (const auto& w : run_warnings_) log::warn(w);
}

std::unique_ptr<Trainer> TrainSession::make_trainer(datasets::BatchSource* data) {
  return std::make_unique<Trainer>(TrainerParts{s_.model, data, s_.optimizer.get(), clock_.get(), s_.device,
                                                comm_.get(), reducer_.get(), watchdog_.get(), &inject_,
                                                run_clock_origin_});
}

void TrainSession::choose_overlap(std::int64_t step, double step_s) {
  double slowest = 0.0;
  {
    Watchdog::Guard guard(watchdog_.get(), step, "agreement on the warm-up step times (--overlap auto)");
    slowest = world_.max_over_ranks(step_s);
  }
  if (!overlap_choice_->observe(step, slowest)) return;
  const std::string reason = overlap_choice_->reason();
  recorder_->with_file([&](io::RunFile& f) {
    f.set_attr("overlap", static_cast<std::int64_t>(overlap_choice_->chosen_overlap() ? 1 : 0));
    f.set_attr("overlap_auto_on_s", overlap_choice_->median_on_s());
    f.set_attr("overlap_auto_off_s", overlap_choice_->median_off_s());
    f.set_attr("overlap_choice", reason);
  });
  log::info(reason);
}

void TrainSession::record_clock_offsets(const char* when) {
  ClockOffsets offsets;
  const std::string what = std::string("clock offset estimate at the ") + when + " of the run";
  {
    Watchdog::Guard guard(watchdog_.get(), -1, what.c_str());
    offsets = estimate_clock_offsets(world_, [this] { return run_clock_s(); });
  }
  // Each rank's clock origin on the host's monotonic clock: on one host it gives the true offsets,
  // which the tests compare the estimates with.
  const auto origins = world_.gather_to_root(
      {std::chrono::duration<double>(run_clock_origin_.time_since_epoch()).count()});
  const std::string w = when;
  recorder_->with_file([&](io::RunFile& f) {
    f.write_rank_values("clock_offset_" + w + "_s", offsets.offset_s, "s",
                        "this rank's run clock (start_time_s, end_time_s) minus rank 0's at the same instant, "
                        "estimated at the " + w + " of the run (best of 8 ping-pongs with rank 0); rank 0's time "
                        "of the estimate is the root attribute clock_sync_" + w + "_s");
    f.write_rank_values("clock_offset_" + w + "_uncertainty_s", offsets.uncertainty_s, "s",
                        "bound of clock_offset_" + w + "_s's error: half the round trip of the exchange it comes from");
    f.set_attr("clock_sync_" + w + "_s", offsets.root_time_s);
    if (w == "start") {
      f.write_rank_values("clock_origin_monotonic_s", origins, "s",
                          "origin of the rank's run clock on its host's monotonic clock (CLOCK_MONOTONIC): "
                          "comparable between ranks of one host only");
    }
    f.flush();
  });
}

std::string TrainSession::final_checksum() {
  const std::vector<torch::Tensor> buffers = model_buffers(*s_.model);
  if (!buffers.empty()) {
    Watchdog::Guard guard(watchdog_.get(), -1, "broadcast of the final model buffers");
    broadcast_tensors(*comm_, buffers, 0);
  }
  // On CUDA the broadcast was only enqueued: wait for it where the watchdog sees the wait, not in
  // the checksum's copy to the host.
  guarded_wait(watchdog_.get(), -1, "completion of the final model buffers' broadcast",
               {device::enqueue_fence(s_.device), [this] { return comm_->async_error(); }});
  return to_hex(state_checksum(*s_.model));
}

int TrainSession::run() {
  try {
    return cfg_.find_max_batch ? search_max_batch() : train();
  } catch (const std::exception& e) {
    recorder_->abandon("failed", e.what());
    throw;
  }
}

int TrainSession::train() {
  std::unique_ptr<Trainer> trainer = make_trainer(s_.data.get());
  Progress progress(s_.run.steps, s_.run.global_batch,
                    world_.is_root() ? resolve_progress_style(cfg_.progress, cfg_.quiet) : ProgressStyle::kNone);
  // Real data: evaluation at each epoch's end, early stopping, time to accuracy, final test.
  std::unique_ptr<AccuracyTracker> accuracy;
  if (cfg_.dataset != "synthetic") accuracy = std::make_unique<AccuracyTracker>(world_, cfg_, *s_.model, *comm_, *watchdog_);
  const std::int64_t steps_per_epoch = s_.data->steps_per_epoch();
  std::string early_kind, early_reason;
  // wall_s: a step's share of the loop's wall clock, from the start of its iteration (which first
  // records the step before it: gather and file writes are between-step work, and in no phase) to
  // the end of its control agreement. So a step's record waits one iteration before it is recorded.
  // An epoch-end evaluation is in no step's wall_s (it is not training).
  std::optional<StepRecord> held;
  const auto record_held = [&] {
    if (held) recorder_->record(std::move(*held));
    held.reset();
  };
  for (std::int64_t step = 0; step < s_.run.steps; ++step) {
    const auto iteration_start = std::chrono::steady_clock::now();
    record_held();
    const bool warmup = step < s_.run.warmup_steps;
    reducer_->set_overlap(overlap_choice_->overlap_for(step));
    inject_.before_step(step);
    control_->begin(step);
    std::optional<StepRecord> rec;
    std::string oom;  // this rank's account of running out of memory in this step
    double step_s = 0.0;
    try {
      rec = trainer->step(step, warmup, step / steps_per_epoch);
      step_s = (*rec)[StepField::kStepS];
      progress.update(step, (*rec)[StepField::kStepS], (*rec)[StepField::kLoss], warmup);
    } catch (const StepOutOfMemory& e) {
      oom = describe_out_of_memory(e, s_, memory_limit_);
    }
    const StopVerdict stop =
        control_->agree(step, rec ? (*rec)[StepField::kLoss] : 0.0, !oom.empty(), rec ? &*rec : nullptr);
    // A step that ran out of memory on any rank is complete on none: no rank records it (the
    // records are gathered rank by rank, so every rank must record the same steps).
    if (rec && !stop.out_of_memory) {
      if (accuracy) {
        accuracy->add_step((*rec)[StepField::kLoss], static_cast<std::int64_t>((*rec)[StepField::kSamples]),
                           trainer->last_correct());
      }
      set_wall_time(*rec, std::chrono::duration<double>(std::chrono::steady_clock::now() - iteration_start).count());
      held = std::move(*rec);
    }
    if (stop.any()) {
      record_held();
      progress.done();
      return end_early(stop, step, oom);
    }
    if (overlap_choice_->measures(step)) choose_overlap(step, step_s);
    step += inject_.step_skew(step);
    // Early stopping (or the target) at the last planned epoch is no early stop: it ends anyway.
    if (accuracy && (step + 1) % steps_per_epoch == 0) record_held();  // its events follow its steps
    if (accuracy && (step + 1) % steps_per_epoch == 0 &&
        accuracy->end_epoch(step / steps_per_epoch, step, s_.validation.get(), *recorder_) &&
        step + 1 < s_.run.steps) {
      early_kind = accuracy->stop_kind();
      early_reason = accuracy->stop_reason();
      break;
    }
  }
  record_held();
  progress.done();
  board_->finish();
  recorder_->flush();
  if (!early_kind.empty()) {
    recorder_->add_event(early_kind, early_reason);
    log::info(early_reason);
  }
  if (accuracy) accuracy->final_test(s_.test.get(), *recorder_);
  const RunSummary summary = recorder_->summary();
  recorder_->with_file([&](io::RunFile& f) {
    write_summary_attrs(f, summary);
    f.set_attr("stopped_early", static_cast<std::int64_t>(!early_kind.empty()));
  });
  record_clock_offsets("end");
  const std::string checksum = final_checksum();  // also makes rank 0's buffers everyone's
  if (!cfg_.save.empty()) save_model(world_, *s_.model, cfg_.save);
  const bool agree = recorder_->finish("completed", checksum);
  log::info(format_summary(summary, world_.size(), s_.run.global_batch));
  for (const auto& w : run_warnings_) log::warn(w);
  if (!agree) log::warn("parameters differ across ranks at the end of the run (see /ranks/param_checksum)");
  log::info("wrote " + cfg_.output + (cfg_.save.empty() ? "" : " and the model to " + cfg_.save));
  return kExitOk;
}

int TrainSession::end_early(const StopVerdict& stop, std::int64_t step, const std::string& my_oom) {
  std::string status;
  std::string why;
  int code = kExitFault;
  if (stop.desync()) {
    // Collectives were paired across different steps: name which rank believed what.
    const auto steps = world_.gather_to_root({static_cast<double>(step)});
    status = "desync";
    code = kExitDesync;
    why = "ranks disagree on the step count after the same number of collectives:";
    for (std::size_t r = 0; r < steps.size(); ++r) {
      why += (r ? ", rank " : " rank ") + std::to_string(r) + " at step " +
             std::to_string(static_cast<std::int64_t>(steps[r]));
    }
    why += "; the gradients of those steps were averaged across different steps";
  } else if (stop.out_of_memory) {
    const auto accounts = world_.gather_strings_to_root(my_oom);
    const auto figures = world_.gather_to_root(
        {my_oom.empty() ? 0.0 : 1.0, static_cast<double>(peak_rss_bytes()),
         static_cast<double>(s_.device.is_cuda() ? device::memory(s_.device).peak_allocated_bytes
                                                 : cpu_tensor_peak_bytes())});
    status = "oom";
    code = kExitOutOfMemory;
    std::string ranks;
    double peak_rss = 0.0, device_peak = -1.0;
    for (std::size_t r = 0; r < accounts.size(); ++r) {
      if (accounts[r].empty()) continue;
      why += (why.empty() ? "" : "; ") + accounts[r];
      ranks += (ranks.empty() ? "" : ",") + std::to_string(r);
      peak_rss = std::max(peak_rss, figures[3 * r + 1]);
      device_peak = std::max(device_peak, figures[3 * r + 2]);
    }
    recorder_->with_file([&](io::RunFile& file) {
      file.set_attr("oom_step", step);
      file.set_attr("oom_ranks", ranks);
      file.set_attr("oom_batch_per_rank", s_.run.batch_per_rank);
      file.set_attr("oom_peak_rss_bytes", static_cast<std::int64_t>(peak_rss));
      file.set_attr("oom_device_peak_allocated_bytes", static_cast<std::int64_t>(device_peak));
    });
  } else if (stop.signal) {
    status = "interrupted";
    code = kExitInterrupted;
    why = std::string(stop_signals::name(stop.signal)) + " received; stopped after step " + std::to_string(step);
  } else {
    status = "diverged";
    code = kExitDiverged;
    why = "loss is not finite at step " + std::to_string(step) + " (on at least one rank)";
  }
  recorder_->add_event(status, why);
  board_->finish();
  record_clock_offsets("end");  // the steps recorded so far can still be put on one time axis
  recorder_->finish(status, final_checksum());
  log::warn("run " + status + ": " + why + "; recorded steps are in " + RunRecorder::partial_path(cfg_.output));
  return code;
}

// --find-max-batch: the run's machinery (communicator, buckets, watchdog, recorder) with a batch
// that changes between candidates. Every candidate runs two full data-parallel steps (the first
// allocates the optimizer's state, the second shows the steady state); running out of memory on
// any rank is agreed like in a run, so every rank tries the same candidates in the same order.
int TrainSession::search_max_batch() {
  constexpr int kStepsPerCandidate = 2;
  std::int64_t fits = 0;                           // largest batch known to fit (0: none yet)
  std::int64_t fails = cfg_.max_batch_limit + 1;   // smallest batch known not to fit
  std::int64_t batch = std::min(cfg_.batch_size.value_or(1), cfg_.max_batch_limit);
  std::int64_t step = 0;
  nlohmann::json tried = nlohmann::json::array();
  while (true) {
    auto data = make_data_for_batch(world_, cfg_, s_, batch);
    // Each candidate's own peaks, not the largest of the ones before (a smaller candidate after a
    // larger one would otherwise report the larger one's memory).
    release_cpu_block_cache();  // the last candidate's free blocks: not this one's memory
    reset_cpu_tensor_peak();
    reset_peak_rss();
    device::reset_peak_memory(s_.device);
    std::unique_ptr<Trainer> trainer = make_trainer(data.get());
    bool fit = true;
    double step_s = 0.0;
    std::string oom;
    for (int i = 0; i < kStepsPerCandidate; ++i, ++step) {
      const auto iteration_start = std::chrono::steady_clock::now();
      control_->begin(step);
      std::optional<StepRecord> rec;
      try {
        rec = trainer->step(step, i == 0, 0);
        step_s = (*rec)[StepField::kStepS];
      } catch (const StepOutOfMemory& e) {
        oom = describe_out_of_memory(e, s_, memory_limit_);
      }
      const StopVerdict stop = control_->agree(step, 0.0, !oom.empty(), rec ? &*rec : nullptr);
      if (rec && !stop.out_of_memory) {
        // Here a step's wall_s ends with its control agreement (the search is not a throughput run).
        set_wall_time(*rec, std::chrono::duration<double>(std::chrono::steady_clock::now() - iteration_start).count());
        recorder_->record(std::move(*rec));
      }
      if (stop.out_of_memory) {
        fit = false;
        break;
      }
      if (stop.any()) return end_early(stop, step, oom);
    }
    const auto peaks = world_.max_over_ranks(std::vector<double>{
        static_cast<double>(peak_rss_bytes()),
        static_cast<double>(s_.device.is_cuda() ? device::memory(s_.device).peak_allocated_bytes
                                                 : cpu_tensor_peak_bytes())});
    tried.push_back({{"batch_per_rank", batch}, {"fits", fit}, {"step_s", fit ? step_s : 0.0},
                     {"peak_rss_bytes", static_cast<std::int64_t>(peaks[0])},
                     {"peak_tensor_bytes", static_cast<std::int64_t>(peaks[1])}});
    log::info("find-max-batch: batch " + std::to_string(batch) + "/rank " + (fit ? "fits" : "does not fit"));
    if (fit) {
      fits = batch;
    } else {
      fails = batch;
    }
    // Double until something fails, halve until something fits, then bisect to one sample.
    if (fails - fits <= 1 || (fit && batch >= cfg_.max_batch_limit)) break;
    if (fails > cfg_.max_batch_limit) {
      batch = std::min(2 * batch, cfg_.max_batch_limit);
    } else if (fits == 0) {
      batch = std::max<std::int64_t>(1, batch / 2);
    } else {
      batch = fits + (fails - fits) / 2;
    }
  }
  recorder_->with_file([&](io::RunFile& f) {
    f.set_attr("max_batch_per_rank", fits);
    f.set_attr("max_batch_limit", cfg_.max_batch_limit);
    f.set_attr("max_batch_limit_reached", static_cast<std::int64_t>(fits >= cfg_.max_batch_limit));
    f.set_attr("max_batch_search", tried.dump());
  });
  const std::string result =
      fits == 0 ? "not even a batch of 1 sample per rank fits"
      : fits >= cfg_.max_batch_limit
          ? "batch " + std::to_string(fits) + "/rank fits (the --max-batch-limit; larger was not tried)"
          : "the largest per-rank batch that fits is " + std::to_string(fits) + " (" +
                std::to_string(fails) + " does not)";
  recorder_->add_event("find_max_batch", result);
  board_->finish();
  recorder_->finish("completed", final_checksum());
  log::info("find-max-batch: " + result + " for " + cfg_.model + " on " + std::to_string(world_.size()) +
            " rank(s); wrote " + cfg_.output);
  return kExitOk;
}

}  // namespace

int run_train(World& world, RunConfig cfg) {
  // From here on a stop signal is a request to flush and close the file, not an instant death.
  stop_signals::install();
  TrainSession session(world, std::move(cfg));
  return session.run();
}

}  // namespace scalebench
