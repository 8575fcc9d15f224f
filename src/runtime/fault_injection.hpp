#pragma once
// Faults on purpose, for the tests that prove scalebench survives them (tests/cli/test_faults.py).
// Set through the environment, not the command line, so that no user meets them in --help:
//   SCALEBENCH_TEST_INJECT=stall:RANK:STEP   rank RANK stops before step STEP and never enters a
//                                            collective again (a stuck rank)
#include <cstdint>
#include <string>

namespace scalebench {

struct FaultInjection {
  enum class Kind { kNone, kStall };
  Kind kind = Kind::kNone;
  int rank = -1;
  std::int64_t step = -1;
  bool mine = false;  // this rank is the one to fail

  // Called by the step loop before each step; acts when it is this rank's turn.
  void before_step(std::int64_t current_step) const;
};

// Throws UsageError for a malformed SCALEBENCH_TEST_INJECT.
FaultInjection fault_injection_from_env(int my_rank);

}  // namespace scalebench
