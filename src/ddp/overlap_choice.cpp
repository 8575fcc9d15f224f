#include "ddp/overlap_choice.hpp"

#include <cstdio>
#include <limits>
#include <stdexcept>

#include "metrics/summary.hpp"

namespace scalebench {
namespace {

double median_or_nan(const std::vector<double>& v) {
  return v.empty() ? std::numeric_limits<double>::quiet_NaN() : median(v);
}

std::string ms(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f ms", s * 1e3);
  return buf;
}

}  // namespace

OverlapMode parse_overlap_mode(const std::string& text) {
  if (text == "on") return OverlapMode::kOn;
  if (text == "off") return OverlapMode::kOff;
  if (text == "auto") return OverlapMode::kAuto;
  throw std::invalid_argument("--overlap " + text + ": must be auto, on or off");
}

const char* overlap_mode_name(OverlapMode mode) {
  switch (mode) {
    case OverlapMode::kOn: return "on";
    case OverlapMode::kOff: return "off";
    case OverlapMode::kAuto: return "auto";
  }
  return "?";
}

OverlapChooser::OverlapChooser(OverlapMode mode, std::int64_t warmup_steps, int world_size)
    : mode_(mode), warmup_steps_(warmup_steps), world_size_(world_size), chosen_(mode != OverlapMode::kOff) {
  decided_ = mode_ != OverlapMode::kAuto || warmup_steps_ < kMinWarmupSteps || world_size_ < 2;
}

bool OverlapChooser::measures(std::int64_t step) const {
  return !decided_ && step >= 1 && step < warmup_steps_;
}

bool OverlapChooser::overlap_for(std::int64_t step) const {
  // Odd warm-up steps without overlap, even ones (step 0 included) with it.
  if (measures(step)) return step % 2 == 0;
  return chosen_;
}

bool OverlapChooser::observe(std::int64_t step, double slowest_step_s) {
  if (!measures(step)) throw std::logic_error("OverlapChooser::observe: step " + std::to_string(step) + " is not measured");
  (overlap_for(step) ? on_s_ : off_s_).push_back(slowest_step_s);
  if (step + 1 < warmup_steps_) return false;
  // Overlap unless reducing after backward was faster: a tie keeps the engine's usual schedule.
  chosen_ = !(median_off_s() < median_on_s());
  decided_ = true;
  return true;
}

double OverlapChooser::median_on_s() const { return median_or_nan(on_s_); }
double OverlapChooser::median_off_s() const { return median_or_nan(off_s_); }

std::string OverlapChooser::reason() const {
  const std::string chosen = chosen_ ? "on" : "off";
  if (mode_ != OverlapMode::kAuto) return std::string("overlap ") + chosen + " (--overlap " + overlap_mode_name(mode_) + ")";
  if (world_size_ < 2) return "overlap on: one rank, nothing to overlap (--overlap auto measures from 2 ranks)";
  if (warmup_steps_ < kMinWarmupSteps) {
    return "overlap on: --overlap auto needs at least " + std::to_string(kMinWarmupSteps) +
           " warm-up steps to measure both modes (this run has " + std::to_string(warmup_steps_) + ")";
  }
  if (!decided_) return "overlap auto: still measuring";
  return "overlap " + chosen + " (--overlap auto: warm-up median of the slowest rank's step " +
         ms(median_on_s()) + " with overlap over " + std::to_string(on_s_.size()) + " step(s), " +
         ms(median_off_s()) + " without over " + std::to_string(off_s_.size()) + ")";
}

}  // namespace scalebench
