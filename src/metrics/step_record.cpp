#include "metrics/step_record.hpp"

namespace scalebench {

const std::array<StepFieldInfo, kNumStepFields>& step_fields() {
  static const std::array<StepFieldInfo, kNumStepFields> fields = {{
      {"step", true, "1", "global step index, 0-based, warm-up included"},
      {"warmup", true, "1", "1 for a warm-up step (recorded, excluded from summaries)"},
      {"epoch", true, "1", "epoch the step belongs to, 0-based"},
      {"samples", true, "samples", "samples this rank processed in the step"},
      {"loss", false, "1", "this rank's mean training loss over its batch"},
      {"step_s", false, "s", "whole step, wall clock"},
      {"data_s", false, "s", "waiting for the next batch"},
      {"forward_s", false, "s", "forward pass and loss"},
      {"backward_s", false, "s", "autograd backward; bucket allreduces start inside it"},
      {"comm_exposed_s", false, "s",
       "after backward returned, waiting for the last bucket allreduce (communication not hidden)"},
      {"optimizer_s", false, "s", "optimizer update"},
      {"comm_busy_s", false, "s", "sum of the step's bucket allreduce durations"},
      {"bytes_reduced", true, "B", "gradient bytes this rank allreduced in the step"},
      {"cpu_s", false, "s", "process CPU time (user+sys, all threads) spent during the step"},
      {"peak_rss_bytes", true, "B", "peak resident host memory of the process so far (VmHWM)"},
      {"device_peak_allocated_bytes", true, "B",
       "CUDA caching allocator peak allocated bytes; -1 where not measured"},
      {"device_peak_reserved_bytes", true, "B",
       "CUDA caching allocator peak reserved bytes; -1 where not measured"},
      {"device_used_bytes", true, "B", "device memory in use (cudaMemGetInfo); -1 where not measured"},
      {"end_time_s", false, "s", "end of the step, seconds since the run started on this rank"},
      {"control_s", false, "s",
       "after the step, outside step_s: the ranks' agreement on stopping and on the step count (one "
       "small allreduce), the only per-step control traffic"},
      {"buffer_sync_s", false, "s",
       "broadcast of the model's floating-point buffers (BatchNorm running statistics) from rank 0, "
       "after data and before forward; 0 without buffers"},
      {"buffer_sync_bytes", true, "B",
       "bytes of model buffers this rank broadcast or received in the step's buffer sync"},
      {"wall_s", false, "s",
       "start of this step to the start of the next on this rank (the last step: to the end of its "
       "control agreement); the phases, control_s and other_s add up to it"},
      {"other_s", false, "s",
       "wall_s outside the phases and control_s: recording the previous step (gather, file writes), "
       "memory probes, progress output"},
      {"start_time_s", false, "s",
       "start of the step, the origin of its /buckets times, on this rank's run clock (as end_time_s); "
       "/ranks/clock_offset_* align it to rank 0's"},
  }};
  return fields;
}

void set_wall_time(StepRecord& record, double wall_s) {
  double accounted = record[StepField::kControlS];
  for (const StepField phase : kPhaseFields) accounted += record[phase];
  record[StepField::kWallS] = wall_s;
  record[StepField::kOtherS] = wall_s - accounted;
}

}  // namespace scalebench
