#pragma once
// The threading rules as code, not as comments. A resource that one thread at a time may use (a
// run file: Debian's HDF5 is built without thread safety; the MPI control plane on
// MPI_COMM_WORLD) has an owner thread. Every call into it checks that the caller is the owner;
// ownership moves only by an explicit hand-over from the owner (or by adopting a released one).
// A call from any other thread is a bug that could corrupt a file or pair the wrong messages: the
// check fails loudly (the message names the resource, the call and both threads; then abort), in
// every build, since it costs one compare of thread ids per call.
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace scalebench {

class ThreadOwner {
 public:
  // Owned by the constructing thread.
  explicit ThreadOwner(std::string resource);
  ThreadOwner(const ThreadOwner&) = delete;
  ThreadOwner& operator=(const ThreadOwner&) = delete;

  // The owner gives the resource to thread `next` (std::thread::id() releases it: nobody owns it
  // until a thread adopts it). Checked: only the owner may hand it on.
  void hand_to(std::thread::id next, const char* why);
  // The calling thread takes a released resource. Checked: it must be released (or already
  // the caller's).
  void adopt(const char* why);
  // Every call into the resource: the calling thread must own it.
  void check(const char* call) const;
  bool owned_by_caller() const { return owner_.load() == std::this_thread::get_id(); }
  const std::string& resource() const { return resource_; }

  // What a broken rule does: by default log it and std::abort(). Tests install a handler that
  // throws, to prove a broken rule is caught; the handler must not return normally.
  using ViolationHandler = std::function<void(const std::string& message)>;
  static void set_violation_handler(ViolationHandler handler);  // null: the default

 private:
  [[noreturn]] void violated(const char* call) const;
  std::string resource_;
  std::atomic<std::thread::id> owner_;
};

}  // namespace scalebench
