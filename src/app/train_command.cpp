#include "app/commands.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <optional>

#include "app/accuracy_tracker.hpp"
#include "app/progress.hpp"
#include "app/run_setup.hpp"
#include "comm/communicator.hpp"
#include "core/errors.hpp"
#include "ddp/checksum.hpp"
#include "ddp/reducer.hpp"
#include "device/device.hpp"
#include "metrics/process_stats.hpp"
#include "metrics/summary.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/log.hpp"
#include "runtime/memory_budget.hpp"
#include "runtime/progress_board.hpp"
#include "runtime/stop_signals.hpp"
#include "runtime/watchdog.hpp"
#include "train/out_of_memory.hpp"
#include "train/run_recorder.hpp"
#include "train/trainer.hpp"

namespace scalebench {
namespace {

// Why a run ends before its last step, agreed by every rank after the same step.
struct StopVerdict {
  int signal = 0;              // a stop signal some rank received (0: none)
  bool diverged = false;       // some rank's loss was NaN or infinite
  bool out_of_memory = false;  // some rank ran out of memory in this step
  std::int64_t lowest_step = 0, highest_step = 0;  // the step each rank believes it just ran
  bool desync() const { return lowest_step != highest_step; }
  bool any() const { return signal != 0 || diverged || out_of_memory || desync(); }
};

// One small allreduce between steps (outside every step's timing): each rank contributes what it
// saw, so all ranks stop after the same step and no rank is left alone in a collective. It also
// carries the step number, so that a rank that lost count is caught at the next step, not never.
StopVerdict agree_on_stop(const World& world, Watchdog& watchdog, std::int64_t step, double loss,
                          bool out_of_memory) {
  Watchdog::Guard guard(&watchdog, step, "agreement on stopping (signals, divergence, memory)");
  const auto v = world.max_over_ranks(std::vector<double>{
      static_cast<double>(stop_signals::pending()), std::isfinite(loss) ? 0.0 : 1.0,
      out_of_memory ? 1.0 : 0.0, static_cast<double>(step), -static_cast<double>(step)});
  StopVerdict verdict;
  verdict.signal = static_cast<int>(v[0]);
  verdict.diverged = v[1] > 0.0;
  verdict.out_of_memory = v[2] > 0.0;
  verdict.highest_step = static_cast<std::int64_t>(v[3]);
  verdict.lowest_step = static_cast<std::int64_t>(-v[4]);
  return verdict;
}

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

// Ends a run that every rank agreed to stop after `step`: records why (rank 0), closes the file
// under its .partial name (it is not a completed result) and returns the documented exit code.
int end_early(const World& world, const StopVerdict& stop, std::int64_t step, const std::string& my_oom,
              const LocalSetup& s, RunRecorder& recorder, ProgressBoard& board,
              const std::function<std::string()>& final_checksum, const std::string& output) {
  std::string status;
  std::string why;
  int code = kExitFault;
  io::RunFile* file = recorder.root_file();
  if (stop.desync()) {
    // Collectives were paired across different steps: name which rank believed what.
    const auto steps = world.gather_to_root({static_cast<double>(step)});
    status = "desync";
    code = kExitDesync;
    why = "ranks disagree on the step count after the same number of collectives:";
    for (std::size_t r = 0; r < steps.size(); ++r) {
      why += (r ? ", rank " : " rank ") + std::to_string(r) + " at step " +
             std::to_string(static_cast<std::int64_t>(steps[r]));
    }
    why += "; the gradients of those steps were averaged across different steps";
  } else if (stop.out_of_memory) {
    const auto accounts = world.gather_strings_to_root(my_oom);
    const auto figures = world.gather_to_root(
        {my_oom.empty() ? 0.0 : 1.0, static_cast<double>(peak_rss_bytes()),
         static_cast<double>(s.device.is_cuda() ? device::memory(s.device).peak_allocated_bytes
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
    if (file) {
      file->set_attr("oom_step", step);
      file->set_attr("oom_ranks", ranks);
      file->set_attr("oom_batch_per_rank", s.run.batch_per_rank);
      file->set_attr("oom_peak_rss_bytes", static_cast<std::int64_t>(peak_rss));
      file->set_attr("oom_device_peak_allocated_bytes", static_cast<std::int64_t>(device_peak));
    }
  } else if (stop.signal) {
    status = "interrupted";
    code = kExitInterrupted;
    why = std::string(stop_signals::name(stop.signal)) + " received; stopped after step " + std::to_string(step);
  } else {
    status = "diverged";
    code = kExitDiverged;
    why = "loss is not finite at step " + std::to_string(step) + " (on at least one rank)";
  }
  recorder.add_event(status, why);
  board.finish();
  recorder.finish(status, final_checksum());
  log::warn("run " + status + ": " + why + "; recorded steps are in " + RunRecorder::partial_path(output));
  return code;
}

// --find-max-batch: the run's machinery (communicator, buckets, watchdog, recorder) with a batch
// that changes between candidates. Every candidate runs two full data-parallel steps (the first
// allocates the optimizer's state, the second shows the steady state); running out of memory on
// any rank is agreed like in a run, so every rank tries the same candidates in the same order.
struct MaxBatchSearch {
  World& world;
  const RunConfig& cfg;
  LocalSetup& s;
  Watchdog& watchdog;
  ProgressBoard& board;
  RunRecorder& recorder;
  PhaseClock* clock;
  Communicator& comm;
  Reducer& reducer;
  const FaultInjection& inject;
  std::uint64_t memory_limit;
  std::function<std::string()> final_checksum;
};

int search_max_batch(MaxBatchSearch m) {
  constexpr int kStepsPerCandidate = 2;
  std::int64_t fits = 0;                           // largest batch known to fit (0: none yet)
  std::int64_t fails = m.cfg.max_batch_limit + 1;  // smallest batch known not to fit
  std::int64_t batch = std::min(m.cfg.batch_size.value_or(1), m.cfg.max_batch_limit);
  std::int64_t step = 0;
  nlohmann::json tried = nlohmann::json::array();
  while (true) {
    auto data = make_data_for_batch(m.world, m.cfg, m.s, batch);
    // Each candidate's own peaks, not the largest of the ones before (a smaller candidate after a
    // larger one would otherwise report the larger one's memory).
    reset_cpu_tensor_peak();
    reset_peak_rss();
    device::reset_peak_memory(m.s.device);
    Trainer trainer(TrainerParts{m.s.model, data.get(), m.s.optimizer.get(), m.clock, m.s.device, &m.comm,
                                 &m.reducer, &m.watchdog, &m.inject});
    bool fit = true;
    double step_s = 0.0;
    std::string oom;
    for (int i = 0; i < kStepsPerCandidate; ++i, ++step) {
      m.board.begin_step(step);
      std::optional<StepRecord> rec;
      try {
        rec = trainer.step(step, i == 0, 0);
        step_s = (*rec)[StepField::kStepS];
      } catch (const StepOutOfMemory& e) {
        oom = describe_out_of_memory(e, m.s, m.memory_limit);
      }
      StopVerdict stop = agree_on_stop(m.world, m.watchdog, step, 0.0, !oom.empty());
      if (rec && !stop.out_of_memory) m.recorder.record(std::move(*rec));
      if (stop.out_of_memory) {
        fit = false;
        break;
      }
      if (stop.any()) {
        return end_early(m.world, stop, step, oom, m.s, m.recorder, m.board, m.final_checksum, m.cfg.output);
      }
    }
    const auto peaks = m.world.max_over_ranks(std::vector<double>{
        static_cast<double>(peak_rss_bytes()),
        static_cast<double>(m.s.device.is_cuda() ? device::memory(m.s.device).peak_allocated_bytes
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
    if (fails - fits <= 1 || (fit && batch >= m.cfg.max_batch_limit)) break;
    if (fails > m.cfg.max_batch_limit) {
      batch = std::min(2 * batch, m.cfg.max_batch_limit);
    } else if (fits == 0) {
      batch = std::max<std::int64_t>(1, batch / 2);
    } else {
      batch = fits + (fails - fits) / 2;
    }
  }
  if (io::RunFile* f = m.recorder.root_file()) {
    f->set_attr("max_batch_per_rank", fits);
    f->set_attr("max_batch_limit", m.cfg.max_batch_limit);
    f->set_attr("max_batch_limit_reached", static_cast<std::int64_t>(fits >= m.cfg.max_batch_limit));
    f->set_attr("max_batch_search", tried.dump());
  }
  const std::string result =
      fits == 0 ? "not even a batch of 1 sample per rank fits"
      : fits >= m.cfg.max_batch_limit
          ? "batch " + std::to_string(fits) + "/rank fits (the --max-batch-limit; larger was not tried)"
          : "the largest per-rank batch that fits is " + std::to_string(fits) + " (" +
                std::to_string(fails) + " does not)";
  m.recorder.add_event("find_max_batch", result);
  m.board.finish();
  m.recorder.finish("completed", m.final_checksum());
  log::info("find-max-batch: " + result + " for " + m.cfg.model + " on " + std::to_string(m.world.size()) +
            " rank(s); wrote " + m.cfg.output);
  return kExitOk;
}

}  // namespace

int run_train(World& world, RunConfig cfg) {
  // From here on a stop signal is a request to flush and close the file, not an instant death.
  stop_signals::install();

  // Phase 1, local: every rank checks the options and builds its replica. A usage error found by
  // any rank is agreed on before anyone enters a collective, so no rank waits for one that quit.
  const FaultInjection inject = fault_injection_from_env(world.rank());
  const std::uint64_t memory_limit = install_cpu_budget(world, cfg);
  LocalSetup s;
  std::string error;
  std::string oom_error;
  try {
    s = build_local(world, cfg, inject.extra_steps());
  } catch (const UsageError& e) {
    error = e.what();
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e)) throw;
    oom_error = std::string("out of memory while building the model on ") + error_context() + ": " + e.what();
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);
  oom_error = world.agree_on_error(oom_error);
  if (!oom_error.empty()) throw AgreedFault(kExitOutOfMemory, oom_error);

  // Phase 2, rank 0: the output path. Results are never overwritten before a new run completes.
  if (cfg.output.empty()) cfg.output = default_output_name(cfg, world.size(), compact_utc_stamp());
  cfg.output = world.broadcast_string(cfg.output);
  error = world.is_root() ? check_output_path(cfg.output, cfg.overwrite) : "";
  if (error.empty() && world.is_root() && std::filesystem::exists(RunRecorder::partial_path(cfg.output))) {
    error = "--output " + cfg.output + ": " + RunRecorder::partial_path(cfg.output) +
            " exists (a run writing it is in progress or was interrupted); remove it or choose "
            "another name";
  }
  if (error.empty() && world.is_root() && !cfg.save.empty()) {
    // The same rules as for the run file (never overwritten silently, the folder must exist).
    error = check_output_path(cfg.save, cfg.overwrite);
    if (!error.empty()) error = "--save" + error.substr(std::string("--output").size());
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  // Phase 3, collective: communicator, identical replicas, gradient buckets, run file.
  std::unique_ptr<Communicator> comm =
      make_communicator(s.backend, s.device, CommOptions::from_mpi_chunk_mb(cfg.mpi_chunk_mb));
  ProgressBoard board(world);
  std::vector<std::string> hostnames;  // filled below; the watchdog names ranks by host
  RunRecorder* recorder_for_watchdog = nullptr;  // set once the run file exists
  Watchdog watchdog(
      cfg.comm_timeout_s,
      [&comm, &recorder_for_watchdog](const std::string& message) {
        comm->abort();
        // Rank 0 marks the file before the job goes: its flushed steps stay, it says why it ended.
        if (recorder_for_watchdog) recorder_for_watchdog->abandon("stuck", message);
      },
      [&board, &hostnames] { return board.laggards(hostnames); });
  // The bucket buffers are the last large allocation of setup: running out of memory here is
  // agreed like while building the model (exit 6, one message), not a fault of one rank.
  std::unique_ptr<Reducer> reducer_owner;
  try {
    reducer_owner = std::make_unique<Reducer>(models::trainable_parameters(*s.model), *comm,
                                              ReducerOptions{s.run.bucket_cap_bytes, cfg.overlap});
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e)) throw;
    oom_error = std::string("out of memory while building the model's gradient buckets on ") +
                error_context() + ": " + e.what();
  }
  oom_error = world.agree_on_error(oom_error);
  if (!oom_error.empty()) throw AgreedFault(kExitOutOfMemory, oom_error);
  Reducer& reducer = *reducer_owner;
  // Before the first collective on model tensors: ranks that built different models, buckets or
  // step counts would pair mismatched collectives (a hang) or average garbage.
  error = check_run_identity(world, run_identity(cfg, s, reducer.plan()));
  if (!error.empty()) throw AgreedFault(kExitDesync, error);
  {
    Watchdog::Guard guard(&watchdog, -1, "broadcast of the initial model state");
    broadcast_initial_state(*comm, *s.model);
  }
  const auto n_buckets = static_cast<int>(reducer.plan().buckets.size());
  RunRecorder recorder(world, cfg.output, n_buckets, cfg.flush_every, &watchdog,
                       record_buckets_every(cfg.record_buckets),
                       record_ranks_selection(cfg.record_ranks, world.size()));
  recorder_for_watchdog = &recorder;
  const auto ranks = gather_rank_infos(world, s.device);
  if (io::RunFile* f = recorder.root_file()) {
    write_metadata(*f, world, cfg, s, *comm, reducer.plan());
    for (const auto& r : ranks) hostnames.push_back(r.hostname);
    f->write_ranks(ranks);
    f->flush();
  }
  log::info("scalebench: " + cfg.model + " on " + std::to_string(world.size()) + " rank(s), " +
            std::to_string(world.nodes()) + " node(s), device " + (s.device.is_cuda() ? "cuda" : "cpu") +
            ", backend " + comm->backend() + ", batch " + std::to_string(s.run.batch_per_rank) +
            "/rank (global " + std::to_string(s.run.global_batch) + "), " +
            std::to_string(s.run.steps) + " steps (" + std::to_string(s.run.warmup_steps) +
            " warm-up), " + std::to_string(n_buckets) + " gradient bucket(s), " +
            std::to_string(torch::get_num_threads()) + " thread(s)/rank -> " + cfg.output);

  // Phase 4: the step loop.
  std::unique_ptr<PhaseClock> clock = device::make_phase_clock(s.device);
  Trainer trainer(TrainerParts{s.model, s.data.get(), s.optimizer.get(), clock.get(), s.device,
                               comm.get(), &reducer, &watchdog, &inject});
  if (memory_limit > 0) {
    if (io::RunFile* f = recorder.root_file()) f->set_attr("host_memory_limit_bytes", static_cast<std::int64_t>(memory_limit));
  }
  Progress progress(s.run.steps, s.run.global_batch, world.is_root() && !cfg.quiet);
  // Each rank updates BatchNorm statistics from its own batch; rank 0's are the model's (they are
  // broadcast before every forward, as DDP does), so they are made equal before the checksum
  // that proves the replicas identical.
  auto final_checksum = [&] {
    const std::vector<torch::Tensor> buffers = model_buffers(*s.model);
    if (!buffers.empty()) {
      Watchdog::Guard guard(&watchdog, -1, "broadcast of the final model buffers");
      broadcast_tensors(*comm, buffers, 0);
    }
    return to_hex(state_checksum(*s.model));
  };
  try {
    if (cfg.find_max_batch) {
      return search_max_batch(MaxBatchSearch{world, cfg, s, watchdog, board, recorder, clock.get(), *comm,
                                             reducer, inject, memory_limit, final_checksum});
    }
    StopVerdict stop;
    // Real data: evaluation at each epoch's end, early stopping, time to accuracy, final test.
    std::unique_ptr<AccuracyTracker> accuracy;
    if (cfg.dataset != "synthetic") accuracy = std::make_unique<AccuracyTracker>(world, cfg, *s.model, *comm, watchdog);
    const std::int64_t steps_per_epoch = s.data->steps_per_epoch();
    std::string early_kind, early_reason;
    std::int64_t step = 0;
    for (; step < s.run.steps; ++step) {
      const bool warmup = step < s.run.warmup_steps;
      inject.before_step(step);
      board.begin_step(step);
      std::optional<StepRecord> rec;
      std::string oom;  // this rank's account of running out of memory in this step
      try {
        rec = trainer.step(step, warmup, step / s.data->steps_per_epoch());
        progress.update(step, (*rec)[StepField::kStepS], (*rec)[StepField::kLoss], warmup);
      } catch (const StepOutOfMemory& e) {
        oom = describe_out_of_memory(e, s, memory_limit);
      }
      stop = agree_on_stop(world, watchdog, step, rec ? (*rec)[StepField::kLoss] : 0.0, !oom.empty());
      // A step that ran out of memory on any rank is complete on none: no rank records it (the
      // records are gathered rank by rank, so every rank must record the same steps).
      if (rec && !stop.out_of_memory) {
        if (accuracy) {
          accuracy->add_step((*rec)[StepField::kLoss], static_cast<std::int64_t>((*rec)[StepField::kSamples]),
                             trainer.last_correct());
        }
        recorder.record(std::move(*rec));
      }
      if (stop.any()) {
        progress.done();
        return end_early(world, stop, step, oom, s, recorder, board, final_checksum, cfg.output);
      }
      step += inject.step_skew(step);
      // Early stopping (or the target) at the last planned epoch is no early stop: it ends anyway.
      if (accuracy && (step + 1) % steps_per_epoch == 0 &&
          accuracy->end_epoch(step / steps_per_epoch, step, s.validation.get(), recorder) &&
          step + 1 < s.run.steps) {
        early_kind = accuracy->stop_kind();
        early_reason = accuracy->stop_reason();
        break;
      }
    }
    progress.done();
    board.finish();
    recorder.flush();
    if (!early_kind.empty()) {
      recorder.add_event(early_kind, early_reason);
      log::info(early_reason);
    }
    if (accuracy) accuracy->final_test(s.test.get(), recorder);
    const RunSummary summary = recorder.summary();
    if (io::RunFile* f = recorder.root_file()) {
      write_summary_attrs(*f, summary);
      f->set_attr("stopped_early", static_cast<std::int64_t>(!early_kind.empty()));
    }
    const std::string checksum = final_checksum();  // also makes rank 0's buffers everyone's
    if (!cfg.save.empty()) save_model(world, *s.model, cfg.save);
    const bool agree = recorder.finish("completed", checksum);
    log::info(format_summary(summary, world.size(), s.run.global_batch));
    if (!agree) log::warn("parameters differ across ranks at the end of the run (see /ranks/param_checksum)");
    log::info("wrote " + cfg.output + (cfg.save.empty() ? "" : " and the model to " + cfg.save));
  } catch (const std::exception& e) {
    recorder.abandon("failed", e.what());
    throw;
  }
  return kExitOk;
}

}  // namespace scalebench
