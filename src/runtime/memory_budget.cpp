#include "runtime/memory_budget.hpp"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace scalebench {
namespace {

// Each block carries its size in a header in front of the data, so that the deleter (a plain
// function, as c10 requires for raw_deleter) can give the bytes back to the count and the block
// to the cache. 64 bytes keep the data at c10's 64-byte alignment.
constexpr std::size_t kHeader = 64;
// Blocks of at least this size are cached. glibc serves such blocks (above its mmap threshold,
// 128 KiB to 32 MiB) with mmap and returns them with munmap; a gradient or activation of a few
// hundred MB is then faulted in page by page, zeroed by the kernel, every step.
constexpr std::size_t kCacheMinBytes = std::size_t{1} << 20;

std::atomic<std::int64_t> g_in_use{0};
std::atomic<std::int64_t> g_peak{0};
std::atomic<std::int64_t> g_high_water{0};  // of g_in_use since install, never reset: the cache cap
std::atomic<std::uint64_t> g_budget{0};
std::atomic<bool> g_installed{false};
std::atomic<bool> g_caching{false};

// Free blocks (header included) by exact data size. A training step asks for the same sizes
// every step, so exact sizes match; a block is never split, so it keeps its pages.
struct BlockCache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_by_size;
  std::int64_t bytes = 0;
};
// Leaked: tensors may be freed during exit, after static destructors ran.
BlockCache& block_cache() {
  static auto* cache = new BlockCache;
  return *cache;
}

std::string mib(double bytes) { return std::to_string(static_cast<long long>(bytes / 1048576.0)) + " MiB"; }

void free_counted(void* data) {
  if (data == nullptr) return;
  char* block = static_cast<char*>(data) - kHeader;
  const auto size = *reinterpret_cast<std::size_t*>(block);
  g_in_use.fetch_sub(static_cast<std::int64_t>(size));
  if (g_caching.load(std::memory_order_relaxed) && size >= kCacheMinBytes) {
    BlockCache& cache = block_cache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    // At most one working set (the largest in use so far) is held free: a run whose sizes keep
    // changing (a batch search) cannot grow the cache beyond what it once needed in use.
    if (cache.bytes + static_cast<std::int64_t>(size) <= g_high_water.load()) {
      cache.free_by_size[size].push_back(block);
      cache.bytes += static_cast<std::int64_t>(size);
      return;
    }
  }
  c10::free_cpu(block);
}

void* take_cached(std::size_t n) {
  BlockCache& cache = block_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  const auto it = cache.free_by_size.find(n);
  if (it == cache.free_by_size.end() || it->second.empty()) return nullptr;
  void* block = it->second.back();
  it->second.pop_back();
  cache.bytes -= static_cast<std::int64_t>(n);
  return block;
}

std::int64_t cached_bytes() {
  BlockCache& cache = block_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  return cache.bytes;
}

void release_cache() {
  std::unordered_map<std::size_t, std::vector<void*>> blocks;
  {
    BlockCache& cache = block_cache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    blocks.swap(cache.free_by_size);
    cache.bytes = 0;
  }
  for (auto& entry : blocks) {
    for (void* block : entry.second) c10::free_cpu(block);
  }
}

// c10::Allocator's interface changed in LibTorch 2.3: allocate() is no longer const, and
// copy_data() is a new pure virtual. Both versions are built (Debian's 1.13, pip's 2.x).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define SCALEBENCH_ALLOCATE_CONST
#define SCALEBENCH_ALLOCATOR_HAS_COPY_DATA 1
#else
#define SCALEBENCH_ALLOCATE_CONST const
#define SCALEBENCH_ALLOCATOR_HAS_COPY_DATA 0
#endif

class ScalebenchCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) SCALEBENCH_ALLOCATE_CONST override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &free_counted, cpu};
    const auto bytes = static_cast<std::int64_t>(n);
    const std::int64_t now = g_in_use.fetch_add(bytes) + bytes;
    const auto budget = static_cast<std::int64_t>(g_budget.load());
    // The budget stands for a device's memory: free cached blocks count against it, and are given
    // back before an allocation is refused (as torch's CUDA caching allocator does).
    if (budget > 0 && now + cached_bytes() > budget) release_cache();
    if (budget > 0 && now > budget) {
      g_in_use.fetch_sub(bytes);
      C10_THROW_ERROR(OutOfMemoryError,
                      "out of memory: CPU tensor budget exceeded (tried to allocate " + mib(bytes) +
                          " with " + mib(static_cast<double>(now - bytes)) + " in use of the " +
                          mib(static_cast<double>(budget)) + " budget, --host-memory-limit)");
    }
    void* block = g_caching.load(std::memory_order_relaxed) && n >= kCacheMinBytes ? take_cached(n) : nullptr;
    if (block == nullptr) {
      try {
        block = c10::alloc_cpu(n + kHeader);
      } catch (...) {
        g_in_use.fetch_sub(bytes);
        throw;
      }
      *static_cast<std::size_t*>(block) = n;
    }
    for (auto* mark : {&g_peak, &g_high_water}) {
      std::int64_t seen = mark->load();
      while (now > seen && !mark->compare_exchange_weak(seen, now)) {
      }
    }
    void* data = static_cast<char*>(block) + kHeader;
    return {data, data, &free_counted, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &free_counted; }
#if SCALEBENCH_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif
};

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    static ScalebenchCpuAllocator allocator;
    // Priority above the default allocator's, so that LibTorch's registration cannot undo it.
    c10::SetCPUAllocator(&allocator, /*priority=*/10);
    g_installed.store(true);
  });
}

}  // namespace

void set_cpu_tensor_budget(std::uint64_t budget_bytes) {
  g_budget.store(budget_bytes);
  install_once();
}

void enable_cpu_block_cache() {
  g_caching.store(true);
  install_once();
}

bool cpu_block_cache_enabled() { return g_caching.load(); }
std::int64_t cpu_cached_bytes() { return cached_bytes(); }
void release_cpu_block_cache() { release_cache(); }

std::int64_t cpu_tensor_bytes_in_use() { return g_installed.load() ? g_in_use.load() : -1; }
std::int64_t cpu_tensor_peak_bytes() { return g_installed.load() ? g_peak.load() : -1; }
void reset_cpu_tensor_peak() { g_peak.store(g_in_use.load()); }
std::uint64_t cpu_tensor_budget() { return g_installed.load() ? g_budget.load() : 0; }

std::uint64_t host_available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("MemAvailable:", 0) == 0) return std::stoull(line.substr(13)) * 1024;  // kB
  }
  throw std::runtime_error("cannot read MemAvailable from /proc/meminfo");
}

}  // namespace scalebench
