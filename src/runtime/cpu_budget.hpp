#pragma once
// Are the ranks oversubscribed? A rank's compute threads beyond the CPUs its host lets the ranks
// run on share cores, so its step times measure the sharing, not the machine (the main job's
// 4-rank point on a 2-core VM shows 45 % efficiency for exactly this reason). Decided per host
// from what /ranks records: the hostname and the CPU affinity list of every rank.
#include <set>
#include <string>
#include <vector>

namespace scalebench {

// "0-3,8" (as cpu_affinity_string() writes and the kernel's cpulist format) to {0,1,2,3,8};
// throws std::invalid_argument on anything else ("unknown" included).
std::set<int> parse_cpu_list(const std::string& list);

struct HostLoad {
  std::string host;
  int ranks = 0;             // ranks on the host
  int threads_per_rank = 0;  // compute (intra-op) threads each rank runs
  int cpus = 0;              // CPUs in the union of those ranks' affinity sets; 0 if unknown
  // Compute threads per CPU (ranks x threads / cpus); 0 if the CPUs are unknown.
  double load() const;
  bool oversubscribed() const { return cpus > 0 && ranks * threads_per_rank > cpus; }
};

// One entry per host, in order of first appearance; hostnames and affinities are per world rank.
std::vector<HostLoad> host_loads(const std::vector<std::string>& hostnames,
                                 const std::vector<std::string>& affinities, int threads_per_rank);

// The warning for the oversubscribed hosts ("" when none is), naming the worst ones.
std::string oversubscription_warning(const std::vector<HostLoad>& loads);

// The largest load over hosts (0 when no host's CPUs are known): recorded in the run file.
double max_host_load(const std::vector<HostLoad>& loads);

}  // namespace scalebench
