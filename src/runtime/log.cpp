#include "runtime/log.hpp"

#include <cstdio>

#include "core/errors.hpp"
#include "runtime/world.hpp"

namespace scalebench::log {
namespace {
bool is_root() {
  try {
    return World::get().is_root();
  } catch (...) {
    return true;  // before MPI is up there is only one voice
  }
}
}  // namespace

void info(const std::string& line) {
  if (!is_root()) return;
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

void warn(const std::string& line) {
  if (!is_root()) return;
  std::fprintf(stderr, "scalebench: warning: %s\n", line.c_str());
}

void error(const std::string& line) {
  std::fprintf(stderr, "scalebench: error (%s): %s\n", error_context().c_str(), line.c_str());
  std::fflush(stderr);
}

void usage_error(const std::string& line) {
  if (!is_root()) return;
  std::fprintf(stderr, "scalebench: error: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace scalebench::log
