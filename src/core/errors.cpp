#include "core/errors.hpp"

#include <unistd.h>

#include <sstream>

namespace scalebench {
namespace {
std::string current_host() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}
std::string& context_storage() {
  static std::string ctx = "rank ? on " + current_host();
  return ctx;
}
}  // namespace

const std::string& error_context() { return context_storage(); }

void set_error_context(int rank, const std::string& host) {
  context_storage() = "rank " + std::to_string(rank) + " on " + host;
}

void throw_call_failure(const char* library, const char* call, const char* file, int line,
                        const std::string& detail) {
  std::ostringstream msg;
  msg << library << " call " << call << " failed at " << file << ":" << line << " on "
      << error_context() << ": " << detail;
  throw std::runtime_error(msg.str());
}

}  // namespace scalebench
