#include "core/thread_owner.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "core/errors.hpp"

namespace scalebench {
namespace {
std::mutex g_handler_mutex;
ThreadOwner::ViolationHandler g_handler;

std::string describe(std::thread::id id) {
  if (id == std::thread::id()) return "no thread";
  std::ostringstream out;
  out << "thread " << id;
  return out.str();
}
}  // namespace

ThreadOwner::ThreadOwner(std::string resource)
    : resource_(std::move(resource)), owner_(std::this_thread::get_id()) {}

void ThreadOwner::set_violation_handler(ViolationHandler handler) {
  std::lock_guard<std::mutex> lock(g_handler_mutex);
  g_handler = std::move(handler);
}

void ThreadOwner::violated(const char* call) const {
  const std::string message = "threading rule broken on " + error_context() + ": " + call + " on " +
                              resource_ + " from " + describe(std::this_thread::get_id()) +
                              ", which is owned by " + describe(owner_.load());
  ViolationHandler handler;
  {
    std::lock_guard<std::mutex> lock(g_handler_mutex);
    handler = g_handler;
  }
  if (handler) handler(message);  // throws in tests
  std::fprintf(stderr, "scalebench: fatal: %s\n", message.c_str());
  std::abort();
}

void ThreadOwner::hand_to(std::thread::id next, const char* why) {
  if (!owned_by_caller()) violated(why);
  owner_.store(next);
}

void ThreadOwner::adopt(const char* why) {
  std::thread::id expected{};
  if (owned_by_caller()) return;
  if (!owner_.compare_exchange_strong(expected, std::this_thread::get_id())) violated(why);
}

void ThreadOwner::check(const char* call) const {
  if (!owned_by_caller()) violated(call);
}

}  // namespace scalebench
