// `scalebench infer`: the hardware-benchmark study's optional metric, at any scale. Each rank
// loads the model (construction plus the weights file: "model loading time"), then predicts its
// shard of the dataset's test split ("prediction time"); accuracy and loss are summed over ranks.
// Recorded per rank to a run file like training's (mode "infer"), written under .partial and
// renamed when complete.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "app/commands.hpp"
#include "app/run_setup.hpp"
#include "core/errors.hpp"
#include "ddp/checksum.hpp"
#include "device/device.hpp"
#include "runtime/log.hpp"
#include "runtime/watchdog.hpp"
#include "train/evaluator.hpp"
#include "train/run_recorder.hpp"

namespace scalebench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  // steady_clock: durations only; immune to clock adjustments.
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_infer(World& world, RunConfig cfg) {
  std::string error;
  if (cfg.weights.empty()) {
    error = "infer needs --weights FILE (a model trained and saved with `scalebench train ... --save FILE`)";
  } else if (cfg.dataset == "synthetic") {
    error = "infer predicts a dataset's test split; allowed --dataset: mnist, fashion-mnist, cifar10, imdb, "
            "imagefolder (with --data-dir)";
  }
  if (!error.empty()) throw UsageError(error);

  // Local: the model (timed: construction and weights, as the study's "model loading time") and
  // this rank's shard of the test split. A usage error on any rank is agreed before collectives.
  LocalSetup s;
  double load_s = 0.0;
  std::unique_ptr<datasets::EvalSource> test;
  try {
    s = build_local(world, cfg);
    load_s = s.model_build_s;
    test = std::move(s.test);
  } catch (const UsageError& e) {
    error = e.what();
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  if (cfg.output.empty()) {
    cfg.output = "scalebench-infer-" + cfg.model + "-np" + std::to_string(world.size()) + "-" +
                 compact_utc_stamp() + ".h5";
  }
  cfg.output = world.broadcast_string(cfg.output);
  error = world.is_root() ? check_output_path(cfg.output, cfg.overwrite) : "";
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  Watchdog watchdog(cfg.comm_timeout_s, [](const std::string&) {}, [] { return std::string(); });
  RunRecorder recorder(world, cfg.output, 0, cfg.flush_every, &watchdog);
  const auto ranks = gather_rank_infos(world, s.device);
  try {
    const auto start = std::chrono::steady_clock::now();
    std::int64_t next = 0;
    const EvalTotals totals = evaluate(*s.model, [&]() -> std::optional<datasets::Batch> {
      if (next >= test->steps()) return std::nullopt;
      return test->batch(next++);
    });
    const double predict_s = seconds_since(start);
    const auto sums = world.sum_over_ranks({totals.loss_sum, totals.correct, totals.samples});
    const auto loads = world.gather_to_root({load_s, predict_s, totals.samples, totals.correct});
    const double slowest_load = world.max_over_ranks(load_s);
    const double slowest_predict = world.max_over_ranks(predict_s);
    const double accuracy = sums[2] > 0 ? sums[1] / sums[2] : 0.0;
    recorder.with_file([&](io::RunFile& f) {
      f.set_attr("mode", std::string("infer"));
      f.set_attr("tool", std::string("scalebench"));
      f.set_attr("command_line", cfg.command_line);
      f.set_attr("config", to_json(cfg).dump());
      f.set_attr("model", cfg.model);
      f.set_attr("dataset", cfg.dataset);
      f.set_attr("weights", cfg.weights);
      f.set_attr("world_size", static_cast<std::int64_t>(world.size()));
      f.set_attr("device", std::string(s.device.is_cuda() ? "cuda" : "cpu"));
      f.set_attr("threads", static_cast<std::int64_t>(torch::get_num_threads()));
      f.set_attr("batch_per_rank", s.run.batch_per_rank);
      f.set_attr("test_samples", static_cast<std::int64_t>(sums[2]));
      f.set_attr("test_accuracy", accuracy);
      f.set_attr("test_loss", sums[2] > 0 ? sums[0] / sums[2] : 0.0);
      f.set_attr("model_load_s", slowest_load);
      f.set_attr("predict_s", slowest_predict);
      f.set_attr("predict_samples_per_s", slowest_predict > 0 ? sums[2] / slowest_predict : 0.0);
      f.write_ranks(ranks);
      std::vector<double> col[4];
      for (std::size_t i = 0; i < loads.size(); ++i) col[i % 4].push_back(loads[i]);
      f.write_rank_values("model_load_s", col[0], "s", "model construction plus loading --weights");
      f.write_rank_values("predict_s", col[1], "s", "forward passes over the rank's shard of the test split");
      f.write_rank_values("predict_samples", col[2], "samples", "test samples the rank predicted");
      f.write_rank_values("predict_correct", col[3], "samples", "of those, predicted correctly");
    });
    recorder.finish("completed", to_hex(state_checksum(*s.model)));
    log::info("infer: " + cfg.model + " on " + std::to_string(world.size()) + " rank(s): model loading " +
              std::to_string(slowest_load) + " s, prediction " + std::to_string(slowest_predict) + " s for " +
              std::to_string(static_cast<std::int64_t>(sums[2])) + " test samples, accuracy " +
              std::to_string(accuracy) + "; wrote " + cfg.output);
  } catch (const std::exception& e) {
    recorder.abandon("failed", e.what());
    throw;
  }
  return kExitOk;
}

}  // namespace scalebench
