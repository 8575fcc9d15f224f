#include "runtime/mpi_progress.hpp"

#include <cctype>
#include <cstdlib>
#include <string>

namespace scalebench {
namespace {

constexpr const char* kVariable = "OMPI_MCA_mpi_yield_when_idle";
std::string g_description = "not chosen (MPI was started without choose_mpi_progress_before_init)";

// Open MPI's boolean MCA values: 0/1, true/false, yes/no, on/off (any case).
bool is_false(std::string v) {
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "0" || v == "false" || v == "no" || v == "off" || v == "f" || v == "n";
}

}  // namespace

void choose_mpi_progress_before_init() {
  if (const char* given = std::getenv(kVariable)) {
    g_description = std::string(is_false(given) ? "spin" : "yield") + " (" + kVariable + "=" + given +
                    " from the environment)";
    return;
  }
  // overwrite = 0: a variable set between the check and here (no other thread runs yet) is kept.
  setenv(kVariable, "1", 0);
  g_description = std::string("yield (scalebench's default: ") + kVariable +
                  "=1, so that a wait inside MPI leaves the core to the rank's compute thread)";
}

std::string mpi_progress_description() { return g_description; }

}  // namespace scalebench
