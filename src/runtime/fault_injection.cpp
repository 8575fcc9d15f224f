#include "runtime/fault_injection.hpp"

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <vector>

#include "core/errors.hpp"

namespace scalebench {
namespace {

constexpr const char* kAllowed =
    "stall:RANK:STEP, oom:RANK:STEP[:forward|backward], skip:RANK:STEP, hang:RANK:STEP, mismatch:RANK "
    "(test-only faults)";

}  // namespace

FaultInjection fault_injection_from_env(int my_rank) {
  FaultInjection f;
  const char* spec = std::getenv("SCALEBENCH_TEST_INJECT");
  if (spec == nullptr || *spec == '\0') return f;
  std::vector<std::string> parts;
  std::stringstream in(spec);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
  try {
    const std::string& kind = parts.at(0);
    if (kind == "mismatch" && parts.size() == 2) {
      f.kind = FaultInjection::Kind::kMismatch;
      f.rank = std::stoi(parts[1]);
      f.mine = f.rank == my_rank;
      return f;
    } else if (parts.size() >= 3) {
      f.rank = std::stoi(parts[1]);
      f.step = std::stoll(parts[2]);
      f.mine = f.rank == my_rank;
      if (kind == "stall" && parts.size() == 3) {
        f.kind = FaultInjection::Kind::kStall;
        return f;
      }
      if (kind == "hang" && parts.size() == 3) {
        f.kind = FaultInjection::Kind::kHang;
        return f;
      }
      if (kind == "skip" && parts.size() == 3) {
        f.kind = FaultInjection::Kind::kSkipStep;
        return f;
      }
      if (kind == "oom" && parts.size() <= 4) {
        f.kind = FaultInjection::Kind::kOutOfMemory;
        f.phase = parts.size() == 4 ? parts[3] : "forward";
        if (f.phase == "forward" || f.phase == "backward") return f;
      }
    }
  } catch (const std::exception&) {
  }
  throw UsageError(std::string("SCALEBENCH_TEST_INJECT=") + spec + ": allowed: " + kAllowed);
}

void FaultInjection::before_step(std::int64_t current_step) const {
  reached_->store(current_step);
  if (!mine || current_step != step) return;
  if (kind == Kind::kStall) {
    // Alive but never again entering a collective: only the others' watchdogs can end this.
    while (true) std::this_thread::sleep_for(std::chrono::seconds(60));
  }
}

bool FaultInjection::fails_allocation(std::int64_t current_step, const std::string& in_phase) const {
  return kind == Kind::kOutOfMemory && mine && current_step == step && in_phase == phase;
}

std::int64_t FaultInjection::step_skew(std::int64_t current_step) const {
  return kind == Kind::kSkipStep && mine && current_step == step ? 1 : 0;
}

bool FaultInjection::hangs_collectives() const {
  return kind == Kind::kHang && mine && reached_->load() >= step;
}

std::int64_t FaultInjection::extra_steps() const { return kind == Kind::kMismatch && mine ? 1 : 0; }

}  // namespace scalebench
