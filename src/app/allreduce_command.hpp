#pragma once
// `scalebench allreduce`: the allreduce bandwidth sweep of nccl-tests' all_reduce_perf, through
// the same Communicator the trainer uses (MPI on CPU, NCCL on CUDA), so that the bandwidth a
// training run gets per bucket can be compared with what the backend gives on its own.
#include <cstdint>
#include <string>

#include "comm/comm_options.hpp"
#include "runtime/world.hpp"

namespace CLI {
class App;
}

namespace scalebench {

struct AllreduceOptions {
  std::string min_bytes = "32M";  // sizes as typed; parsed (K/M/G suffixes) by run_allreduce
  std::string max_bytes = "32M";
  std::int64_t step_factor = 2;
  std::int64_t warmup_iters = 5;
  std::int64_t iters = 20;
  std::string device = "auto";   // cpu | cuda | auto
  std::string backend = "auto";  // auto | mpi | nccl
  std::string dtype = "float32";  // float32 | float64
  // Which ranks reduce together, one sweep each: "auto" or a list of intra (the ranks of each
  // node), inter (one rank per node), all. auto: all, and intra and inter first when there are
  // several nodes with several ranks each (so the network is seen beside shared memory).
  std::string scope = "auto";
  bool check = true;
  std::string output;  // HDF5 file; none when empty
  double comm_timeout_s = 300.0;
  double mpi_chunk_mb = kDefaultMpiChunkMb;  // as training's, so that both measure the same calls
  // Sweep every scope a second time (scope "<scope>+compute") with a ComputeLoad running on every
  // rank, on `compute_threads` intra-op threads: what a bucket gets while backward computes.
  bool beside_compute = false;
  std::int64_t compute_threads = 1;
  std::string command_line;
};

// Adds the subcommand and its options to `app`; the values land in `options` when parsed.
CLI::App* add_allreduce_subcommand(CLI::App& app, AllreduceOptions& options);

// Exit code: 0, or kExitFault when some element was wrong (after the table row and the file say
// so). Throws UsageError for bad options (agreed by every rank before any collective).
int run_allreduce(World& world, const AllreduceOptions& options);

}  // namespace scalebench
