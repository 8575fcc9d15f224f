#pragma once
// The one way scalebench's host waits for work it cannot see finish (a CUDA kernel, an NCCL
// collective, a collective of a test communicator that blocks on cue): poll a non-blocking
// predicate under the watchdog, and the backend's asynchronous error state between polls. A
// blocking driver call (cudaEventSynchronize, tensor.item() on a stream that waits for a stuck
// collective) would hang the rank where no watchdog looks; this wait is armed like every
// collective wait (--comm-timeout, the culprit named, the file marked, the job ended).
#include <functional>
#include <string>

#include "runtime/watchdog.hpp"

namespace scalebench {

struct WaitPolls {
  std::function<bool()> done;                // never blocks; true once the awaited work completed
  std::function<std::string()> async_error;  // never blocks; "" or what went wrong (may be empty)
};

// Returns once `polls.done()` is true. Throws CommFailure as soon as `polls.async_error()` reports
// something. `dog` may be null (no --comm-timeout): the wait is then unbounded, as the user asked.
// Costs nothing when the work has already completed (one call of done()); otherwise it backs off
// from yielding to sleeps of at most 200 us (at most 1/256 of the time waited so far), so a long
// wait for a GPU costs no core and adds at most that much after the work completed.
void guarded_wait(Watchdog* dog, long long step, const char* what, const WaitPolls& polls);

}  // namespace scalebench
