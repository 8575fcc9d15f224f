#include "app/run_setup.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <sstream>

#include "core/errors.hpp"
#include "ddp/reducer.hpp"
#include "device/device.hpp"
#include "device/gpu_placement.hpp"
#include "metrics/process_stats.hpp"
#include "runtime/build_info.hpp"
#include "runtime/mpi_progress.hpp"
#include "runtime/node_share_mpi.hpp"
#include "runtime/math_libraries.hpp"
#include "runtime/versions.hpp"
#include "train/run_recorder.hpp"

extern char** environ;

namespace scalebench {
std::string compact_utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

namespace {

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

}  // namespace

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out;
  for (auto d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
}

datasets::SourceSpec source_spec(const World& world, const RunConfig& cfg, const LocalSetup& s,
                                 std::int64_t batch_per_rank) {
  datasets::SourceSpec spec;
  spec.dataset = cfg.dataset;
  // What the model as built takes (its input size follows --image-size, its tokens the vocabulary).
  spec.input_shape = s.model->input().shape;
  spec.input_dtype = s.model->input().dtype;
  spec.vocabulary = s.model->input().vocabulary;
  spec.num_classes = s.model->label_classes();
  spec.batch_per_rank = batch_per_rank;
  spec.rank = world.rank();
  spec.world_size = world.size();
  spec.seed = cfg.seed;
  spec.device = s.device;
  spec.synthetic_batches = cfg.synthetic_batches;
  spec.data_dir = cfg.data_dir;
  spec.validation_fraction = cfg.validation_fraction;
  spec.prefetch = cfg.prefetch;
  // build_local has applied --threads by now: an image folder's batch decodes with as many.
  spec.decode_threads = torch::get_num_threads();
  spec.node_share = mpi_node_share(world);
  return spec;
}

std::unique_ptr<datasets::BatchSource> make_data_for_batch(const World& world, const RunConfig& cfg,
                                                           const LocalSetup& s, std::int64_t batch_per_rank) {
  return datasets::make_batch_source(source_spec(world, cfg, s, batch_per_rank));
}

namespace {
// A rank's visible GPUs as one string for the node's gather, and back.
std::string join_bus_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}
std::vector<std::string> split_bus_ids(const std::string& joined) {
  std::vector<std::string> out;
  std::stringstream in(joined);
  std::string id;
  while (std::getline(in, id, ',')) {
    if (!id.empty()) out.push_back(id);
  }
  return out;
}
}  // namespace

Placement place_rank(const World& world, const std::string& device, const std::string& backend) {
  // Collective over the node, first and unconditionally, so that no rank can leave it unmatched by
  // throwing earlier: each rank's visible GPUs by identity.
  const std::vector<std::string> mine = device::visible_gpu_bus_ids();
  std::vector<std::vector<std::string>> visible;
  for (const auto& joined : world.allgather_strings_in_node(join_bus_ids(mine))) {
    visible.push_back(split_bus_ids(joined));
  }

  Placement p;
  const int gpus = static_cast<int>(mine.size());
  const bool use_cuda = device == "cuda" || (device == "auto" && gpus > 0);
  p.backend = backend == "mpi" ? BackendChoice::kMpi
              : backend == "nccl" ? BackendChoice::kNccl : BackendChoice::kAuto;
  if (use_cuda) {
    if (gpus == 0) {
      // The wording of validate_options(), which this now runs before: one message for one fault.
      throw UsageError("--device cuda: no CUDA GPU is visible to rank " + std::to_string(world.rank()) +
                       " on " + world.hostname() +
                       " (this build or machine has none); allowed here: --device cpu or --device auto");
    }
    const std::vector<device::GpuAssignment> assigned = device::assign_gpus(visible);
    const std::string shared = device::describe_shared_gpus(assigned);
    if (!shared.empty() && p.backend != BackendChoice::kMpi) {
      throw UsageError("on " + world.hostname() + " " + shared +
                       ", and NCCL refuses two ranks on one GPU; allowed: at most one rank per GPU, "
                       "or --backend mpi");
    }
    const int index = assigned[static_cast<std::size_t>(world.local_rank())].visible_index;
    device::select_cuda_device(index);
    p.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  } else if (p.backend == BackendChoice::kNccl) {
    throw UsageError("--backend nccl needs --device cuda (NCCL reduces CUDA tensors only); allowed on "
                     "cpu: auto, mpi");
  }
  return p;
}

LocalSetup build_local(const World& world, const RunConfig& cfg, std::int64_t extra_steps) {
  LocalSetup s;
  // Placement first: it is collective within the node, and must not be skipped by a rank whose
  // validation below throws.
  const Placement placement = place_rank(world, cfg.device, cfg.backend);
  std::int64_t batch_per_rank = 0;
  std::exception_ptr failed_before_data;
  try {
    const int gpus = device::cuda_device_count();
    validate_options(cfg, world.size(), gpus);
    s.entry = models::find(cfg.model);
    s.device = placement.device;
    s.backend = placement.backend;
    if (cfg.threads > 0) torch::set_num_threads(cfg.threads);

    // Same seed on every rank, though rank 0's weights are broadcast anyway; dropout then draws
    // per-rank masks from seed + rank.
    torch::manual_seed(cfg.seed);
    const auto build_start = std::chrono::steady_clock::now();
    s.model = s.entry->make(model_options(cfg));
    s.params_total = models::count_total_params(*s.model);
    s.params_trainable = models::count_trainable_params(*s.model);
    s.macs_per_sample = s.model->macs_per_sample();
    s.model->to(s.device);
    s.model_build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
    s.model->train();
    torch::manual_seed(cfg.seed + static_cast<std::uint64_t>(world.rank()) + 1);
    batch_per_rank = cfg.global_batch ? *cfg.global_batch / world.size()
                                      : cfg.batch_size.value_or(s.entry->default_batch);
  } catch (...) {
    failed_before_data = std::current_exception();
  }
  // A real dataset is loaded collectively over the node (one rank reads it into memory the node
  // shares: datasets/shared_splits.hpp), so a rank that failed above must still tell its node's
  // ranks, or they would wait for it there. It re-throws its error; the others return without
  // data, and the caller's agreement on errors (which every caller makes right after) brings them
  // the failing rank's message.
  if (cfg.dataset != "synthetic" && !world.all_in_node(failed_before_data == nullptr)) {
    if (failed_before_data) std::rethrow_exception(failed_before_data);
    return s;
  }
  if (failed_before_data) std::rethrow_exception(failed_before_data);

  s.data = make_data_for_batch(world, cfg, s, batch_per_rank);
  if (cfg.dataset != "synthetic") {
    const datasets::SourceSpec spec = source_spec(world, cfg, s, batch_per_rank);
    if (cfg.validation_fraction > 0.0) s.validation = datasets::make_eval_source(spec, datasets::Split::kValidation);
    s.test = datasets::make_eval_source(spec, datasets::Split::kTest);
  }
  s.run = resolve_run(cfg, world.size(), s.data->steps_per_epoch());
  s.run.steps += extra_steps;

  // Frozen parameters (Model A's base) get no optimiser state.
  s.optimizer = std::make_unique<Optimizer>(
      OptimizerSpec{s.run.optimizer, s.run.lr, s.run.lr_decay, s.run.momentum},
      models::trainable_parameters(*s.model));
  return s;
}

nlohmann::json device_identity(const LocalSetup& s) {
  const char* choice = s.backend == BackendChoice::kMpi ? "mpi" : s.backend == BackendChoice::kNccl ? "nccl" : "auto";
  // What make_communicator will build from that choice on this rank.
  const bool nccl = s.device.is_cuda() && s.backend != BackendChoice::kMpi && nccl_compiled_in();
  return {{"device", s.device.is_cuda() ? "cuda" : "cpu"}, {"backend_choice", choice},
          {"backend", nccl ? "nccl" : "mpi"}};
}

nlohmann::json run_identity(const RunConfig& cfg, const LocalSetup& s, const BucketPlan& plan) {
  nlohmann::json id = device_identity(s);
  id["model"] = cfg.model;
  id["input_shape"] = shape_string(s.model->input().shape);
  id["params_total"] = s.params_total;
  id["params_trainable"] = s.params_trainable;
  id["bucket_plan"] = std::to_string(plan.fingerprint());
  id["steps"] = s.run.steps;
  id["warmup_steps"] = s.run.warmup_steps;
  id["batch_per_rank"] = s.run.batch_per_rank;
  id["global_batch"] = s.run.global_batch;
  id["optimizer"] = s.run.optimizer;
  id["lr"] = s.run.lr;
  id["dataset"] = cfg.dataset;
  id["seed"] = cfg.seed;
  id["overlap"] = cfg.overlap;
  id["mpi_chunk_mb"] = cfg.mpi_chunk_mb;  // ranks that slice differently would mismatch MPI calls
  id["scalebench"] = std::string(scalebench_version()) + " " + scalebench_git_revision();
  id["libtorch"] = TORCH_VERSION;
  return id;
}

std::string check_run_identity(const World& world, const nlohmann::json& mine) {
  // One gather of small JSON strings, once per run: rank 0 names every difference, so a user with
  // a stale binary on one node reads which node and what, instead of a hang or averaged garbage.
  const auto all = world.gather_strings_to_root(mine.dump());
  std::string message;
  if (world.is_root()) {
    for (std::size_t r = 1; r < all.size(); ++r) {
      const nlohmann::json theirs = nlohmann::json::parse(all[r]);
      std::string fields;
      for (const auto& [key, value] : mine.items()) {
        if (!theirs.contains(key) || theirs[key] != value) {
          fields += (fields.empty() ? "" : ", ") + key + " " +
                    (theirs.contains(key) ? theirs[key].dump() : std::string("missing")) +
                    " (rank 0: " + value.dump() + ")";
        }
      }
      if (!fields.empty()) message += (message.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": " + fields);
    }
    if (!message.empty()) {
      message = "ranks disagree on the run, refusing to average their gradients: " + message;
    }
  }
  return world.broadcast_string(message);
}

void write_metadata(io::RunFile& f, const World& world, const RunConfig& cfg, const LocalSetup& s,
                    const Communicator& comm, const BucketPlan& plan) {
  f.set_attr("tool", std::string("scalebench"));
  f.set_attr("tool_version", std::string(scalebench_version()));
  f.set_attr("git_revision", std::string(scalebench_git_revision()));
  f.set_attr("command_line", cfg.command_line);
  f.set_attr("config", to_json(cfg).dump());
  f.set_attr("start_time", utc_timestamp_iso());
  f.set_attr("mode", std::string(cfg.find_max_batch ? "find_max_batch" : "train"));
  f.set_attr("model", cfg.model);
  f.set_attr("model_source", s.entry->source);
  f.set_attr("dataset", cfg.dataset);
  f.set_attr("data_dir", cfg.data_dir);
  if (s.validation) f.set_attr("validation_samples", s.validation->samples());
  if (s.test) f.set_attr("test_samples_available", s.test->samples());
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
  // What the math really ran with, read from the process (the BLAS behind libblas.so.3, TF32).
  const MathLibraries math = detect_math_libraries();
  f.set_attr("precision", effective_precision(math, s.device.is_cuda()));
  f.set_attr("blas", math.blas);
  f.set_attr("blas_library", math.blas_library);
  f.set_attr("lapack", math.lapack);
  f.set_attr("lapack_library", math.lapack_library);
  f.set_attr("onednn", static_cast<std::int64_t>(math.onednn));
  f.set_attr("intra_op_threads", static_cast<std::int64_t>(math.intra_op_threads));
  f.set_attr("inter_op_threads", static_cast<std::int64_t>(math.inter_op_threads));
  f.set_attr("omp_max_threads", static_cast<std::int64_t>(math.omp_max_threads));
  f.set_attr("math_tf32_matmul", static_cast<std::int64_t>(math.tf32_matmul));
  f.set_attr("math_tf32_cudnn", static_cast<std::int64_t>(math.tf32_cudnn));
  f.set_attr("math_cudnn_benchmark", static_cast<std::int64_t>(math.cudnn_benchmark));
  f.set_attr("math_cudnn_deterministic", static_cast<std::int64_t>(math.cudnn_deterministic));
  f.set_attr("autocast", math.autocast);
  f.set_attr("optimizer", s.run.optimizer);
  f.set_attr("lr", s.run.lr);
  f.set_attr("lr_decay", s.run.lr_decay);
  // With --overlap auto this is the mode warm-up starts from; the choice rewrites it after warm-up.
  f.set_attr("overlap", static_cast<std::int64_t>(cfg.overlap != "off" ? 1 : 0));
  f.set_attr("overlap_mode", cfg.overlap);
  f.set_attr("bucket_mb", cfg.bucket_mb);
  f.set_attr("first_bucket_mb", cfg.first_bucket_mb);
  f.set_attr("mpi_chunk_mb", cfg.mpi_chunk_mb);
  f.set_attr("mpi_progress", mpi_progress_description());
  f.set_attr("gradient_mean", gradient_mean_description(comm));
  f.set_attr("n_buckets", static_cast<std::int64_t>(plan.buckets.size()));
  f.set_attr("warmup_steps", s.run.warmup_steps);
  f.set_attr("steps", s.run.steps);
  f.set_attr("steps_per_epoch", s.data->steps_per_epoch());
  f.set_attr("threads", static_cast<std::int64_t>(torch::get_num_threads()));
  f.set_attr("tag", cfg.tag);
  f.set_attr("seed", static_cast<std::int64_t>(cfg.seed));
  f.set_attr("comm_timeout_s", cfg.comm_timeout_s);
  f.set_attr("flush_every", cfg.flush_every);
  f.set_attr("record_buckets", cfg.record_buckets);
  f.set_attr("record_ranks_requested", cfg.record_ranks);  // record_ranks: as resolved (RunFile)
  f.set_attr("slurm_job_id", getenv_or("SLURM_JOB_ID", ""));
  f.set_attr("slurm_nodelist", getenv_or("SLURM_JOB_NODELIST", ""));
  f.set_attr("environment", communication_environment().dump());
  for (const auto& [name, version] : library_versions()) f.set_attr("version_" + name, version);
  std::vector<std::int64_t> bytes, counts, spans;
  for (const auto& b : plan.buckets) {
    bytes.push_back(b.bytes);
    counts.push_back(static_cast<std::int64_t>(b.slots.size()));
    // Every bucket is reduced over all ranks: it crosses the network iff they are on several nodes.
    spans.push_back(world.nodes() > 1 ? 1 : 0);
  }
  f.write_bucket_layout(bytes, counts, spans);
}

void write_summary_attrs(io::RunFile& f, const RunSummary& s) {
  f.set_attr("summary_measured_steps", s.measured_steps);
  f.set_attr("summary_median_step_s", s.median_step_s);
  f.set_attr("summary_throughput_samples_per_s", s.throughput_samples_s);
  f.set_attr("summary_exposed_comm_share", s.exposed_comm_share);
  f.set_attr("summary_median_wall_s", s.median_wall_s);
  f.set_attr("summary_comm_concurrent_share", s.comm_concurrent_share);
  f.set_attr("summary_peak_rss_bytes", static_cast<std::int64_t>(s.peak_rss_bytes));
}

namespace {

// One string per rank with what /ranks records about it, '\x1f'-separated (gathered as one string).
std::string describe_rank(const World& world, const torch::Device& device) {
  const device::DeviceInfo info = device::describe(device);
  return world.hostname() + '\x1f' + std::to_string(world.local_rank()) + '\x1f' + info.name + '\x1f' +
         info.bus_id + '\x1f' + cpu_affinity_string() + '\x1f' + std::to_string(getpid()) + '\x1f' +
         std::to_string(world.node_index());
}

std::vector<io::RankInfo> parse_rank_descriptions(const std::vector<std::string>& described) {
  std::vector<io::RankInfo> out;
  for (const auto& d : described) {
    std::vector<std::string> f;
    std::stringstream in(d);
    std::string part;
    while (std::getline(in, part, '\x1f')) f.push_back(part);
    f.resize(7);
    io::RankInfo info;
    info.hostname = f[0];
    info.local_rank = std::atoi(f[1].c_str());
    info.device_name = f[2];
    info.device_bus_id = f[3];
    info.cpu_affinity = f[4];
    info.pid = std::atoll(f[5].c_str());
    info.node_index = std::atoi(f[6].c_str());
    out.push_back(info);
  }
  return out;
}

}  // namespace

std::vector<io::RankInfo> gather_rank_infos(const World& world, const torch::Device& device) {
  return parse_rank_descriptions(world.gather_strings_to_root(describe_rank(world, device)));
}

}  // namespace scalebench
