#pragma once
// Faults on purpose, for the tests that prove scalebench survives them (tests/cli/test_faults.py).
// Set through the environment, not the command line, so that no user meets them in --help:
//   SCALEBENCH_TEST_INJECT=stall:RANK:STEP        rank RANK stops before step STEP and never
//                                                 enters a collective again (a stuck rank)
//   SCALEBENCH_TEST_INJECT=oom:RANK:STEP[:PHASE]  rank RANK fails an allocation in step STEP, in
//                                                 PHASE forward (default) or backward (after
//                                                 some gradient buckets have been launched)
//   SCALEBENCH_TEST_INJECT=skip:RANK:STEP         rank RANK's step counter jumps by one at STEP (a
//                                                 rank that lost count of the steps)
//   SCALEBENCH_TEST_INJECT=mismatch:RANK          rank RANK believes in one more step than the
//                                                 others (a rank that disagrees on the run)
//   SCALEBENCH_TEST_INJECT=hang:RANK:STEP         from step STEP, rank RANK's gradient collectives
//                                                 never report completion (as an NCCL kernel
//                                                 waiting for a lost peer; comm/hang_on_cue.hpp)
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace scalebench {

struct FaultInjection {
  enum class Kind { kNone, kStall, kOutOfMemory, kSkipStep, kMismatch, kHang };
  Kind kind = Kind::kNone;
  int rank = -1;
  std::int64_t step = -1;
  std::string phase;        // kOutOfMemory: forward | backward
  bool mine = false;        // this rank is the one to fail

  // Called by the step loop before each step; acts when it is this rank's turn (stall), and
  // remembers the step (hang).
  void before_step(std::int64_t current_step) const;
  // hang: whether this rank's collectives started now never complete.
  bool hangs_collectives() const;
  // Whether this rank should fail an allocation in `phase` of `current_step`.
  bool fails_allocation(std::int64_t current_step, const std::string& in_phase) const;
  // skip: how far this rank's step counter jumps after `current_step` (0 or 1).
  std::int64_t step_skew(std::int64_t current_step) const;
  // mismatch: steps this rank adds to the run's step count (0 or 1).
  std::int64_t extra_steps() const;

 private:
  // The step before_step() saw last; read by the hang cue, which may run on autograd's threads.
  std::shared_ptr<std::atomic<std::int64_t>> reached_ = std::make_shared<std::atomic<std::int64_t>>(-1);
};

// Throws UsageError for a malformed SCALEBENCH_TEST_INJECT.
FaultInjection fault_injection_from_env(int my_rank);

}  // namespace scalebench
