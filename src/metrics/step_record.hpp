#pragma once
// What one rank records about one training step. The fields are a fixed, ordered table so that a
// record packs into a flat array of doubles (one MPI_Gather moves many steps of every rank) and
// each field maps straight onto one dataset /steps/<name> of the run file.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace scalebench {

enum class StepField : std::size_t {
  kStep = 0,          // global step index, 0-based, warm-up included
  kWarmup,            // 1 for warm-up steps (recorded, flagged, excluded from summaries)
  kEpoch,             // epoch the step belongs to
  kSamples,           // samples this rank processed in the step
  kLoss,              // this rank's mean loss over its batch
  kStepS,             // whole step, wall clock (CUDA: closed by an event)
  kDataS,             // waiting for the batch
  kForwardS,          // forward + loss
  kBackwardS,         // autograd backward (bucket allreduces start from inside it)
  kCommExposedS,      // after backward: waiting for the last bucket = communication not hidden
  kOptimizerS,        // parameter update
  kCommBusyS,         // sum of this step's bucket allreduce durations
  kBytesReduced,      // gradient bytes this rank allreduced in the step
  kCpuS,              // process CPU time (user+sys) spent during the step, all threads
  kPeakRssBytes,      // peak resident host memory of the process so far (VmHWM)
  kDevicePeakAllocatedBytes,  // CUDA caching allocator peak allocated; -1 where not measured
  kDevicePeakReservedBytes,   // CUDA caching allocator peak reserved; -1 where not measured
  kDeviceUsedBytes,           // device memory in use (cudaMemGetInfo); -1 where not measured
  kEndTimeS,          // end of the step, seconds since the run's start on this rank
  kControlS,          // after the step: the agreement on stopping (one small allreduce), not in step_s
  kBufferSyncS,       // broadcast of model buffers (BatchNorm statistics) from rank 0, before forward
  kBufferSyncBytes,   // bytes of buffers broadcast in it
  kWallS,             // start of this step to the start of the next (its share of the run's wall clock)
  kOtherS,            // wall_s outside the phases and control_s (recording, probes, progress)
  kStartTimeS,        // start of the step (origin of its bucket times) on this rank's run clock
  kCount
};

constexpr std::size_t kNumStepFields = static_cast<std::size_t>(StepField::kCount);

struct StepFieldInfo {
  const char* name;   // dataset name under /steps
  bool is_integer;    // stored as int64 (else float64)
  const char* unit;   // HDF5 attribute "unit"
  const char* doc;    // HDF5 attribute "description"
};

// Same order as StepField.
const std::array<StepFieldInfo, kNumStepFields>& step_fields();

// The timed phases of a step, in the order they run; step_s spans them.
constexpr std::array<StepField, 6> kPhaseFields = {StepField::kDataS,     StepField::kBufferSyncS,
                                                   StepField::kForwardS,    StepField::kBackwardS,
                                                   StepField::kCommExposedS, StepField::kOptimizerS};

struct StepRecord {
  std::array<double, kNumStepFields> values{};
  // Per bucket, in bucket order, relative to the step's start (start_time_s), in seconds: when its
  // last gradient arrived, when its allreduce started, and how long that took.
  std::vector<double> bucket_ready_s;
  std::vector<double> bucket_start_s;
  std::vector<double> bucket_duration_s;

  double& operator[](StepField f) { return values[static_cast<std::size_t>(f)]; }
  double operator[](StepField f) const { return values[static_cast<std::size_t>(f)]; }
};

// Closes a record's share of the wall clock: wall_s, and other_s = wall_s - phases - control_s.
void set_wall_time(StepRecord& record, double wall_s);

}  // namespace scalebench
