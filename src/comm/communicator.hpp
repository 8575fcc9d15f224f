#pragma once
// The data-plane collectives the trainer and reducer need, on tensors. Two implementations:
// MPI (CPU tensors; CUDA tensors staged through host memory) and NCCL (CUDA tensors on its own
// stream). The trainer never sees which: it speaks to this interface.
#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "comm/comm_options.hpp"

namespace scalebench {

// What allreduce_mean_async gets: each rank's own values, or those already multiplied by
// Communicator::mean_prescale(), to be summed only.
enum class MeanInputs { kRaw, kPrescaled };

// When an allreduce ran, relative to the last Communicator::mark_step_start().
struct CollectiveTiming {
  double start_s = 0.0;
  double duration_s = 0.0;
};

// One collective in flight. wait() returns once the result may be used by later work on the
// trainer's stream (on CPU: the data is final; on CUDA: the default stream is ordered after it,
// and the collective may still be running: that wait is the host's later, in guarded_wait()).
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  // Never blocks: whether the collective has completed (on CUDA: its end event). A host that must
  // wait for a collective polls this under the watchdog (runtime/guarded_wait.hpp), never a
  // blocking driver call, so that a collective stuck on a dead peer cannot hang it unwatched.
  virtual bool completed() = 0;
  // Valid after wait(); does not block once completed() is true.
  virtual CollectiveTiming timing() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string backend() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Starts an in-place allreduce that leaves the mean over ranks in `tensor` (contiguous). Every
  // rank must start the same collectives in the same order. kPrescaled: the caller has already
  // multiplied its data by mean_prescale() (every rank alike), so the backend only sums.
  virtual std::shared_ptr<Work> allreduce_mean_async(torch::Tensor tensor, MeanInputs inputs) = 0;
  // A factor other than 1 where the caller may fold the mean's division into a copy it makes anyway
  // (the reducer's copy of each gradient into its bucket) and pass kPrescaled: the backend then only
  // sums, and a pass over every byte on the communicator's thread goes. The MPI backend offers
  // 1/size() where size() is a power of two: scaling by a power of two is exact, so the prescaled
  // sum has the same bits as the sum divided after (but where a scaled value would be subnormal,
  // below 2^-126 x size in float32, or where the unscaled sum would overflow). 1: the backend
  // divides itself (MPI, other sizes: on its thread, slice by slice) or averages (NCCL: ncclAvg).
  virtual double mean_prescale() const { return 1.0; }
  // Blocking broadcast of a contiguous tensor from `root`.
  virtual void broadcast(torch::Tensor tensor, int root) = 0;
  // Origin for CollectiveTiming::start_s of the collectives that follow. `host_origin` is the
  // caller's own reading of the host clock, so that host-clock times it takes against the same
  // origin (a bucket's ready time) and start_s share one zero: two separate clock reads can be
  // milliseconds apart when the thread is preempted between them. A device backend that times on
  // the device records its own origin there instead.
  virtual void mark_step_start(std::chrono::steady_clock::time_point host_origin) = 0;
  // Called by the watchdog before it ends the job (NCCL: abort the communicator so no kernel waits
  // forever). Must be safe to call from another thread.
  virtual void abort() noexcept {}
  // Never blocks: "" or what went wrong asynchronously, after the call that started it returned
  // (NCCL: ncclCommGetAsyncError, e.g. a peer's connection lost). Polled by every guarded wait.
  virtual std::string async_error() { return ""; }
};

enum class BackendChoice { kAuto, kMpi, kNccl };

// Which ranks a communicator joins (runtime::World knows the groups): every rank (training),
// the ranks of this rank's node (what shared memory or NVLink gives), or one rank per node (what
// the network between nodes gives).
enum class CommGroup { kWorld, kNode, kAcrossNodes };
const char* comm_group_name(CommGroup group);  // "all", "intra", "inter"

// Picks the implementation for the device: NCCL for CUDA tensors when built with it (and not
// overridden), MPI otherwise. Throws UsageError for a combination that cannot work. Collective
// over the ranks of `group`; returns null on a rank outside it (kAcrossNodes: every rank but its
// node's local rank 0).
std::unique_ptr<Communicator> make_communicator(BackendChoice choice, const torch::Device& device,
                                                const CommOptions& options = {},
                                                CommGroup group = CommGroup::kWorld);

// Whether this build has the NCCL backend, and its version ("" if not).
bool nccl_compiled_in();
std::string nccl_version();

}  // namespace scalebench
