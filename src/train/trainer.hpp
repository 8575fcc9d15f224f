#pragma once
// One training step, phase by phase, and what it cost. The trainer speaks to a Reducer and a
// Communicator, never to MPI or NCCL; with neither it is plain single-process training (the
// baseline the benchmarks compare the data-parallel path against).
#include <torch/torch.h>

#include <chrono>
#include <memory>

#include "comm/communicator.hpp"
#include "datasets/batch_source.hpp"
#include "ddp/reducer.hpp"
#include "metrics/phase_clock.hpp"
#include "metrics/step_record.hpp"
#include "models/network.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/watchdog.hpp"
#include "train/optimizers.hpp"

namespace scalebench {

struct TrainerParts {
  std::shared_ptr<models::Network> model;
  datasets::BatchSource* data = nullptr;
  Optimizer* optimizer = nullptr;
  PhaseClock* clock = nullptr;
  torch::Device device = torch::kCPU;
  Communicator* comm = nullptr;  // nullptr: no communication at all
  Reducer* reducer = nullptr;    // nullptr: no gradient averaging
  Watchdog* watchdog = nullptr;  // armed around waits on collectives
  const FaultInjection* inject = nullptr;  // test-only allocation failures
  // Origin of this rank's run clock (start_time_s, end_time_s; the clock offsets between ranks
  // are estimated on it). Default: when the trainer is made.
  std::chrono::steady_clock::time_point run_clock_origin = std::chrono::steady_clock::now();
};

class Trainer {
 public:
  explicit Trainer(TrainerParts parts);
  // Runs step `step` (0-based across epochs) and returns this rank's record of it. When this rank
  // runs out of memory during the step, it still takes its part in the step's collectives
  // (contributing zero gradients, skipping the optimizer) and then throws StepOutOfMemory, so the
  // caller can agree with the other ranks to stop instead of leaving them in an allreduce.
  StepRecord step(std::int64_t step, bool warmup, std::int64_t epoch);
  // Samples of the last step's batch whose predicted class was the target (training accuracy,
  // as Keras reports it: on the batch as it was before the step's update).
  std::int64_t last_correct() const { return last_correct_; }

 private:
  // How far a step got: what recovery from an allocation failure still owes the other ranks.
  enum class Stage { kStart, kBuffersShared, kBucketsArmed, kGradientsReduced };
  void complete_collectives_after_failure(Stage reached, std::int64_t step);

  TrainerParts p_;
  // BatchNorm running statistics and the like: broadcast from rank 0 before every forward, as
  // PyTorch DDP does (broadcast_buffers=True), so every rank normalises alike.
  std::vector<torch::Tensor> buffers_;
  std::int64_t buffer_bytes_ = 0;  // what one buffer sync moves
  std::int64_t current_step_ = -1;  // read by the test-only failure hook
  std::int64_t last_correct_ = 0;
};

// The order in which one backward pass of `model` on `batch` (a few samples) produces the
// gradients of the Reducer's parameters (Reducer::observe_gradient_order), with the loss a step
// uses. No collective; the model's buffers (BatchNorm statistics) and the CPU random stream are as
// before afterwards, so the run's steps are the same as without it.
std::vector<std::size_t> observe_gradient_order(models::Network& model, Reducer& reducer,
                                                const datasets::Batch& batch);

// Broadcasts rank 0's parameters and buffers so that every replica starts identical.
void broadcast_initial_state(Communicator& comm, torch::nn::Module& model);

}  // namespace scalebench
