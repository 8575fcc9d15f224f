#pragma once
// Error types shared by every layer. A UsageError is the user's mistake (bad option, bad path):
// rank 0 prints it as one line and every rank exits with kExitUsage. Anything else that escapes is
// a fault: it is reported with rank and host, and the job is aborted so no rank is left hanging.
#include <stdexcept>
#include <string>

namespace scalebench {

constexpr int kExitOk = 0;
constexpr int kExitFault = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCommTimeout = 3;  // a collective exceeded --comm-timeout, or the backend failed
constexpr int kExitInterrupted = 4;  // a stop signal: file flushed and closed, status "interrupted"
constexpr int kExitDiverged = 5;     // a non-finite loss: file closed, status "diverged"
constexpr int kExitOutOfMemory = 6;  // a rank ran out of memory: all stopped, status "oom"
constexpr int kExitDesync = 7;       // ranks disagree on the run or the step: status "desync"

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A fault every rank has already agreed on (the same message on every rank, e.g. ranks that
// disagree on the run): rank 0 reports it once and every rank exits with `exit_code`, no abort.
class AgreedFault : public std::runtime_error {
 public:
  AgreedFault(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// The communication backend failed on this rank (NCCL's asynchronous error, e.g. a lost peer):
// the rank cannot go on and the others cannot finish their collectives without it, so the job is
// ended (exit kExitCommTimeout) as when a collective exceeds --comm-timeout, with this message.
class CommFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "rank R on HOST", set once the MPI world is up; "rank ? on HOST" before that. Check macros of
// every library (MPI, NCCL, CUDA, HDF5) put it into their messages.
const std::string& error_context();
void set_error_context(int rank, const std::string& host);

// Builds "CALL failed at FILE:LINE on rank R on HOST: DETAIL" and throws std::runtime_error.
[[noreturn]] void throw_call_failure(const char* library, const char* call, const char* file,
                                     int line, const std::string& detail);

}  // namespace scalebench
