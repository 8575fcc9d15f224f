#pragma once
// The layout of a `scalebench allreduce` result file (docs/hdf5-layout.md describes it for
// readers). Only rank 0 writes it; this class knows nothing of MPI or torch. One row of the /sizes
// table per scope and message size, appended as each completes, and its per-iteration, per-rank
// times as /iterations/<scope>/<bytes>.
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "io/h5.hpp"

namespace scalebench::io {

// Root attribute "format": tells an allreduce file from a run file or any other HDF5 file.
inline constexpr char kAllreduceFormatName[] = "scalebench-allreduce";
// Bumped on any change a reader of the previous version would misread. 2: rows per scope (within
// each node, across nodes, all ranks); iterations moved from /iterations/<bytes> to
// /iterations/<scope>/<bytes>.
constexpr std::int64_t kAllreduceSchemaVersion = 2;

// One message size's outcome, as rank 0 computed it from every rank's times.
struct AllreduceSizeResult {
  std::string scope = "all";  // "intra" (within each node), "inter" (one rank per node), "all"
  std::int64_t group_size = 0;  // ranks in one collective (the largest group, for intra)
  std::int64_t groups = 1;      // collectives run side by side (intra: one per node)
  std::uint64_t bytes = 0;
  std::uint64_t count = 0;    // elements per rank
  double time_s = 0;          // median over iterations of the slowest taking part rank's time
  double algbw_gbps = 0;      // bytes / time_s / 1e9
  double busbw_gbps = 0;      // algbw * 2 (n - 1) / n, n = group_size
  std::int64_t wrong = -1;    // elements off the known mean, summed over ranks; -1: not checked
  double max_error = -1;      // largest |result - expected| on any rank; -1: not checked
  // "<scope>+compute" rows: the compute load's share of a core while this size's timed iterations
  // ran over its share alone, median over ranks; NaN on plain rows.
  double compute_rate = std::numeric_limits<double>::quiet_NaN();
  // iters * world_size seconds, iteration-major: times[i * world_size + r] is rank r's i-th; NaN
  // for a rank that took no part (inter: every rank but each node's first).
  std::vector<double> times_s;
};

class AllreduceFile {
 public:
  // Creates `path` (fails if it exists: the caller writes under a temporary name and renames it
  // when complete) with format, schema_version, status="running", the empty /sizes table and the
  // /iterations group.
  static AllreduceFile create(const std::string& path, int world_size);

  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, std::int64_t value);
  void set_attr(const std::string& name, double value);
  template <class T, class = std::enable_if_t<std::is_integral_v<T>>>
  void set_attr(const std::string& name, T value) {
    set_attr(name, static_cast<std::int64_t>(value));
  }
  // /ranks/hostname, one per rank.
  void write_hostnames(const std::vector<std::string>& hostnames);

  // Appends a row to /sizes and writes /iterations/<scope>/<bytes> [iters, world_size]; flushes,
  // so the file on disk holds every completed size.
  void append_size(const AllreduceSizeResult& result);

  // Flushes and closes; idempotent.
  void close();

 private:
  AllreduceFile(std::string path, int world_size) noexcept;
  h5::File& file();

  std::string path_;
  int world_size_;
  h5::File file_;  // declared first: destroyed after the datasets that keep it open
  h5::Dataset scope_, group_size_, groups_, bytes_, count_, time_s_, algbw_, busbw_, wrong_, max_error_, compute_rate_;
};

}  // namespace scalebench::io
