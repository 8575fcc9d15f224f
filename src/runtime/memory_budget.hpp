#pragma once
// A memory budget for CPU ranks. On a GPU, a batch that does not fit fails with a catchable "out
// of memory" from torch's caching allocator; on a Linux host it would be the kernel's OOM killer,
// which ends the whole job (and bothers the machine's other users). With a budget, LibTorch's CPU
// allocator is replaced by one that counts the bytes of every tensor (parameters, gradients,
// activations, optimizer state) and refuses an allocation that would exceed the budget with
// c10::OutOfMemoryError, exactly as a GPU of that size would: scalebench then records the run as
// `oom`, and --find-max-batch can search the largest batch a CPU rank holds.
//
// (A limit on the address space, setrlimit(RLIMIT_AS), was tried first: libraries that do not
// check malloc's result then crash inside convolution backward instead of failing cleanly.)
#include <cstdint>

namespace scalebench {

// The same allocator can cache large blocks (enable_cpu_block_cache, scalebench's default): a
// freed block of 1 MiB or more is kept and handed to the next request of exactly its size, as
// torch's CUDA caching allocator does on a GPU. Without it, glibc maps every large tensor afresh
// and unmaps it when freed, so a model with large layers faults in (and the kernel zeroes) every
// page of its gradients and activations every step: on fcn_s (two 219 MB layers), 1 rank, the
// cache took the step from 0.52 to 0.28 s (docs/performance.md). The cache holds at most the largest number of
// bytes ever in use at once, and is given back before a budget refuses an allocation.

// Installs the counting allocator (once per process; later calls change the budget) with a budget
// of `budget_bytes` of tensor memory in use at any time on this rank. Tensors allocated before the
// first call are not counted: call it before the model is built.
void set_cpu_tensor_budget(std::uint64_t budget_bytes);
// Installs the allocator (if not yet) and turns on its cache of large blocks. Call it before the
// model is built; tensors allocated before keep LibTorch's allocator.
void enable_cpu_block_cache();
bool cpu_block_cache_enabled();
std::int64_t cpu_cached_bytes();  // free bytes held by the cache now
// Frees every cached block (between --find-max-batch candidates, so one's blocks do not count
// against the next one's budget or RSS).
void release_cpu_block_cache();
// Bytes of CPU tensors in use now (cached free blocks excluded), and the most in use since the last
// reset; -1 when the allocator is not installed.
std::int64_t cpu_tensor_bytes_in_use();
std::int64_t cpu_tensor_peak_bytes();
void reset_cpu_tensor_peak();
std::uint64_t cpu_tensor_budget();  // 0 when not installed

// MemAvailable of /proc/meminfo: what the host can still give without swapping.
std::uint64_t host_available_memory_bytes();

}  // namespace scalebench
