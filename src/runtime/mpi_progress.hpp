#pragma once
// How a rank waits inside a blocking MPI call: spinning on the core, or yielding it between polls.
//
// Open MPI polls its transports in a tight loop inside every blocking call unless
// mpi_yield_when_idle is set, and sets it by itself only when it knows a node is oversubscribed
// (more processes than slots). It cannot know that a scalebench rank has two busy threads: the
// communicator thread waiting inside MPI_Allreduce for the other ranks, and backward computing
// the next gradients, on one core (CPU runs, one core per rank). Spinning there takes half of the
// core from backward for as long as the wait lasts (fcn_s, 2 ranks x 1 thread: backward 0.38 s
// with overlap against 0.27 s without; 0.29 s with yielding, docs/performance.md). So scalebench
// makes yielding its default before MPI starts; a caller's own setting is kept.
#include <string>

namespace scalebench {

// Before MPI_Init: sets OMPI_MCA_mpi_yield_when_idle=1 unless the environment already has it
// (an Open MPI setting: other MPI libraries ignore the variable). Call once, before any thread.
void choose_mpi_progress_before_init();

// What choose_mpi_progress_before_init found and left: "yield (scalebench's default, ...)",
// "spin (OMPI_MCA_mpi_yield_when_idle=0 from the environment)", ... For the log and the run file.
std::string mpi_progress_description();

}  // namespace scalebench
