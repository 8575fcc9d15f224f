#pragma once
// CUDA_CHECK: every CUDA runtime call's return code is checked; a failure names the call,
// file:line, rank and host. Only files compiled into CUDA builds include this.
#include <cuda_runtime_api.h>

#include "core/errors.hpp"

#define CUDA_CHECK(call)                                                                     \
  do {                                                                                       \
    const cudaError_t cuda_check_rc_ = (call);                                               \
    if (cuda_check_rc_ != cudaSuccess) {                                                     \
      ::scalebench::throw_call_failure("CUDA", #call, __FILE__, __LINE__,                    \
                                       cudaGetErrorString(cuda_check_rc_));                  \
    }                                                                                        \
  } while (0)

namespace scalebench {
// Never blocks: whether `event` has completed (cudaEventQuery); any error but "not ready" throws
// as CUDA_CHECK does. What a guarded host wait polls (runtime/guarded_wait.hpp).
inline bool cuda_event_completed(cudaEvent_t event) {
  const cudaError_t rc = cudaEventQuery(event);
  if (rc == cudaErrorNotReady) return false;
  CUDA_CHECK(rc);
  return true;
}
}  // namespace scalebench
