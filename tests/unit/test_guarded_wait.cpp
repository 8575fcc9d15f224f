// guarded_wait: the host's one way to wait for work it cannot see finish. Returns when the work is
// done, reports the backend's asynchronous error as a CommFailure (exit 3) instead of waiting on,
// and costs one poll when the work was already done. (Its watchdog path is proven end to end by
// tests/cli/test_faults.py with SCALEBENCH_TEST_INJECT=hang:RANK:STEP.)
#include <gtest/gtest.h>

#include <string>

#include "core/errors.hpp"
#include "runtime/guarded_wait.hpp"

namespace scalebench {
namespace {

TEST(GuardedWait, DoneWorkCostsOnePoll) {
  int polls = 0;
  guarded_wait(nullptr, 0, "test", {[&] { return ++polls > 0; }, nullptr});
  EXPECT_EQ(polls, 1);
}

TEST(GuardedWait, WaitsUntilTheWorkCompletes) {
  int polls = 0;
  guarded_wait(nullptr, 0, "test", {[&] { return ++polls >= 500; }, [] { return std::string(); }});
  EXPECT_EQ(polls, 500);  // past the yielding polls, into the sleeping ones
}

TEST(GuardedWait, AnAsynchronousErrorEndsTheWait) {
  int polls = 0;
  try {
    guarded_wait(nullptr, 7, "completion of the step's collectives",
                 {[] { return false; }, [&] { return ++polls >= 100 ? std::string("peer connection lost") : std::string(); }});
    FAIL() << "the wait did not end";
  } catch (const CommFailure& e) {
    EXPECT_EQ(std::string(e.what()), "completion of the step's collectives: peer connection lost");
  }
}

TEST(GuardedWait, AnErrorIsReportedEvenWhenTheWorkLooksDone) {
  // An aborted NCCL collective may complete with garbage: the error wins.
  EXPECT_THROW(guarded_wait(nullptr, 0, "test", {[] { return true; }, [] { return std::string("failed"); }}),
               CommFailure);
}

}  // namespace
}  // namespace scalebench
