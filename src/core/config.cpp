#include "core/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "core/errors.hpp"
#include "ddp/overlap_choice.hpp"
#include "models/registry.hpp"

namespace scalebench {
namespace {
std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

template <typename T>
std::string str(T v) {
  std::ostringstream o;
  o << v;
  return o.str();
}
}  // namespace

std::int64_t record_buckets_every(const std::string& value) {
  const std::string prefix = "every:";
  if (value.rfind(prefix, 0) == 0) {
    const std::string k = value.substr(prefix.size());
    if (!k.empty() && k.size() <= 12 && k.find_first_not_of("0123456789") == std::string::npos) {
      const std::int64_t n = std::stoll(k);
      if (n >= 1) return n;
    }
  }
  throw UsageError("--record-buckets " + value + ": allowed: every:K with K >= 1 (bucket times of steps "
                   "0, K, 2K, ...; every:1 records every step)");
}

RankSelection record_ranks_selection(const std::string& value, int world_size) {
  try {
    return select_ranks(value, world_size);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

void validate_options(const RunConfig& cfg, int world_size, int cuda_devices) {
  if (cfg.device != "cpu" && cfg.device != "cuda" && cfg.device != "auto") {
    throw UsageError("--device " + cfg.device + ": allowed: cpu, cuda, auto");
  }
  if (cfg.device == "cuda" && cuda_devices == 0) {
    throw UsageError("--device cuda: no CUDA GPU is visible to this process (this build " +
                     std::string(cuda_devices == 0 ? "or machine" : "") +
                     " has none); allowed here: --device cpu or --device auto");
  }
  if (cfg.backend != "auto" && cfg.backend != "mpi" && cfg.backend != "nccl") {
    throw UsageError("--backend " + cfg.backend + ": allowed: auto, mpi, nccl");
  }
  if (cfg.batch_size && cfg.global_batch) {
    throw UsageError("--batch-size and --global-batch exclude each other: give the per-rank batch "
                     "(weak scaling) or the global batch (strong scaling), not both");
  }
  if (cfg.batch_size && *cfg.batch_size < 1) {
    throw UsageError("--batch-size " + str(*cfg.batch_size) + ": must be at least 1");
  }
  if (cfg.global_batch) {
    if (*cfg.global_batch < 1) {
      throw UsageError("--global-batch " + str(*cfg.global_batch) + ": must be at least 1");
    }
    if (*cfg.global_batch % world_size != 0) {
      throw UsageError("--global-batch " + str(*cfg.global_batch) + " does not divide by the " +
                       str(world_size) + " ranks; allowed: a multiple of " + str(world_size));
    }
  }
  if (!(cfg.validation_fraction >= 0.0 && cfg.validation_fraction < 1.0)) {
    throw UsageError("--validation-fraction " + std::to_string(cfg.validation_fraction) +
                     ": allowed: 0 (no validation) up to, not including, 1");
  }
  if (cfg.prefetch < 0) throw UsageError("--prefetch " + str(cfg.prefetch) + ": must be 0 or more");
  if (cfg.patience < 0) throw UsageError("--patience " + str(cfg.patience) + ": must be 0 (off) or more");
  if (!(cfg.min_delta >= 0.0)) {
    throw UsageError("--min-delta " + std::to_string(cfg.min_delta) + ": must be 0 or more");
  }
  if (cfg.target_accuracy && !(*cfg.target_accuracy > 0.0 && *cfg.target_accuracy <= 1.0)) {
    throw UsageError("--target-accuracy " + std::to_string(*cfg.target_accuracy) +
                     ": allowed: a fraction in (0, 1], e.g. 0.9");
  }
  const bool needs_validation = cfg.patience > 0 || cfg.target_accuracy.has_value();
  if (needs_validation && cfg.dataset == "synthetic") {
    throw UsageError(std::string(cfg.patience > 0 ? "--patience" : "--target-accuracy") +
                     " monitors validation accuracy, which synthetic data does not have; allowed "
                     "with a real --dataset (mnist, fashion-mnist, cifar10, imdb, imagefolder)");
  }
  if (needs_validation && cfg.validation_fraction == 0.0) {
    throw UsageError(std::string(cfg.patience > 0 ? "--patience" : "--target-accuracy") +
                     " monitors validation accuracy: --validation-fraction must be above 0");
  }
  if (cfg.host_memory_limit_mb && *cfg.host_memory_limit_mb < 1) {
    throw UsageError("--host-memory-limit " + str(*cfg.host_memory_limit_mb) + ": must be at least 1 (MiB)");
  }
  if (cfg.max_batch_limit < 1) {
    throw UsageError("--max-batch-limit " + str(cfg.max_batch_limit) + ": must be at least 1");
  }
  if (cfg.find_max_batch && cfg.global_batch) {
    throw UsageError("--find-max-batch searches the per-rank batch; it excludes --global-batch "
                     "(give --batch-size to choose where the search starts)");
  }
  if (cfg.find_max_batch && cfg.batch_size && *cfg.batch_size > cfg.max_batch_limit) {
    throw UsageError("--batch-size " + str(*cfg.batch_size) + " is above --max-batch-limit " +
                     str(cfg.max_batch_limit) + "; allowed: a starting batch up to the limit");
  }
  if (cfg.steps && cfg.epochs) {
    throw UsageError("--steps and --epochs exclude each other: give one of them");
  }
  if (cfg.steps && *cfg.steps < 1) {
    throw UsageError("--steps " + str(*cfg.steps) + ": must be at least 1");
  }
  if (cfg.epochs && *cfg.epochs < 1) {
    throw UsageError("--epochs " + str(*cfg.epochs) + ": must be at least 1");
  }
  if (cfg.warmup_steps && *cfg.warmup_steps < 0) {
    throw UsageError("--warmup-steps " + str(*cfg.warmup_steps) + ": must be 0 or more");
  }
  if (!cfg.optimizer.empty() && cfg.optimizer != "sgd" && cfg.optimizer != "adam" &&
      cfg.optimizer != "rmsprop") {
    throw UsageError("--optimizer " + cfg.optimizer + ": allowed: " + kAllowedOptimizers);
  }
  if (cfg.lr && !(*cfg.lr > 0.0)) throw UsageError("--lr " + str(*cfg.lr) + ": must be > 0");
  if (cfg.lr_decay && !(*cfg.lr_decay >= 0.0)) {
    throw UsageError("--lr-decay " + str(*cfg.lr_decay) + ": must be >= 0");
  }
  if (cfg.momentum && !(*cfg.momentum >= 0.0 && *cfg.momentum < 1.0)) {
    throw UsageError("--momentum " + str(*cfg.momentum) + ": allowed: 0 <= momentum < 1");
  }
  if (cfg.threads < 0) throw UsageError("--threads " + str(cfg.threads) + ": must be 0 (LibTorch's default) or more");
  if (!(cfg.bucket_mb > 0.0) || cfg.bucket_mb > 4096.0) {
    throw UsageError("--bucket-mb " + str(cfg.bucket_mb) + ": allowed: > 0 and <= 4096");
  }
  if (!(cfg.first_bucket_mb > 0.0) || cfg.first_bucket_mb > 4096.0) {
    throw UsageError("--first-bucket-mb " + str(cfg.first_bucket_mb) + ": allowed: > 0 and <= 4096");
  }
  if (cfg.bucket_order != "observed" && cfg.bucket_order != "registration") {
    throw UsageError("--bucket-order " + cfg.bucket_order + ": allowed: observed, registration");
  }
  if (!(cfg.mpi_chunk_mb >= 0.0) || cfg.mpi_chunk_mb > 4096.0) {
    throw UsageError("--mpi-chunk-mb " + str(cfg.mpi_chunk_mb) + ": allowed: 0 (one call per bucket) to 4096");
  }
  if (!(cfg.comm_timeout_s > 0.0)) {
    throw UsageError("--comm-timeout " + str(cfg.comm_timeout_s) + ": must be > 0 seconds");
  }
  if (cfg.flush_every < 1) throw UsageError("--flush-every " + str(cfg.flush_every) + ": must be at least 1");
  try {
    parse_overlap_mode(cfg.overlap);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (cfg.cpu_allocator != "caching" && cfg.cpu_allocator != "system") {
    throw UsageError("--cpu-allocator " + cfg.cpu_allocator + ": must be caching or system");
  }
  if (cfg.progress != "auto" && cfg.progress != "lines" && cfg.progress != "inplace" && cfg.progress != "none") {
    throw UsageError("--progress " + cfg.progress + ": must be auto, lines, inplace or none");
  }
  record_buckets_every(cfg.record_buckets);
  record_ranks_selection(cfg.record_ranks, world_size);
  if (cfg.synthetic_batches < 1) {
    throw UsageError("--synthetic-batches " + str(cfg.synthetic_batches) + ": must be at least 1");
  }
  const models::ModelEntry* model = models::find(cfg.model);
  if (model == nullptr) {
    throw UsageError("--model " + cfg.model + ": unknown model; allowed: " + join(models::names()));
  }
  // Options that the model may refuse (an image size too small for its stages, an option it has
  // not); the weights file is checked when the model is built, as it needs the filesystem.
  model->check(model_options(cfg));
}

ResolvedRun resolve_run(const RunConfig& cfg, int world_size, std::int64_t steps_per_epoch) {
  const models::ModelEntry* model = models::find(cfg.model);
  if (!model) throw UsageError("--model " + cfg.model + ": unknown model; allowed: " + join(models::names()));
  ResolvedRun run;
  if (cfg.global_batch) {
    run.batch_per_rank = *cfg.global_batch / world_size;
  } else {
    run.batch_per_rank = cfg.batch_size.value_or(model->default_batch);
  }
  run.global_batch = run.batch_per_rank * world_size;
  constexpr std::int64_t kDefaultSteps = 50;
  run.steps = cfg.epochs ? *cfg.epochs * steps_per_epoch : cfg.steps.value_or(kDefaultSteps);
  // Default warm-up: 5 steps, fewer when the run is short, so that something is measured.
  constexpr std::int64_t kDefaultWarmup = 5;
  if (cfg.warmup_steps) {
    if (*cfg.warmup_steps >= run.steps) {
      throw UsageError("--warmup-steps " + str(*cfg.warmup_steps) +
                       " leaves no measured step of " + str(run.steps) +
                       "; allowed: fewer warm-up steps than steps");
    }
    run.warmup_steps = *cfg.warmup_steps;
  } else {
    run.warmup_steps = std::min(kDefaultWarmup, run.steps - 1);
  }
  run.optimizer = cfg.optimizer.empty() ? model->default_optimizer : cfg.optimizer;
  run.lr = cfg.lr.value_or(model->default_lr);
  run.lr_decay = cfg.lr_decay.value_or(model->default_lr_decay);
  run.momentum = cfg.momentum.value_or(model->default_momentum);
  run.bucket_cap_bytes = static_cast<std::int64_t>(cfg.bucket_mb * 1024.0 * 1024.0);
  if (run.bucket_cap_bytes < 1) run.bucket_cap_bytes = 1;
  run.first_bucket_cap_bytes = std::max<std::int64_t>(1, static_cast<std::int64_t>(cfg.first_bucket_mb * 1024.0 * 1024.0));
  return run;
}

std::string default_output_name(const RunConfig& cfg, int world_size, const std::string& utc_stamp) {
  return "scalebench-" + cfg.model + "-np" + std::to_string(world_size) + "-" + utc_stamp + ".h5";
}

std::string check_output_path(const std::string& path, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) return "--output " + path + ": is a directory; give a file name";
  if (fs::exists(p, ec) && !overwrite) {
    return "--output " + path + ": exists; results are never overwritten silently (pass "
           "--overwrite to replace it when the new run completes, or choose another name)";
  }
  fs::path dir = p.parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) return "--output " + path + ": directory " + dir.string() + " does not exist";
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return "--output " + path + ": directory " + dir.string() + " is not writable";
  }
  return "";
}

nlohmann::json to_json(const RunConfig& cfg) {
  nlohmann::json j;
  j["model"] = cfg.model;
  j["dataset"] = cfg.dataset;
  j["device"] = cfg.device;
  j["backend"] = cfg.backend;
  j["batch_size"] = cfg.batch_size ? nlohmann::json(*cfg.batch_size) : nlohmann::json();
  j["global_batch"] = cfg.global_batch ? nlohmann::json(*cfg.global_batch) : nlohmann::json();
  j["steps"] = cfg.steps ? nlohmann::json(*cfg.steps) : nlohmann::json();
  j["epochs"] = cfg.epochs ? nlohmann::json(*cfg.epochs) : nlohmann::json();
  j["warmup_steps"] = cfg.warmup_steps ? nlohmann::json(*cfg.warmup_steps) : nlohmann::json();
  j["optimizer"] = cfg.optimizer;
  j["lr"] = cfg.lr ? nlohmann::json(*cfg.lr) : nlohmann::json();
  j["lr_decay"] = cfg.lr_decay ? nlohmann::json(*cfg.lr_decay) : nlohmann::json();
  j["momentum"] = cfg.momentum ? nlohmann::json(*cfg.momentum) : nlohmann::json();
  j["seed"] = cfg.seed;
  j["threads"] = cfg.threads;
  j["bucket_mb"] = cfg.bucket_mb;
  j["first_bucket_mb"] = cfg.first_bucket_mb;
  j["bucket_order"] = cfg.bucket_order;
  j["mpi_chunk_mb"] = cfg.mpi_chunk_mb;
  j["overlap"] = cfg.overlap;
  j["output"] = cfg.output;
  j["overwrite"] = cfg.overwrite;
  j["tag"] = cfg.tag;
  j["comm_timeout_s"] = cfg.comm_timeout_s;
  j["flush_every"] = cfg.flush_every;
  j["progress"] = cfg.quiet ? std::string("none") : cfg.progress;
  j["cpu_allocator"] = cfg.cpu_allocator;
  j["record_buckets"] = cfg.record_buckets;
  j["record_ranks"] = cfg.record_ranks;
  j["synthetic_batches"] = cfg.synthetic_batches;
  const auto optional_int = [](const std::optional<std::int64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  j["image_size"] = optional_int(cfg.image_size);
  j["trainable_base"] = cfg.trainable_base;
  j["vocab_size"] = optional_int(cfg.vocab_size);
  j["sequence_length"] = optional_int(cfg.sequence_length);
  j["embedding_size"] = optional_int(cfg.embedding_size);
  j["weights"] = cfg.weights;
  j["host_memory_limit_mb"] = optional_int(cfg.host_memory_limit_mb);
  j["data_dir"] = cfg.data_dir;
  j["validation_fraction"] = cfg.validation_fraction;
  j["prefetch"] = cfg.prefetch;
  j["patience"] = cfg.patience;
  j["min_delta"] = cfg.min_delta;
  j["target_accuracy"] = cfg.target_accuracy ? nlohmann::json(*cfg.target_accuracy) : nlohmann::json();
  j["save"] = cfg.save;
  j["find_max_batch"] = cfg.find_max_batch;
  j["max_batch_limit"] = cfg.max_batch_limit;
  return j;
}

models::ModelOptions model_options(const RunConfig& cfg) {
  models::ModelOptions o;
  o.image_size = cfg.image_size;
  o.trainable_base = cfg.trainable_base;
  o.vocab_size = cfg.vocab_size;
  o.sequence_length = cfg.sequence_length;
  o.embedding_size = cfg.embedding_size;
  o.weights = cfg.weights;
  return o;
}

}  // namespace scalebench
