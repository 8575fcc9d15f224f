// ThreadOwner: the threading rules as checks. The owner may call; any other thread is caught;
// ownership moves only by hand-over from the owner or by adopting a released resource.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "core/thread_owner.hpp"

namespace scalebench {
namespace {

class ThreadOwnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ThreadOwner::set_violation_handler([](const std::string& message) { throw std::logic_error(message); });
  }
  void TearDown() override { ThreadOwner::set_violation_handler(nullptr); }

  // Runs `f` on another thread; returns the violation it raised ("" if none).
  template <class F>
  static std::string on_other_thread(F f) {
    std::string caught;
    std::thread t([&] {
      try {
        f();
      } catch (const std::logic_error& e) {
        caught = e.what();
      }
    });
    t.join();
    return caught;
  }
};

TEST_F(ThreadOwnerTest, TheCreatorOwnsAndOthersAreCaught) {
  ThreadOwner owner("the test resource");
  EXPECT_NO_THROW(owner.check("a call"));
  const std::string v = on_other_thread([&] { owner.check("MPI_Barrier"); });
  EXPECT_NE(v.find("threading rule broken"), std::string::npos) << v;
  EXPECT_NE(v.find("MPI_Barrier on the test resource"), std::string::npos) << v;
  EXPECT_NE(v.find("owned by thread"), std::string::npos) << v;
}

TEST_F(ThreadOwnerTest, HandOverMovesTheRight) {
  ThreadOwner owner("the test resource");
  std::string from_new_owner = "not run";
  std::thread t([&] {
    // Waits until handed over; then this thread may call and may hand it back.
    while (!owner.owned_by_caller()) std::this_thread::yield();
    try {
      owner.check("a call");
      from_new_owner.clear();
      owner.hand_to(std::thread::id(), "done");
    } catch (const std::logic_error& e) {
      from_new_owner = e.what();
    }
  });
  owner.hand_to(t.get_id(), "to the worker");
  t.join();
  EXPECT_EQ(from_new_owner, "");
  EXPECT_THROW(owner.check("after release"), std::logic_error);  // released: nobody may call
  owner.adopt("back to main");
  EXPECT_NO_THROW(owner.check("after adopting"));
}

TEST_F(ThreadOwnerTest, OnlyTheOwnerHandsOnAndOnlyAReleasedOneIsAdopted) {
  ThreadOwner owner("the test resource");
  EXPECT_NE(on_other_thread([&] { owner.hand_to(std::this_thread::get_id(), "a grab"); }), "");
  EXPECT_NE(on_other_thread([&] { owner.adopt("a grab"); }), "");
  EXPECT_NO_THROW(owner.check("still the creator's"));
}

TEST(ThreadOwnerDeathTest, ABrokenRuleEndsTheProcessByDefault) {
  ::testing::GTEST_FLAG(death_test_style) = "threadsafe";
  ThreadOwner owner("the test resource");
  EXPECT_DEATH(
      {
        std::thread t([&] { owner.check("a write"); });
        t.join();
      },
      "threading rule broken.*a write on the test resource");
}

}  // namespace
}  // namespace scalebench
