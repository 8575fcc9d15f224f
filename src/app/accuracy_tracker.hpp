#pragma once
// Training to accuracy on a real dataset: at each epoch's end, the validation split is evaluated
// (every rank its shard, sums over ranks), a row goes to /epochs, and early stopping (Keras'
// EarlyStopping on val_accuracy: --patience, --min-delta) and --target-accuracy decide whether to
// go on. Every rank reaches the same verdict from the same reduced numbers, so all stop together.
#include <chrono>
#include <cstdint>
#include <string>

#include "comm/communicator.hpp"
#include "core/config.hpp"
#include "datasets/batch_source.hpp"
#include "models/network.hpp"
#include "runtime/watchdog.hpp"
#include "runtime/world.hpp"
#include "train/run_recorder.hpp"

namespace scalebench {

class AccuracyTracker {
 public:
  AccuracyTracker(const World& world, const RunConfig& cfg, models::Network& model, Communicator& comm,
                  Watchdog& watchdog);

  // Every training step, after it was recorded: this rank's batch mean loss, sample count and
  // correct predictions.
  void add_step(double loss, std::int64_t samples, std::int64_t correct);
  // At the end of epoch `epoch` (after step `step`). Collective. Returns true when training should
  // stop (early stopping or the target reached); the reason is then in stop_reason().
  bool end_epoch(std::int64_t epoch, std::int64_t step, datasets::EvalSource* validation,
                 RunRecorder& recorder);
  // After training: the test split (collective); its figures go to root attributes.
  void final_test(datasets::EvalSource* test, RunRecorder& recorder);

  const std::string& stop_reason() const { return stop_reason_; }
  const std::string& stop_kind() const { return stop_kind_; }

 private:
  struct Reduced {
    double loss = 0.0, accuracy = 0.0, samples = 0.0, seconds = 0.0;
  };
  // Buffers (BatchNorm statistics) from rank 0, then this rank's shard, then sums over ranks.
  Reduced evaluate_split(datasets::EvalSource& source, std::int64_t step);

  const World& world_;
  const RunConfig& cfg_;
  models::Network& model_;
  Communicator& comm_;
  Watchdog& watchdog_;
  // Made just before the first step: the clock of "total execution time" starts there, not at setup.
  std::chrono::steady_clock::time_point first_step_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point epoch_start_ = first_step_;
  double loss_sum_ = 0.0, samples_ = 0.0, correct_ = 0.0;  // this rank, this epoch
  double validation_total_s_ = 0.0;
  double best_ = -1.0;
  std::int64_t best_epoch_ = -1, wait_ = 0;
  bool target_reached_ = false;
  std::string stop_reason_, stop_kind_;
};

}  // namespace scalebench
