#pragma once
// Tuning of the communication backends, from the command line. No torch, no MPI: the run
// configuration and the allreduce command share the defaults from here.
#include <cstdint>

namespace scalebench {

// --mpi-chunk-mb's default, for training and `scalebench allreduce` alike (so both measure the
// same calls).
constexpr double kDefaultMpiChunkMb = 4.0;

struct CommOptions {
  // MPI backend: a bucket is reduced in slices of at most this many bytes (0: one call per
  // bucket). Open MPI over shared memory reduces a few MiB at a time 1.5-2.6x faster than one
  // call of hundreds of MiB (docs/performance.md), and each slice's averaging pass then runs while
  // the slice is still in cache.
  std::int64_t mpi_chunk_bytes = static_cast<std::int64_t>(kDefaultMpiChunkMb * 1048576.0);

  // From --mpi-chunk-mb (MiB, validated by the caller).
  static CommOptions from_mpi_chunk_mb(double mib) {
    CommOptions o;
    o.mpi_chunk_bytes = static_cast<std::int64_t>(mib * 1048576.0);
    return o;
  }
};

}  // namespace scalebench
