#include "app/accuracy_tracker.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "ddp/reducer.hpp"
#include "runtime/log.hpp"
#include "train/evaluator.hpp"

namespace scalebench {
namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

AccuracyTracker::AccuracyTracker(const World& world, const RunConfig& cfg, models::Network& model,
                                 Communicator& comm, Watchdog& watchdog)
    : world_(world), cfg_(cfg), model_(model), comm_(comm), watchdog_(watchdog) {}

void AccuracyTracker::add_step(double loss, std::int64_t samples, std::int64_t correct) {
  correct_ += static_cast<double>(correct);
  loss_sum_ += loss * static_cast<double>(samples);
  samples_ += static_cast<double>(samples);
}

AccuracyTracker::Reduced AccuracyTracker::evaluate_split(datasets::EvalSource& source, std::int64_t step) {
  const std::vector<torch::Tensor> buffers = floating_point_buffers(model_);
  if (!buffers.empty()) {
    // Each rank's BatchNorm statistics drifted with its own batches; rank 0's are the model's.
    Watchdog::Guard guard(&watchdog_, step, "broadcast of model buffers before evaluation");
    broadcast_tensors(comm_, buffers, 0);
  }
  std::int64_t next = 0;
  const EvalTotals t = evaluate(model_, [&]() -> std::optional<datasets::Batch> {
    if (next >= source.steps()) return std::nullopt;
    return source.batch(next++);
  });
  Watchdog::Guard guard(&watchdog_, step, "sum of evaluation results over ranks");
  const auto sums = world_.sum_over_ranks({t.loss_sum, t.correct, t.samples});
  Reduced r;
  r.samples = sums[2];
  r.loss = sums[2] > 0 ? sums[0] / sums[2] : std::numeric_limits<double>::quiet_NaN();
  r.accuracy = sums[2] > 0 ? sums[1] / sums[2] : 0.0;
  r.seconds = world_.max_over_ranks(t.seconds);
  return r;
}

bool AccuracyTracker::end_epoch(std::int64_t epoch, std::int64_t step, datasets::EvalSource* validation,
                                RunRecorder& recorder) {
  const auto train_end = std::chrono::steady_clock::now();
  const double train_s = world_.max_over_ranks(seconds_between(epoch_start_, train_end));
  const auto train = world_.sum_over_ranks({loss_sum_, samples_, correct_});
  loss_sum_ = samples_ = correct_ = 0.0;

  Reduced val;
  val.loss = std::numeric_limits<double>::quiet_NaN();
  if (validation) val = evaluate_split(*validation, step);
  validation_total_s_ += val.seconds;
  epoch_start_ = std::chrono::steady_clock::now();
  const double elapsed = world_.max_over_ranks(seconds_between(first_step_, epoch_start_));

  io::EpochRecord row;
  row.epoch = epoch;
  row.last_step = step;
  row.train_samples = static_cast<std::int64_t>(train[1]);
  row.train_loss = train[1] > 0 ? train[0] / train[1] : 0.0;
  row.train_accuracy = train[1] > 0 ? train[2] / train[1] : 0.0;
  row.validation_loss = val.loss;
  row.validation_accuracy = val.accuracy;
  row.validation_samples = static_cast<std::int64_t>(val.samples);
  row.train_s = train_s;
  row.validation_s = val.seconds;
  row.elapsed_s = elapsed;
  recorder.with_file([&](io::RunFile& f) {
    f.append_epoch(row);
    f.flush();
  });
  log::info("epoch " + std::to_string(epoch + 1) + ": train loss " + fixed(row.train_loss, 4) +
            ", accuracy " + fixed(row.train_accuracy, 4) +
            (validation ? ", validation loss " + fixed(val.loss, 4) + ", accuracy " + fixed(val.accuracy, 4)
                        : std::string()) +
            " (" + fixed(train_s, 1) + " s + " + fixed(val.seconds, 1) + " s)");
  if (!validation) return false;

  // Keras' EarlyStopping(monitor="val_accuracy", mode="max"): an improvement is a gain above
  // min_delta over the best so far; `patience` epochs without one stop the run.
  if (best_epoch_ < 0 || val.accuracy - cfg_.min_delta > best_) {
    best_ = val.accuracy;
    best_epoch_ = epoch;
    wait_ = 0;
  } else {
    ++wait_;
  }
  recorder.with_file([&](io::RunFile& f) {
    f.set_attr("best_validation_accuracy", best_);
    f.set_attr("best_epoch", best_epoch_);
  });
  if (cfg_.target_accuracy && !target_reached_ && val.accuracy >= *cfg_.target_accuracy) {
    target_reached_ = true;
    recorder.with_file([&](io::RunFile& f) {
      f.set_attr("time_to_accuracy_s", elapsed);
      f.set_attr("epochs_to_accuracy", epoch + 1);
      f.set_attr("steps_to_accuracy", step + 1);
    });
    stop_kind_ = "target_accuracy";
    stop_reason_ = "validation accuracy " + fixed(val.accuracy, 4) + " reached --target-accuracy " +
                   fixed(*cfg_.target_accuracy, 4) + " after epoch " + std::to_string(epoch + 1) + " (" +
                   fixed(elapsed, 1) + " s of training and validation)";
    return true;
  }
  if (cfg_.patience > 0 && wait_ >= cfg_.patience) {
    stop_kind_ = "early_stop";
    stop_reason_ = "early stopping after epoch " + std::to_string(epoch + 1) + ": no validation-accuracy gain above " +
                   fixed(cfg_.min_delta, 4) + " for " + std::to_string(cfg_.patience) + " epoch(s); best " +
                   fixed(best_, 4) + " at epoch " + std::to_string(best_epoch_ + 1);
    return true;
  }
  return false;
}

void AccuracyTracker::final_test(datasets::EvalSource* test, RunRecorder& recorder) {
  const double total = world_.max_over_ranks(seconds_between(first_step_, std::chrono::steady_clock::now()));
  recorder.with_file([&](io::RunFile& f) {
    f.set_attr("total_execution_s", total);  // training + validation, as the hardware study reported
    f.set_attr("validation_total_s", validation_total_s_);
  });
  if (!test) return;
  const Reduced r = evaluate_split(*test, -1);
  recorder.with_file([&](io::RunFile& f) {
    f.set_attr("test_accuracy", r.accuracy);
    f.set_attr("test_loss", r.loss);
    f.set_attr("test_samples", static_cast<std::int64_t>(r.samples));
    f.set_attr("test_s", r.seconds);
  });
  log::info("test: loss " + fixed(r.loss, 4) + ", accuracy " + fixed(r.accuracy, 4) + " on " +
            std::to_string(static_cast<std::int64_t>(r.samples)) + " samples (" + fixed(r.seconds, 1) + " s)");
}

}  // namespace scalebench
