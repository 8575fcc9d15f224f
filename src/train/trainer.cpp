#include "train/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <new>

#include "device/device.hpp"
#include "metrics/process_stats.hpp"
#include "runtime/guarded_wait.hpp"
#include "runtime/memory_budget.hpp"
#include "train/evaluator.hpp"
#include "train/out_of_memory.hpp"

namespace scalebench {

Trainer::Trainer(TrainerParts parts) : p_(std::move(parts)), buffers_(floating_point_buffers(*p_.model)) {
  for (const auto& b : buffers_) buffer_bytes_ += static_cast<std::int64_t>(b.nbytes());
  // A test-injected failure in backward: thrown from the hook of the parameter whose gradient
  // comes last (the first layer's), when later layers' buckets have already been launched.
  if (p_.inject && p_.inject->kind == FaultInjection::Kind::kOutOfMemory && p_.inject->mine &&
      p_.inject->phase == "backward") {
    for (auto& param : p_.model->parameters()) {
      if (!param.requires_grad()) continue;
      const FaultInjection* inject = p_.inject;
      const std::int64_t* current = &current_step_;
      param.register_hook([inject, current](const torch::Tensor&) {
        if (inject->fails_allocation(*current, "backward")) throw std::bad_alloc();
      });
      break;
    }
  }
}

void Trainer::complete_collectives_after_failure(Stage reached, std::int64_t step) {
  // The other ranks are going through this step's collectives in order: buffer broadcast, then
  // every gradient bucket. This rank joins the ones it has not yet entered, in the same order.
  if (!p_.comm) return;
  if (reached < Stage::kBuffersShared && !buffers_.empty()) {
    Watchdog::Guard guard(p_.watchdog, step, "broadcast of model buffers (after running out of memory)");
    broadcast_tensors(*p_.comm, buffers_, 0);
  }
  if (p_.reducer && reached < Stage::kGradientsReduced) {
    if (reached < Stage::kBucketsArmed) p_.reducer->prepare_for_backward();
    // Gradients not produced are contributed as zeros; the step's update is skipped on this rank,
    // and the run stops after it on every rank.
    Watchdog::Guard guard(p_.watchdog, step, "allreduce of gradient buckets (after running out of memory)");
    p_.reducer->finish();
  }
}

StepRecord Trainer::step(std::int64_t step, bool warmup, std::int64_t epoch) {
  const double cpu_start = process_cpu_seconds();
  current_step_ = step;
  const auto origin = std::chrono::steady_clock::now();  // of the bucket times (ready, start)
  if (p_.comm) p_.comm->mark_step_start(origin);
  p_.clock->begin_step();

  Stage stage = Stage::kStart;
  const char* phase = "data";
  datasets::Batch batch;
  double loss_value = 0.0;
  try {
    batch = p_.data->batch(step);
    p_.clock->mark(Phase::kData);

    phase = "buffer broadcast";
    if (p_.comm && !buffers_.empty()) {
      Watchdog::Guard guard(p_.watchdog, step, "broadcast of model buffers");
      broadcast_tensors(*p_.comm, buffers_, 0);
    }
    // Its own phase: a blocking collective that also absorbs late ranks, never part of forward.
    p_.clock->mark(Phase::kBufferSync);
    stage = Stage::kBuffersShared;
    if (p_.reducer) {
      p_.reducer->prepare_for_backward();
    } else {
      for (auto& param : p_.model->parameters()) param.mutable_grad() = torch::Tensor();
    }
    stage = Stage::kBucketsArmed;

    phase = "forward";
    if (p_.inject && p_.inject->fails_allocation(step, "forward")) throw std::bad_alloc();
    const std::int64_t samples = batch.inputs.size(0);
    torch::Tensor loss;
    torch::Tensor correct;
    if (samples > 0) {
      // The study's loss, plus the penalties of its regularisers: Keras minimises (and reports) both.
      const torch::Tensor logits = p_.model->forward(batch.inputs);
      loss = p_.model->loss(logits, batch.targets);
      {
        torch::NoGradGuard no_grad;
        correct = predicted_classes(*p_.model, logits).eq(batch.targets).sum();
      }
      if (const torch::Tensor penalty = p_.model->regularization_loss(); penalty.defined()) loss = loss + penalty;
    } else {
      // An empty shard (an epoch's last, smaller global batch on more ranks than samples): this
      // rank still produces a gradient, zero, for every parameter, so that its buckets are
      // launched like everyone else's.
      loss = torch::zeros({}, torch::TensorOptions().device(p_.device));
      for (auto& param : p_.model->parameters()) {
        if (param.requires_grad()) loss = loss + (param * 0).sum();
      }
    }
    p_.clock->mark(Phase::kForward);

    phase = "backward";
    // The allreduce averages over ranks. When this step's global batch is split unevenly (its last
    // batch of an epoch), each rank's mean is weighted by its share, so that the average is the
    // mean over the global batch, as one rank with the whole batch would compute it.
    const int world = p_.comm ? p_.comm->size() : 1;
    const std::int64_t even = samples * world;
    if (p_.reducer && batch.global_samples > 0 && even != batch.global_samples) {
      (loss * (static_cast<double>(even) / static_cast<double>(batch.global_samples))).backward();
    } else {
      loss.backward();
    }
    p_.clock->mark(Phase::kBackward);

    phase = "gradient allreduce";
    if (p_.reducer) {
      Watchdog::Guard guard(p_.watchdog, step, "allreduce of gradient buckets");
      p_.reducer->finish();
    }
    stage = Stage::kGradientsReduced;
    p_.clock->mark(Phase::kCommWait);

    phase = "optimizer";
    p_.optimizer->step(step);
    p_.clock->mark(Phase::kOptimizer);
    // The host's only wait for the step's device work and collectives (on CUDA everything so far
    // was enqueued), guarded: after it nothing below blocks (loss.item(), the clock's events, the
    // buckets' timing), so a collective stuck on a dead peer ends the job within --comm-timeout.
    guarded_wait(p_.watchdog, step, "completion of the step's device work and gradient collectives",
                 {[this] { return p_.clock->completed() && (!p_.reducer || p_.reducer->collectives_completed()); },
                  [this] { return p_.comm ? p_.comm->async_error() : std::string(); }});
    loss_value = loss.item<double>();
    last_correct_ = correct.defined() ? correct.item<std::int64_t>() : 0;
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e)) throw;
    // Everything this step allocated is released by now (the exception unwound it), which leaves
    // room for the small buffers the remaining collectives need.
    const std::string what = e.what();
    complete_collectives_after_failure(stage, step);
    throw StepOutOfMemory(step, phase, what.substr(0, what.find('\n')));
  }

  const PhaseTimes times = p_.clock->resolve();

  StepRecord r;
  r[StepField::kStep] = static_cast<double>(step);
  r[StepField::kWarmup] = warmup ? 1.0 : 0.0;
  r[StepField::kEpoch] = static_cast<double>(epoch);
  r[StepField::kSamples] = static_cast<double>(batch.inputs.size(0));
  r[StepField::kLoss] = loss_value;
  r[StepField::kStepS] = times.step_s;
  r[StepField::kDataS] = times[Phase::kData];
  r[StepField::kBufferSyncS] = times[Phase::kBufferSync];
  r[StepField::kBufferSyncBytes] = p_.comm ? static_cast<double>(buffer_bytes_) : 0.0;
  r[StepField::kForwardS] = times[Phase::kForward];
  r[StepField::kBackwardS] = times[Phase::kBackward];
  r[StepField::kCommExposedS] = times[Phase::kCommWait];
  r[StepField::kOptimizerS] = times[Phase::kOptimizer];
  if (p_.reducer) {
    ReducerStepStats stats = p_.reducer->step_stats(origin);
    r[StepField::kCommBusyS] = stats.comm_busy_s;
    r[StepField::kBytesReduced] = static_cast<double>(stats.bytes_reduced);
    r.bucket_ready_s = std::move(stats.bucket_ready_s);
    r.bucket_start_s = std::move(stats.bucket_start_s);
    r.bucket_duration_s = std::move(stats.bucket_duration_s);
  }
  r[StepField::kCpuS] = process_cpu_seconds() - cpu_start;
  r[StepField::kPeakRssBytes] = static_cast<double>(peak_rss_bytes());
  device::DeviceMemory mem = device::memory(p_.device);
  if (!p_.device.is_cuda() && cpu_tensor_budget() > 0) {
    // Under a CPU tensor budget (--host-memory-limit) the counting allocator knows what a GPU's
    // caching allocator would: the peak of tensor bytes in use.
    mem.peak_allocated_bytes = cpu_tensor_peak_bytes();
  }
  r[StepField::kDevicePeakAllocatedBytes] = static_cast<double>(mem.peak_allocated_bytes);
  r[StepField::kDevicePeakReservedBytes] = static_cast<double>(mem.peak_reserved_bytes);
  r[StepField::kDeviceUsedBytes] = static_cast<double>(mem.used_bytes);
  r[StepField::kStartTimeS] = std::chrono::duration<double>(origin - p_.run_clock_origin).count();
  r[StepField::kEndTimeS] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - p_.run_clock_origin).count();
  return r;
}

std::vector<std::size_t> observe_gradient_order(models::Network& model, Reducer& reducer,
                                                const datasets::Batch& batch) {
  std::vector<torch::Tensor> buffers;
  std::vector<torch::Tensor> saved;
  for (auto& b : model.buffers()) {
    buffers.push_back(b);
    saved.push_back(b.clone());
  }
  at::Generator cpu_rng = at::detail::getDefaultCPUGenerator();
  const torch::Tensor rng_state = cpu_rng.get_state();  // dropout draws from it
  const auto restore = [&] {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
    cpu_rng.set_state(rng_state);
  };
  try {
    std::vector<std::size_t> order = reducer.observe_gradient_order([&] {
      const torch::Tensor logits = model.forward(batch.inputs);
      torch::Tensor loss = model.loss(logits, batch.targets);
      if (const torch::Tensor penalty = model.regularization_loss(); penalty.defined()) loss = loss + penalty;
      loss.backward();
    });
    restore();
    return order;
  } catch (...) {
    restore();
    throw;
  }
}

void broadcast_initial_state(Communicator& comm, torch::nn::Module& model) {
  std::vector<torch::Tensor> state;
  for (auto& p : model.parameters()) state.push_back(p);
  for (auto& b : model.buffers()) state.push_back(b);
  broadcast_tensors(comm, state, 0);
}

}  // namespace scalebench
