#include "app/commands.hpp"

#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <thread>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/progress.hpp"
#include "comm/communicator.hpp"
#include "core/errors.hpp"
#include "datasets/batch_source.hpp"
#include "ddp/checksum.hpp"
#include "ddp/reducer.hpp"
#include "device/device.hpp"
#include "metrics/process_stats.hpp"
#include "metrics/summary.hpp"
#include "models/registry.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/log.hpp"
#include "runtime/progress_board.hpp"
#include "runtime/stop_signals.hpp"
#include "runtime/versions.hpp"
#include "runtime/watchdog.hpp"
#include "train/optimizers.hpp"
#include "train/run_recorder.hpp"
#include "train/trainer.hpp"
#include "runtime/build_info.hpp"

namespace scalebench {
namespace {

std::string compact_utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Settings that change how communication and threading behave (NCCL_*, OMPI_MCA_*, UCX_*, ...),
// as rank 0 sees them: two runs that differ only here are not the same experiment.
nlohmann::json communication_environment() {
  static const char* const kPrefixes[] = {"NCCL_", "OMPI_MCA_", "UCX_", "FI_", "OMP_", "MKL_",
                                          "CUDA_VISIBLE_DEVICES", "SLURM_CPU_BIND", "HDF5_"};
  nlohmann::json env = nlohmann::json::object();
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    for (const char* prefix : kPrefixes) {
      if (entry.rfind(prefix, 0) == 0) {
        env[entry.substr(0, eq)] = entry.substr(eq + 1);
        break;
      }
    }
  }
  return env;
}

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out;
  for (auto d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
}

// Everything a run needs that each rank builds on its own, before any collective.
struct LocalSetup {
  const models::ModelEntry* entry = nullptr;
  torch::Device device = torch::kCPU;
  BackendChoice backend = BackendChoice::kAuto;
  ResolvedRun run;
  std::shared_ptr<models::Network> model;
  std::unique_ptr<datasets::BatchSource> data;
  std::unique_ptr<Optimizer> optimizer;
  std::int64_t params_total = 0;
  std::int64_t params_trainable = 0;
  std::int64_t macs_per_sample = 0;
};

LocalSetup build_local(const World& world, const RunConfig& cfg) {
  LocalSetup s;
  const int gpus = device::cuda_device_count();
  validate_options(cfg, world.size(), gpus);
  s.entry = models::find(cfg.model);
  const bool use_cuda = cfg.device == "cuda" || (cfg.device == "auto" && gpus > 0);
  s.backend = cfg.backend == "mpi" ? BackendChoice::kMpi
              : cfg.backend == "nccl" ? BackendChoice::kNccl : BackendChoice::kAuto;
  if (use_cuda) {
    if (world.local_size() > gpus && s.backend != BackendChoice::kMpi) {
      throw UsageError(std::to_string(world.local_size()) + " ranks share " + std::to_string(gpus) +
                       " GPU(s) on " + world.hostname() +
                       ", and NCCL refuses two ranks on one GPU; allowed: at most one rank per GPU, "
                       "or --backend mpi");
    }
    const int index = world.local_rank() % gpus;
    device::select_cuda_device(index);
    s.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  } else if (s.backend == BackendChoice::kNccl) {
    throw UsageError("--backend nccl needs --device cuda (NCCL reduces CUDA tensors only); allowed on "
                     "cpu: auto, mpi");
  }
  if (cfg.threads > 0) torch::set_num_threads(cfg.threads);

  // Same seed on every rank, though rank 0's weights are broadcast anyway; dropout then draws
  // per-rank masks from seed + rank.
  torch::manual_seed(cfg.seed);
  s.model = s.entry->make(model_options(cfg));
  s.params_total = models::count_total_params(*s.model);
  s.params_trainable = models::count_trainable_params(*s.model);
  s.macs_per_sample = s.model->macs_per_sample();
  s.model->to(s.device);
  s.model->train();
  torch::manual_seed(cfg.seed + static_cast<std::uint64_t>(world.rank()) + 1);

  datasets::SourceSpec spec;
  spec.dataset = cfg.dataset;
  // What the model as built takes (its input size follows --image-size, its tokens the vocabulary).
  spec.input_shape = s.model->input().shape;
  spec.input_dtype = s.model->input().dtype;
  spec.vocabulary = s.model->input().vocabulary;
  spec.num_classes = s.model->label_classes();
  spec.batch_per_rank = cfg.global_batch ? *cfg.global_batch / world.size()
                                         : cfg.batch_size.value_or(s.entry->default_batch);
  spec.rank = world.rank();
  spec.world_size = world.size();
  spec.seed = cfg.seed;
  spec.device = s.device;
  spec.synthetic_batches = cfg.synthetic_batches;
  s.data = datasets::make_batch_source(spec);
  s.run = resolve_run(cfg, world.size(), s.data->steps_per_epoch());

  // Frozen parameters (Model A's base) get no optimiser state.
  s.optimizer = std::make_unique<Optimizer>(
      OptimizerSpec{s.run.optimizer, s.run.lr, s.run.lr_decay, s.run.momentum},
      models::trainable_parameters(*s.model));
  return s;
}

void write_metadata(io::RunFile& f, const World& world, const RunConfig& cfg, const LocalSetup& s,
                    const Communicator& comm, const BucketPlan& plan) {
  f.set_attr("tool", std::string("scalebench"));
  f.set_attr("tool_version", std::string(scalebench_version()));
  f.set_attr("git_revision", std::string(scalebench_git_revision()));
  f.set_attr("command_line", cfg.command_line);
  f.set_attr("config", to_json(cfg).dump());
  f.set_attr("start_time", utc_timestamp_iso());
  f.set_attr("model", cfg.model);
  f.set_attr("model_source", s.entry->source);
  f.set_attr("dataset", cfg.dataset);
  f.set_attr("input_shape", shape_string(s.model->input().shape));  // as built (--image-size, ...)
  f.set_attr("params_total", s.params_total);
  f.set_attr("params_trainable", s.params_trainable);
  f.set_attr("macs_per_sample", s.macs_per_sample);
  f.set_attr("flops_per_sample", 2 * s.macs_per_sample);
  f.set_attr("world_size", static_cast<std::int64_t>(world.size()));
  f.set_attr("nodes", static_cast<std::int64_t>(world.nodes()));
  f.set_attr("ranks_per_node", static_cast<std::int64_t>(world.max_ranks_per_node()));
  f.set_attr("batch_per_rank", s.run.batch_per_rank);
  f.set_attr("global_batch", s.run.global_batch);
  f.set_attr("scaling_mode", std::string(cfg.global_batch ? "strong" : "weak"));
  f.set_attr("device", std::string(s.device.is_cuda() ? "cuda" : "cpu"));
  f.set_attr("backend", comm.backend());
  f.set_attr("precision", std::string("fp32"));
  f.set_attr("optimizer", s.run.optimizer);
  f.set_attr("lr", s.run.lr);
  f.set_attr("lr_decay", s.run.lr_decay);
  f.set_attr("overlap", static_cast<std::int64_t>(cfg.overlap ? 1 : 0));
  f.set_attr("bucket_mb", cfg.bucket_mb);
  f.set_attr("n_buckets", static_cast<std::int64_t>(plan.buckets.size()));
  f.set_attr("warmup_steps", s.run.warmup_steps);
  f.set_attr("steps", s.run.steps);
  f.set_attr("steps_per_epoch", s.data->steps_per_epoch());
  f.set_attr("threads", static_cast<std::int64_t>(torch::get_num_threads()));
  f.set_attr("tag", cfg.tag);
  f.set_attr("seed", static_cast<std::int64_t>(cfg.seed));
  f.set_attr("comm_timeout_s", cfg.comm_timeout_s);
  f.set_attr("flush_every", cfg.flush_every);
  f.set_attr("slurm_job_id", getenv_or("SLURM_JOB_ID", ""));
  f.set_attr("slurm_nodelist", getenv_or("SLURM_JOB_NODELIST", ""));
  f.set_attr("environment", communication_environment().dump());
  for (const auto& [name, version] : library_versions()) f.set_attr("version_" + name, version);
  std::vector<std::int64_t> bytes, counts;
  for (const auto& b : plan.buckets) {
    bytes.push_back(b.bytes);
    counts.push_back(static_cast<std::int64_t>(b.slots.size()));
  }
  f.write_bucket_layout(bytes, counts);
}

void write_summary_attrs(io::RunFile& f, const RunSummary& s) {
  f.set_attr("summary_measured_steps", s.measured_steps);
  f.set_attr("summary_median_step_s", s.median_step_s);
  f.set_attr("summary_throughput_samples_per_s", s.throughput_samples_s);
  f.set_attr("summary_exposed_comm_share", s.exposed_comm_share);
  f.set_attr("summary_comm_overlap", s.comm_overlap);
  f.set_attr("summary_peak_rss_bytes", static_cast<std::int64_t>(s.peak_rss_bytes));
}

// One string per rank with what /ranks records about it, '\x1f'-separated (gathered as one string).
std::string describe_rank(const World& world, const torch::Device& device) {
  const device::DeviceInfo info = device::describe(device);
  return world.hostname() + '\x1f' + std::to_string(world.local_rank()) + '\x1f' + info.name + '\x1f' +
         info.bus_id + '\x1f' + cpu_affinity_string() + '\x1f' + std::to_string(getpid());
}

std::vector<io::RankInfo> parse_rank_descriptions(const std::vector<std::string>& described) {
  std::vector<io::RankInfo> out;
  for (const auto& d : described) {
    std::vector<std::string> f;
    std::stringstream in(d);
    std::string part;
    while (std::getline(in, part, '\x1f')) f.push_back(part);
    f.resize(6);
    io::RankInfo info;
    info.hostname = f[0];
    info.local_rank = std::atoi(f[1].c_str());
    info.device_name = f[2];
    info.device_bus_id = f[3];
    info.cpu_affinity = f[4];
    info.pid = std::atoll(f[5].c_str());
    out.push_back(info);
  }
  return out;
}

// Why a run ends before its last step, agreed by every rank after the same step.
struct StopVerdict {
  int signal = 0;         // a stop signal some rank received (0: none)
  bool diverged = false;  // some rank's loss was NaN or infinite
  bool any() const { return signal != 0 || diverged; }
};

// One small allreduce between steps (outside every step's timing): each rank contributes what it
// saw, so all ranks stop after the same step and no rank is left alone in a collective.
StopVerdict agree_on_stop(const World& world, Watchdog& watchdog, std::int64_t step, double loss) {
  Watchdog::Guard guard(&watchdog, step, "agreement on stopping (signals, divergence)");
  const auto v = world.max_over_ranks(std::vector<double>{
      static_cast<double>(stop_signals::pending()), std::isfinite(loss) ? 0.0 : 1.0});
  return StopVerdict{static_cast<int>(v[0]), v[1] > 0.0};
}

}  // namespace

int run_train(World& world, RunConfig cfg) {
  // From here on a stop signal is a request to flush and close the file, not an instant death.
  stop_signals::install();

  // Phase 1, local: every rank checks the options and builds its replica. A usage error found by
  // any rank is agreed on before anyone enters a collective, so no rank waits for one that quit.
  LocalSetup s;
  std::string error;
  try {
    s = build_local(world, cfg);
  } catch (const UsageError& e) {
    error = e.what();
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  // Phase 2, rank 0: the output path. Results are never overwritten before a new run completes.
  if (cfg.output.empty()) cfg.output = default_output_name(cfg, world.size(), compact_utc_stamp());
  cfg.output = world.broadcast_string(cfg.output);
  error = world.is_root() ? check_output_path(cfg.output, cfg.overwrite) : "";
  if (error.empty() && world.is_root() && std::filesystem::exists(RunRecorder::partial_path(cfg.output))) {
    error = "--output " + cfg.output + ": " + RunRecorder::partial_path(cfg.output) +
            " exists (a run writing it is in progress or was interrupted); remove it or choose "
            "another name";
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  // Phase 3, collective: communicator, identical replicas, gradient buckets, run file.
  std::unique_ptr<Communicator> comm = make_communicator(s.backend, s.device);
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
  const FaultInjection inject = fault_injection_from_env(world.rank());
  {
    Watchdog::Guard guard(&watchdog, -1, "broadcast of the initial model state");
    broadcast_initial_state(*comm, *s.model);
  }
  Reducer reducer(models::trainable_parameters(*s.model), *comm,
                  ReducerOptions{s.run.bucket_cap_bytes, cfg.overlap});
  if (!world.all_equal(reducer.plan().fingerprint())) {
    throw std::runtime_error("gradient bucket layouts differ across ranks (different models or "
                             "builds?); refusing to average mismatched gradients");
  }
  const auto n_buckets = static_cast<int>(reducer.plan().buckets.size());
  RunRecorder recorder(world, cfg.output, n_buckets, cfg.flush_every, &watchdog);
  recorder_for_watchdog = &recorder;
  const auto rank_rows = world.gather_strings_to_root(describe_rank(world, s.device));
  if (io::RunFile* f = recorder.root_file()) {
    write_metadata(*f, world, cfg, s, *comm, reducer.plan());
    const auto ranks = parse_rank_descriptions(rank_rows);
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
                               comm.get(), &reducer, &watchdog});
  Progress progress(s.run.steps, s.run.global_batch, world.is_root() && !cfg.quiet);
  // Each rank updates BatchNorm statistics from its own batch; rank 0's are the model's (they are
  // broadcast before every forward, as DDP does), so they are made equal before the checksum
  // that proves the replicas identical.
  auto final_checksum = [&] {
    std::vector<torch::Tensor> buffers;
    for (auto& b : s.model->buffers()) {
      if (b.is_floating_point()) buffers.push_back(b);
    }
    if (!buffers.empty()) {
      Watchdog::Guard guard(&watchdog, -1, "broadcast of the final model buffers");
      broadcast_tensors(*comm, buffers, 0);
    }
    return to_hex(state_checksum(*s.model));
  };
  try {
    StopVerdict stop;
    std::int64_t step = 0;
    for (; step < s.run.steps; ++step) {
      const bool warmup = step < s.run.warmup_steps;
      inject.before_step(step);
      board.begin_step(step);
      StepRecord rec = trainer.step(step, warmup, step / s.data->steps_per_epoch());
      const double loss = rec[StepField::kLoss];
      progress.update(step, rec[StepField::kStepS], loss, warmup);
      recorder.record(std::move(rec));
      stop = agree_on_stop(world, watchdog, step, loss);
      if (stop.any()) break;
    }
    progress.done();
    if (stop.any()) {
      // Every step up to this one is recorded; the file keeps its .partial name (it is not a
      // completed result) and says why it ended.
      const std::string status = stop.signal ? "interrupted" : "diverged";
      const std::string why =
          stop.signal ? std::string(stop_signals::name(stop.signal)) + " received; stopped after step " +
                            std::to_string(step)
                      : "loss is not finite at step " + std::to_string(step) + " (on at least one rank)";
      recorder.add_event(status, why);
      board.finish();
      recorder.finish(status, final_checksum());
      log::warn("run " + status + ": " + why + "; recorded steps are in " +
                RunRecorder::partial_path(cfg.output));
      return stop.signal ? kExitInterrupted : kExitDiverged;
    }
    board.finish();
    recorder.flush();
    const RunSummary summary = summarize(recorder.gathered(), world.size());
    if (io::RunFile* f = recorder.root_file()) write_summary_attrs(*f, summary);
    const bool agree = recorder.finish("completed", final_checksum());
    log::info(format_summary(summary, world.size(), s.run.global_batch));
    if (!agree) log::warn("parameters differ across ranks at the end of the run (see /ranks/param_checksum)");
    log::info("wrote " + cfg.output);
  } catch (const std::exception& e) {
    recorder.abandon("failed", e.what());
    throw;
  }
  return kExitOk;
}

int run_models(World& world, bool json) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : models::registry()) {
    torch::NoGradGuard no_grad;
    auto model = e.make();
    nlohmann::json j;
    j["name"] = e.name;
    j["source"] = e.source;
    j["description"] = e.description;
    j["input_shape"] = e.input_shape;
    j["num_classes"] = e.num_classes;
    j["params_total"] = models::count_total_params(*model);
    j["params_trainable"] = models::count_trainable_params(*model);
    j["macs_per_sample"] = model->macs_per_sample();
    j["default_batch"] = e.default_batch;
    j["default_optimizer"] = e.default_optimizer;
    j["default_lr"] = e.default_lr;
    list.push_back(j);
  }
  if (!world.is_root()) return kExitOk;
  if (json) {
    std::cout << list.dump(2) << std::endl;
    return kExitOk;
  }
  std::cout << std::left << std::setw(14) << "model" << std::right << std::setw(14) << "input"
            << std::setw(14) << "params" << std::setw(14) << "trainable" << std::setw(16)
            << "MACs/sample" << "  " << std::left << std::setw(16) << "optimizer/lr" << "source\n";
  for (const auto& j : list) {
    std::ostringstream opt;
    opt << j["default_optimizer"].get<std::string>() << "/" << j["default_lr"].get<double>();
    std::cout << std::left << std::setw(14) << j["name"].get<std::string>() << std::right
              << std::setw(14) << shape_string(j["input_shape"].get<std::vector<std::int64_t>>())
              << std::setw(14) << j["params_total"].get<std::int64_t>() << std::setw(14)
              << j["params_trainable"].get<std::int64_t>() << std::setw(16)
              << j["macs_per_sample"].get<std::int64_t>() << "  " << std::left << std::setw(16)
              << opt.str() << j["source"].get<std::string>() << "\n";
  }
  return kExitOk;
}

int run_info(World& world) {
  const auto hosts = world.gather_strings_to_root(
      world.hostname() + " (local rank " + std::to_string(world.local_rank()) + ", CPUs " +
      cpu_affinity_string() + ")");
  if (!world.is_root()) return kExitOk;
  std::cout << "libraries\n";
  for (const auto& [name, version] : library_versions()) {
    std::cout << "  " << std::left << std::setw(14) << name << version << "\n";
  }
  std::cout << "backends\n  mpi           CPU tensors (CUDA tensors staged through host memory)\n"
            << "  nccl          " << (nccl_compiled_in() ? "CUDA tensors" : "not built") << "\n";
  std::cout << "devices\n  cpu           " << host_cpu_model() << " (" << std::thread::hardware_concurrency()
            << " hardware threads; LibTorch uses " << torch::get_num_threads() << ")\n";
  const int gpus = device::cuda_device_count();
  if (gpus == 0) std::cout << "  cuda          none visible\n";
  for (int i = 0; i < gpus; ++i) {
    const auto info = device::describe(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::cout << "  cuda:" << i << "        " << info.name << " (" << info.bus_id << ")\n";
  }
  std::cout << "ranks\n  world size " << world.size() << " on " << world.nodes() << " node(s)\n";
  for (std::size_t r = 0; r < hosts.size(); ++r) std::cout << "  rank " << r << "  " << hosts[r] << "\n";
  return kExitOk;
}

}  // namespace scalebench
