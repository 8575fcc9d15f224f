// --overlap auto's warm-up schedule and choice (ddp/overlap_choice.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "ddp/overlap_choice.hpp"

namespace scalebench {
namespace {

TEST(OverlapChoice, ParsesTheThreeModesAndRefusesOthers) {
  EXPECT_EQ(parse_overlap_mode("on"), OverlapMode::kOn);
  EXPECT_EQ(parse_overlap_mode("off"), OverlapMode::kOff);
  EXPECT_EQ(parse_overlap_mode("auto"), OverlapMode::kAuto);
  EXPECT_THROW(parse_overlap_mode("sometimes"), std::invalid_argument);
}

TEST(OverlapChoice, FixedModesNeverMeasure) {
  for (const auto mode : {OverlapMode::kOn, OverlapMode::kOff}) {
    OverlapChooser c(mode, 10);
    for (std::int64_t step = 0; step < 20; ++step) {
      EXPECT_FALSE(c.measures(step));
      EXPECT_EQ(c.overlap_for(step), mode == OverlapMode::kOn);
    }
    EXPECT_THROW(c.observe(1, 1.0), std::logic_error);
  }
}

TEST(OverlapChoice, WarmupAlternatesAfterTheColdStepThenKeepsTheFaster) {
  OverlapChooser c(OverlapMode::kAuto, 6);
  EXPECT_TRUE(c.overlap_for(0));   // cold: with overlap, not counted
  EXPECT_FALSE(c.measures(0));
  // steps 1, 3, 5 without overlap; 2, 4 with it
  const double times[] = {0.0, 0.50, 0.40, 0.52, 0.44, 0.90};
  for (std::int64_t step = 1; step < 6; ++step) {
    ASSERT_TRUE(c.measures(step));
    EXPECT_EQ(c.overlap_for(step), step % 2 == 0) << step;
    EXPECT_EQ(c.observe(step, times[step]), step == 5) << step;
  }
  EXPECT_DOUBLE_EQ(c.median_on_s(), 0.42);
  EXPECT_DOUBLE_EQ(c.median_off_s(), 0.52);  // median of 0.50, 0.52, 0.90
  EXPECT_TRUE(c.chosen_overlap());
  for (std::int64_t step = 6; step < 12; ++step) {
    EXPECT_FALSE(c.measures(step));
    EXPECT_TRUE(c.overlap_for(step));
  }
  EXPECT_NE(c.reason().find("overlap on (--overlap auto"), std::string::npos) << c.reason();
}

TEST(OverlapChoice, NoOverlapIsKeptWhenItWasFaster) {
  OverlapChooser c(OverlapMode::kAuto, 3);
  c.observe(1, 0.30);  // without overlap
  EXPECT_TRUE(c.observe(2, 0.36));
  EXPECT_FALSE(c.chosen_overlap());
  EXPECT_FALSE(c.overlap_for(3));
  EXPECT_NE(c.reason().find("overlap off"), std::string::npos) << c.reason();
}

TEST(OverlapChoice, ATieKeepsOverlap) {
  OverlapChooser c(OverlapMode::kAuto, 3);
  c.observe(1, 0.30);
  c.observe(2, 0.30);
  EXPECT_TRUE(c.chosen_overlap());
}

TEST(OverlapChoice, OneRankKeepsOverlapWithoutMeasuring) {
  OverlapChooser c(OverlapMode::kAuto, 10, 1);
  for (std::int64_t step = 0; step < 12; ++step) {
    EXPECT_FALSE(c.measures(step));
    EXPECT_TRUE(c.overlap_for(step));
  }
  EXPECT_NE(c.reason().find("one rank"), std::string::npos) << c.reason();
}

TEST(OverlapChoice, TooFewWarmupStepsKeepOverlapAndSaySo) {
  for (std::int64_t warmup : {0, 1, 2}) {
    OverlapChooser c(OverlapMode::kAuto, warmup);
    for (std::int64_t step = 0; step < 5; ++step) {
      EXPECT_FALSE(c.measures(step));
      EXPECT_TRUE(c.overlap_for(step));
    }
    EXPECT_NE(c.reason().find("needs at least 3 warm-up steps"), std::string::npos) << c.reason();
    EXPECT_TRUE(std::isnan(c.median_on_s()));
  }
}

}  // namespace
}  // namespace scalebench
