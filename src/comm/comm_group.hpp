#pragma once
// The MPI communicator behind a CommGroup, for the two factories (with and without NCCL).
#include <mpi.h>

#include "comm/communicator.hpp"

namespace scalebench {

// MPI_COMM_NULL on a rank that is not part of `group`.
MPI_Comm mpi_comm_of(CommGroup group);

}  // namespace scalebench
