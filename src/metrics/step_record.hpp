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

struct StepRecord {
  std::array<double, kNumStepFields> values{};
  // Per bucket, in bucket order: start of its allreduce relative to the step's start, and its
  // duration, in seconds.
  std::vector<double> bucket_start_s;
  std::vector<double> bucket_duration_s;

  double& operator[](StepField f) { return values[static_cast<std::size_t>(f)]; }
  double operator[](StepField f) const { return values[static_cast<std::size_t>(f)]; }
};

}  // namespace scalebench
