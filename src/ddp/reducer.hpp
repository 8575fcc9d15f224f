#pragma once
// Data-parallel gradient averaging: the part of PyTorch's DDP that LibTorch's C++ API lacks.
//
// A hook on every trainable parameter copies its gradient into the parameter's slot of a flat
// bucket buffer the moment autograd produces it. When a bucket is complete (and all buckets before
// it have been launched, so that every rank launches the same collectives in the same order), its
// allreduce starts at once and overlaps the rest of backward. After backward, finish() launches what
// is left, waits, and points every parameter's .grad at its averaged slot (no copy back). Where the
// backend offers it (Communicator::mean_prescale(): MPI on a power-of-two world), the hook's copy
// also multiplies by 1/N, so the backend only sums: the same bits, one pass over the buckets less
// on the communicator's thread (docs/performance.md, "Averaging folded into the bucket copy"). With
// overlap off, every allreduce starts only after backward: the baseline that shows what overlap
// hides. Frozen parameters (requires_grad false) take no part.
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "comm/communicator.hpp"
#include "ddp/bucket_plan.hpp"

namespace scalebench {

struct ReducerOptions {
  std::int64_t bucket_cap_bytes = 25LL * 1024 * 1024;
  bool overlap = true;
  // The first bucket's cap (DDP's first_bucket_bytes, 1 MiB there); <= 0: the same as the others.
  std::int64_t first_bucket_cap_bytes = 0;
};

struct ReducerStepStats {
  std::int64_t bytes_reduced = 0;
  double comm_busy_s = 0.0;
  // Per launched bucket, in plan order, relative to the step origin given to step_stats():
  std::vector<double> bucket_ready_s;     // its last gradient arrived (host clock, in the hook)
  std::vector<double> bucket_start_s;     // its allreduce started (Communicator::mark_step_start())
  std::vector<double> bucket_duration_s;
};

class Reducer {
 public:
  // `params`: the trainable parameters in registration order; all of one dtype and device.
  Reducer(std::vector<torch::Tensor> params, Communicator& comm, ReducerOptions options);
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  const BucketPlan& plan() const { return plan_; }
  // What the hooks multiply each gradient by as they copy it into its bucket (1: a plain copy).
  double gradient_prescale() const { return prescale_; }

  // Runs `forward_and_backward` (one pass the caller makes, before any step) with the hooks only
  // noting the order in which gradients arrive: no bucket is filled, no collective started.
  // Returns the parameters in that order; any that got no gradient follow in reverse registration
  // order. Leaves no gradient behind.
  std::vector<std::size_t> observe_gradient_order(const std::function<void()>& forward_and_backward);
  // Replaces the plan with one in `order` (every rank must pass the same: the plan is part of the
  // run identity) and the same caps. Not during a step.
  void rebuild(const std::vector<std::size_t>& order);

  // Before forward: forgets last step's gradients and bucket state.
  void prepare_for_backward();
  // After backward: launches the remaining buckets, waits for all, installs averaged gradients.
  void finish();
  // Never blocks: whether every collective launched this step has completed (after finish(); on
  // CUDA finish() only orders the default stream after them).
  bool collectives_completed();
  // Between steps only (not during backward): whether the next steps overlap (--overlap auto).
  void set_overlap(bool overlap);
  bool overlap() const { return options_.overlap; }
  // After finish(): what this step's communication cost (may wait for CUDA events). `origin`: the
  // host time given to the step's Communicator::mark_step_start(), the origin of the bucket times.
  ReducerStepStats step_stats(std::chrono::steady_clock::time_point origin);

 private:
  void on_gradient(std::size_t param, const torch::Tensor& grad);
  void allocate_buckets();  // flat buffers and per-bucket state for plan_
  void launch_ready_buckets_in_order();

  std::vector<torch::Tensor> params_;
  Communicator& comm_;
  ReducerOptions options_;
  double prescale_ = 1.0;  // comm_.mean_prescale(), fixed for the communicator's life
  torch::Tensor prescale_tensor_;  // the same, a 0-dim CPU tensor of the gradients' dtype
  BucketPlan plan_;
  std::vector<torch::Tensor> flat_;  // one buffer per bucket
  std::vector<unsigned> hooks_;      // each parameter's gradient hook, removed with the Reducer

  // Hooks may run on autograd's worker threads (CUDA); this guards the bucket state below.
  std::mutex mutex_;
  std::vector<std::int64_t> pending_;  // gradients still missing per bucket
  // When each bucket's last gradient arrived: on CUDA, when its hook ran on the host (the kernel
  // that produced it may still be queued), on CPU when it was computed.
  std::vector<std::chrono::steady_clock::time_point> ready_at_;
  std::vector<bool> param_done_;
  std::size_t next_to_launch_ = 0;
  std::vector<std::shared_ptr<Work>> works_;
  bool in_backward_ = false;
  bool observing_ = false;                  // observe_gradient_order() is running
  std::vector<std::size_t> observed_order_;
};

// How a run over `comm` averages gradients, for the run file's `gradient_mean` attribute.
std::string gradient_mean_description(const Communicator& comm);

// The module's floating-point buffers (BatchNorm running statistics): what rank 0 broadcasts before
// every forward, before evaluation and before the final checksum, as DDP does. Integer counters
// (num_batches_tracked) stay per rank.
std::vector<torch::Tensor> floating_point_buffers(torch::nn::Module& module);
// Every buffer, integer counters too (BatchNorm's num_batches_tracked): what must be rank 0's on
// every rank before the final checksum. A rank with an empty shard skips its forward, so its
// counter falls behind although every floating-point buffer is broadcast each step.
std::vector<torch::Tensor> model_buffers(torch::nn::Module& module);

// Overwrites `tensors` on every rank with root's values (coalesced into one flat buffer per call).
void broadcast_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root);

}  // namespace scalebench
