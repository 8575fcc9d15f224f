#pragma once
// Host-side probes of this process: CPU time, peak resident memory, affinity, CPU model. Cheap
// enough to read every step (one getrusage / clock_gettime each).
#include <cstdint>
#include <string>

namespace scalebench {

double process_cpu_seconds();          // user+sys of all threads since the process started
std::int64_t peak_rss_bytes();         // VmHWM: the high-water mark of resident memory
// Resets VmHWM to the current resident size (Linux: "5" to /proc/self/clear_refs), so that a
// later peak_rss_bytes() is the peak since now: --find-max-batch measures each candidate apart.
// False where the kernel does not allow it (the peak then stays the process's).
bool reset_peak_rss();
std::string cpu_affinity_string();     // the CPUs this process may run on, e.g. "0-3,8"
std::string host_cpu_model();          // "model name" of /proc/cpuinfo

}  // namespace scalebench
