#include "runtime/fault_injection.hpp"

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <vector>

#include "core/errors.hpp"

namespace scalebench {

FaultInjection fault_injection_from_env(int my_rank) {
  FaultInjection f;
  const char* spec = std::getenv("SCALEBENCH_TEST_INJECT");
  if (spec == nullptr || *spec == '\0') return f;
  std::vector<std::string> parts;
  std::stringstream in(spec);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
  try {
    if (parts.size() == 3 && parts[0] == "stall") {
      f.kind = FaultInjection::Kind::kStall;
      f.rank = std::stoi(parts[1]);
      f.step = std::stoll(parts[2]);
      f.mine = f.rank == my_rank;
      return f;
    }
  } catch (const std::exception&) {
  }
  throw UsageError(std::string("SCALEBENCH_TEST_INJECT=") + spec +
                   ": allowed: stall:RANK:STEP (a test-only fault)");
}

void FaultInjection::before_step(std::int64_t current_step) const {
  if (!mine || current_step != step) return;
  if (kind == Kind::kStall) {
    // Alive but never again entering a collective: only the others' watchdogs can end this.
    while (true) std::this_thread::sleep_for(std::chrono::seconds(60));
  }
}

}  // namespace scalebench
