#include "train/trainer.hpp"

#include "device/device.hpp"
#include "metrics/process_stats.hpp"

namespace scalebench {

Trainer::Trainer(TrainerParts parts) : p_(std::move(parts)) {
  for (auto& b : p_.model->buffers()) {
    if (b.is_floating_point()) buffers_.push_back(b);
  }
}

StepRecord Trainer::step(std::int64_t step, bool warmup, std::int64_t epoch) {
  const double cpu_start = process_cpu_seconds();
  if (p_.comm) p_.comm->mark_step_start();
  p_.clock->begin_step();

  datasets::Batch batch = p_.data->batch(step);
  p_.clock->mark(Phase::kData);

  if (p_.comm && !buffers_.empty()) {
    Watchdog::Guard guard(p_.watchdog, step, "broadcast of model buffers");
    broadcast_tensors(*p_.comm, buffers_, 0);
  }
  if (p_.reducer) {
    p_.reducer->prepare_for_backward();
  } else {
    for (auto& param : p_.model->parameters()) param.mutable_grad() = torch::Tensor();
  }
  // The study's loss, plus the penalties of its regularisers: Keras minimises (and reports) both.
  torch::Tensor loss = p_.model->loss(p_.model->forward(batch.inputs), batch.targets);
  if (const torch::Tensor penalty = p_.model->regularization_loss(); penalty.defined()) loss = loss + penalty;
  p_.clock->mark(Phase::kForward);

  loss.backward();
  p_.clock->mark(Phase::kBackward);

  if (p_.reducer) {
    Watchdog::Guard guard(p_.watchdog, step, "allreduce of gradient buckets");
    p_.reducer->finish();
  }
  p_.clock->mark(Phase::kCommWait);

  p_.optimizer->step(step);
  p_.clock->mark(Phase::kOptimizer);

  const double loss_value = loss.item<double>();
  const PhaseTimes times = p_.clock->resolve();

  StepRecord r;
  r[StepField::kStep] = static_cast<double>(step);
  r[StepField::kWarmup] = warmup ? 1.0 : 0.0;
  r[StepField::kEpoch] = static_cast<double>(epoch);
  r[StepField::kSamples] = static_cast<double>(batch.inputs.size(0));
  r[StepField::kLoss] = loss_value;
  r[StepField::kStepS] = times.step_s;
  r[StepField::kDataS] = times[Phase::kData];
  r[StepField::kForwardS] = times[Phase::kForward];
  r[StepField::kBackwardS] = times[Phase::kBackward];
  r[StepField::kCommExposedS] = times[Phase::kCommWait];
  r[StepField::kOptimizerS] = times[Phase::kOptimizer];
  if (p_.reducer) {
    ReducerStepStats stats = p_.reducer->step_stats();
    r[StepField::kCommBusyS] = stats.comm_busy_s;
    r[StepField::kBytesReduced] = static_cast<double>(stats.bytes_reduced);
    r.bucket_start_s = std::move(stats.bucket_start_s);
    r.bucket_duration_s = std::move(stats.bucket_duration_s);
  }
  r[StepField::kCpuS] = process_cpu_seconds() - cpu_start;
  r[StepField::kPeakRssBytes] = static_cast<double>(peak_rss_bytes());
  const device::DeviceMemory mem = device::memory(p_.device);
  r[StepField::kDevicePeakAllocatedBytes] = static_cast<double>(mem.peak_allocated_bytes);
  r[StepField::kDevicePeakReservedBytes] = static_cast<double>(mem.peak_reserved_bytes);
  r[StepField::kDeviceUsedBytes] = static_cast<double>(mem.used_bytes);
  r[StepField::kEndTimeS] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start_).count();
  return r;
}

void broadcast_initial_state(Communicator& comm, torch::nn::Module& model) {
  std::vector<torch::Tensor> state;
  for (auto& p : model.parameters()) state.push_back(p);
  for (auto& b : model.buffers()) state.push_back(b);
  broadcast_tensors(comm, state, 0);
}

}  // namespace scalebench
