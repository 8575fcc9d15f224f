#pragma once
// Test-only (SCALEBENCH_TEST_INJECT=hang:RANK:STEP): wraps a communicator so that, once `cue()`
// says so, every collective it starts moves the data as usual but never reports completion, as an
// NCCL collective does whose kernel waits for a peer that is gone: the call that enqueued it
// returned, Work::wait() (stream ordering) returned, and only a host that polls completed() can
// notice. It lets CI prove on a CPU that the trainer's one guarded wait (runtime/guarded_wait.hpp)
// covers a backend whose collectives finish asynchronously.
#include <functional>
#include <memory>

#include "comm/communicator.hpp"

namespace scalebench {

std::unique_ptr<Communicator> hang_on_cue(std::unique_ptr<Communicator> inner, std::function<bool()> cue);

}  // namespace scalebench
