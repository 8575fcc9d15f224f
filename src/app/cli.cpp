#include "app/cli.hpp"

#include <CLI/CLI.hpp>

#include "core/errors.hpp"
#include "datasets/batch_source.hpp"
#include "models/registry.hpp"
#include "runtime/build_info.hpp"

namespace scalebench {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Options with "unset" meaning (model default, or exclusive alternatives) are parsed into plain
// values and taken over only when given.
struct TrainArgs {
  std::int64_t batch_size = 0, global_batch = 0, steps = 0, epochs = 0, warmup = 0;
  double lr = 0, lr_decay = 0, momentum = 0;
  std::int64_t image_size = 0, vocab_size = 0, sequence_length = 0, embedding_size = 0;
  std::int64_t host_memory_limit_mb = 0;
  double target_accuracy = 0;
  CLI::Option *o_batch = nullptr, *o_global = nullptr, *o_steps = nullptr, *o_epochs = nullptr,
              *o_warmup = nullptr, *o_lr = nullptr, *o_decay = nullptr, *o_momentum = nullptr,
              *o_image = nullptr, *o_vocab = nullptr, *o_sequence = nullptr, *o_embedding = nullptr,
              *o_memory = nullptr, *o_target = nullptr;
};

void add_train_options(CLI::App& cmd, RunConfig& c, TrainArgs& a) {
  cmd.add_option("--model", c.model, "Reference model (see `scalebench models`): " + join(models::names()))
      ->required();
  cmd.add_option("--device", c.device, "cpu | cuda | auto (cuda when a GPU is visible)")->capture_default_str();
  cmd.add_option("--backend", c.backend, "auto | mpi | nccl (auto: nccl for cuda, mpi for cpu)")->capture_default_str();
  cmd.add_option("--dataset", c.dataset, "Dataset: " + join(datasets::dataset_names()))->capture_default_str();
  cmd.add_option("--data-dir", c.data_dir, "Folder of a real dataset's files (see README, Datasets)");
  cmd.add_option("--validation-fraction", c.validation_fraction,
                 "Share of the training set held out for evaluation at each epoch's end")->capture_default_str();
  cmd.add_option("--prefetch", c.prefetch, "Batches a background thread prepares ahead (0: none)")
      ->capture_default_str();
  cmd.add_option("--patience", c.patience,
                 "Early stopping: epochs without a validation-accuracy gain above --min-delta (0: off; "
                 "the Python-vs-R study used 5)")->capture_default_str();
  cmd.add_option("--min-delta", c.min_delta, "Early stopping: the least gain that counts (the study: 0.01)")
      ->capture_default_str();
  a.o_target = cmd.add_option("--target-accuracy", a.target_accuracy,
                              "Stop when validation accuracy reaches this fraction; record the time to it");
  cmd.add_option("--save", c.save, "Write the trained model here (a LibTorch archive; load it with --weights)");
  a.o_batch = cmd.add_option("--batch-size", a.batch_size, "Per-rank batch (weak scaling); default: the model's");
  a.o_global = cmd.add_option("--global-batch", a.global_batch,
                              "Global batch split over the ranks (strong scaling); must divide by the world size");
  a.o_batch->excludes(a.o_global);
  a.o_steps = cmd.add_option("--steps", a.steps, "Training steps, warm-up included (default 50)");
  a.o_epochs = cmd.add_option("--epochs", a.epochs, "Epochs over the dataset (instead of --steps)");
  a.o_steps->excludes(a.o_epochs);
  a.o_warmup = cmd.add_option("--warmup-steps", a.warmup,
                              "Warm-up steps: recorded and flagged, left out of summaries (default 5)");
  cmd.add_option("--optimizer", c.optimizer, "sgd | adam | rmsprop (default: the model's study's)");
  a.o_lr = cmd.add_option("--lr", a.lr, "Learning rate (default: the model's study's)");
  a.o_decay = cmd.add_option("--lr-decay", a.lr_decay, "Keras time-based decay: lr/(1+decay*step)");
  a.o_momentum = cmd.add_option("--momentum", a.momentum, "SGD momentum (default: the model's study's)");
  a.o_image = cmd.add_option("--image-size", a.image_size,
                             "Input height = width in pixels, for image models (default: the model's; "
                             "channels come from the dataset)");
  cmd.add_flag("--trainable-base", c.trainable_base, "modelA: train the VGG19 base too (the study froze it)");
  a.o_vocab = cmd.add_option("--vocab-size", a.vocab_size, "imdb_cnn_lstm: vocabulary size (default 20000)");
  a.o_sequence = cmd.add_option("--sequence-length", a.sequence_length,
                                "imdb_cnn_lstm: tokens per sequence (default 100; the study's variant: 250)");
  a.o_embedding = cmd.add_option("--embedding-size", a.embedding_size,
                                 "imdb_cnn_lstm: embedding width (default 128; the study's variant: 32)");
  cmd.add_option("--weights", c.weights,
                 "Initial weights: a LibTorch archive (torch::save of the module) of this model and options");
  cmd.add_option("--seed", c.seed, "Seed of initialisation and synthetic data")->capture_default_str();
  cmd.add_option("--threads", c.threads, "Intra-op CPU threads per rank (0: LibTorch's default)")->capture_default_str();
  cmd.add_option("--bucket-mb", c.bucket_mb, "Gradient bucket cap in MiB")->capture_default_str();
  cmd.add_option("--first-bucket-mb", c.first_bucket_mb,
                 "Cap of the first gradient bucket in MiB (as DDP's first_bucket_bytes: the first allreduce "
                 "starts early in backward)")->capture_default_str();
  cmd.add_option("--bucket-order", c.bucket_order,
                 "observed (buckets filled in the order backward produces gradients, seen in one pass before "
                 "the first step) or registration (reverse registration order)")->capture_default_str();
  cmd.add_option("--mpi-chunk-mb", c.mpi_chunk_mb, "MPI backend: reduce each bucket in slices of this many MiB (0: one call per bucket)")->capture_default_str();
  auto* o_overlap = cmd.add_option(
      "--overlap", c.overlap,
      "Bucket allreduces during backward: on, off (only after backward), or auto (both tried in the "
      "warm-up steps, the faster kept; needs 3 warm-up steps, else on)")->capture_default_str();
  cmd.add_flag("--no-overlap", "Allreduce only after backward (= --overlap off)")->excludes(o_overlap);
  cmd.add_option("--output,-o", c.output, "Run file (HDF5); default scalebench-<model>-np<N>-<time>.h5");
  cmd.add_flag("--overwrite", c.overwrite, "Replace an existing --output when the run completes");
  cmd.add_option("--tag", c.tag, "Free text stored in the run file");
  cmd.add_option("--comm-timeout", c.comm_timeout_s,
                 "Seconds a collective may take before the job is ended as stuck")->capture_default_str();
  cmd.add_option("--flush-every", c.flush_every,
                 "Gather records to rank 0 and flush the file every N steps")->capture_default_str();
  cmd.add_option("--record-buckets", c.record_buckets,
                 "every:K: record each bucket's allreduce times for steps 0, K, 2K, ... only (the "
                 "largest table at many ranks)")->capture_default_str();
  cmd.add_option("--record-ranks", c.record_ranks,
                 "Ranks whose rows the file keeps: all, stats (min/median/max/mean and the max's rank "
                 "over all ranks per step, plus rank 0), sample:K (those statistics plus K ranks "
                 "evenly spaced, rank 0 among them), auto (all up to 256 ranks, sample:256 beyond)")
      ->capture_default_str();
  cmd.add_option("--synthetic-batches", c.synthetic_batches,
                 "Distinct global batches in the synthetic dataset (= steps per epoch)")->capture_default_str();
  cmd.add_flag("--quiet,-q", c.quiet, "No progress lines, summary only (= --progress none)");
  cmd.add_option("--progress", c.progress,
                 "Rank 0's progress: inplace (redrawn on one terminal line), lines (a line every ~5 % "
                 "and 10 s, for logs), none, or auto: inplace only when the output reaches a terminal "
                 "(under mpirun, when mpirun's own output does)")->capture_default_str();
  cmd.add_option("--cpu-allocator", c.cpu_allocator,
                 "Host tensor memory: caching (blocks of 1 MiB or more are kept and reused by size, so a "
                 "step's large tensors do not fault in fresh pages every step) or system (LibTorch's "
                 "default: malloc, large blocks returned to the kernel when freed)")
      ->capture_default_str();
  a.o_memory = cmd.add_option("--host-memory-limit", a.host_memory_limit_mb,
                              "MiB of tensor memory each CPU rank may hold (parameters included): beyond it an "
                              "allocation fails and the run ends as `oom`, as on a GPU of that size (default: none)");
  cmd.add_flag("--find-max-batch", c.find_max_batch,
               "Instead of training: search the largest per-rank batch that fits in memory (2 steps per "
               "candidate, doubling then bisecting) and record it");
  cmd.add_option("--max-batch-limit", c.max_batch_limit, "Largest per-rank batch --find-max-batch tries")
      ->capture_default_str();
}

void take_train_args(CLI::App& cmd, RunConfig& c, const TrainArgs& a) {
  if (a.o_batch->count()) c.batch_size = a.batch_size;
  if (a.o_global->count()) c.global_batch = a.global_batch;
  if (a.o_steps->count()) c.steps = a.steps;
  if (a.o_epochs->count()) c.epochs = a.epochs;
  if (a.o_warmup->count()) c.warmup_steps = a.warmup;
  if (a.o_lr->count()) c.lr = a.lr;
  if (a.o_decay->count()) c.lr_decay = a.lr_decay;
  if (a.o_momentum->count()) c.momentum = a.momentum;
  if (a.o_image->count()) c.image_size = a.image_size;
  if (a.o_vocab->count()) c.vocab_size = a.vocab_size;
  if (a.o_sequence->count()) c.sequence_length = a.sequence_length;
  if (a.o_embedding->count()) c.embedding_size = a.embedding_size;
  if (a.o_memory->count()) c.host_memory_limit_mb = a.host_memory_limit_mb;
  if (a.o_target->count()) c.target_accuracy = a.target_accuracy;
  if (cmd.count("--no-overlap") > 0) c.overlap = "off";
}

bool is_subcommand(const std::string& word) {
  return word == "train" || word == "infer" || word == "models" || word == "info" || word == "schema" ||
         word == "allreduce";
}

}  // namespace

ParsedCommand parse_command_line(int argc, char** argv) {
  // `scalebench --model X ...` means `scalebench train --model X ...`.
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  if (!args.empty() && !is_subcommand(args.front()) && args.front() != "--help" &&
      args.front() != "-h" && args.front() != "--version") {
    args.insert(args.begin(), "train");
  }
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  ParsedCommand parsed;
  // The help starts with commands one can paste: a newcomer's first question is "what do I type".
  CLI::App app{"scalebench: data-parallel training scaling studies over MPI and NCCL, recorded per "
               "rank to HDF5\n\n"
               "Examples:\n"
               "  mpirun -np 4 scalebench --model modelB --steps 100 -o modelB-np4.h5\n"
               "  mpirun -np 2 scalebench --model cifar10_cnn --device cpu --threads 1 > log   # progress as lines\n"
               "  mpirun -np 2 scalebench allreduce -b 8 -e 64M -f 2 -o allreduce-np2.h5\n"
               "  (a study over 1, 2, 4 ranks: launch/sweep --help; plots: results/report --help)"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string(scalebench_version()) + " (git " + scalebench_git_revision() + ")");
  CLI::App* train = app.add_subcommand("train", "Train a model data-parallel and record it (default)");
  TrainArgs targs;
  add_train_options(*train, parsed.config, targs);
  // Inference takes the options that shape the model and its data (model options, --weights,
  // --dataset, --data-dir, --batch-size, --device, --threads, --output); the training-only ones
  // are accepted and ignored, so that a training command line can be turned into an infer one.
  CLI::App* infer = app.add_subcommand(
      "infer", "Time model loading and prediction over a dataset's test split (needs --weights)");
  TrainArgs iargs;
  RunConfig infer_config;
  add_train_options(*infer, infer_config, iargs);
  CLI::App* models_cmd = app.add_subcommand("models", "List the reference models");
  models_cmd->add_flag("--json", parsed.json, "JSON output");
  app.add_subcommand("info", "Library versions, math libraries, devices and ranks");
  CLI::App* schema_cmd =
      app.add_subcommand("schema", "The run file's per-step fields (names, types, units, meaning): the one definition");
  schema_cmd->add_flag("--json", parsed.json, "JSON output (what results/ and the tests check themselves against)");
  CLI::App* allreduce = add_allreduce_subcommand(app, parsed.allreduce);

  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    parsed.kind = CommandKind::kHelp;
    CLI::App* which = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
    parsed.help_text = which->help();
    return parsed;
  } catch (const CLI::CallForVersion&) {
    parsed.kind = CommandKind::kVersion;
    parsed.help_text = std::string("scalebench ") + scalebench_version() + " (git " + scalebench_git_revision() + ")";
    return parsed;
  } catch (const CLI::ParseError& e) {
    throw UsageError(std::string(e.what()) + " (see scalebench --help)");
  }
  if (models_cmd->parsed()) {
    parsed.kind = CommandKind::kModels;
  } else if (app.got_subcommand("info")) {
    parsed.kind = CommandKind::kInfo;
  } else if (schema_cmd->parsed()) {
    parsed.kind = CommandKind::kSchema;
  } else if (allreduce->parsed()) {
    parsed.kind = CommandKind::kAllreduce;
    parsed.allreduce.command_line = command_line;
  } else if (infer->parsed()) {
    parsed.kind = CommandKind::kInfer;
    take_train_args(*infer, infer_config, iargs);
    parsed.config = infer_config;
    parsed.config.command_line = command_line;
  } else if (train->parsed()) {
    parsed.kind = CommandKind::kTrain;
    take_train_args(*train, parsed.config, targs);
    parsed.config.command_line = command_line;
  } else {
    parsed.kind = CommandKind::kHelp;
    parsed.help_text = app.help();
  }
  return parsed;
}

}  // namespace scalebench
