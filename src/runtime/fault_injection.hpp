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
#include <cstdint>
#include <string>

namespace scalebench {

struct FaultInjection {
  enum class Kind { kNone, kStall, kOutOfMemory, kSkipStep, kMismatch };
  Kind kind = Kind::kNone;
  int rank = -1;
  std::int64_t step = -1;
  std::string phase;        // kOutOfMemory: forward | backward
  bool mine = false;        // this rank is the one to fail

  // Called by the step loop before each step; acts when it is this rank's turn (stall).
  void before_step(std::int64_t current_step) const;
  // Whether this rank should fail an allocation in `phase` of `current_step`.
  bool fails_allocation(std::int64_t current_step, const std::string& in_phase) const;
  // skip: how far this rank's step counter jumps after `current_step` (0 or 1).
  std::int64_t step_skew(std::int64_t current_step) const;
  // mismatch: steps this rank adds to the run's step count (0 or 1).
  std::int64_t extra_steps() const;
};

// Throws UsageError for a malformed SCALEBENCH_TEST_INJECT.
FaultInjection fault_injection_from_env(int my_rank);

}  // namespace scalebench
