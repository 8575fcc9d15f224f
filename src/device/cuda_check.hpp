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
