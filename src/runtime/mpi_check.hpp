#pragma once
// MPI_CHECK: every MPI call's return code is checked; a failure names the call, file:line, rank and
// host. The world communicator is set to MPI_ERRORS_RETURN so that codes reach us at all.
#include <mpi.h>

#include <string>

#include "core/errors.hpp"

#define MPI_CHECK(call)                                                                    \
  do {                                                                                     \
    const int mpi_check_rc_ = (call);                                                      \
    if (mpi_check_rc_ != MPI_SUCCESS) {                                                    \
      char mpi_check_msg_[MPI_MAX_ERROR_STRING];                                           \
      int mpi_check_len_ = 0;                                                              \
      MPI_Error_string(mpi_check_rc_, mpi_check_msg_, &mpi_check_len_);                    \
      ::scalebench::throw_call_failure("MPI", #call, __FILE__, __LINE__,                   \
                                       std::string(mpi_check_msg_, mpi_check_len_));       \
    }                                                                                      \
  } while (0)
