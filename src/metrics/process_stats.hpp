#pragma once
// Host-side probes of this process: CPU time, peak resident memory, affinity, CPU model. Cheap
// enough to read every step (one getrusage / clock_gettime each).
#include <cstdint>
#include <string>

namespace scalebench {

double process_cpu_seconds();          // user+sys of all threads since the process started
std::int64_t peak_rss_bytes();         // VmHWM: the high-water mark of resident memory
std::string cpu_affinity_string();     // the CPUs this process may run on, e.g. "0-3,8"
std::string host_cpu_model();          // "model name" of /proc/cpuinfo

}  // namespace scalebench
