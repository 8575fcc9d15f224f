#include "runtime/stop_signals.hpp"

#include <csignal>

namespace scalebench::stop_signals {
namespace {
volatile std::sig_atomic_t g_received = 0;

extern "C" void on_stop_signal(int signal_number) {
  if (g_received == 0) g_received = signal_number;
  if (signal_number == SIGINT) std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends it at once
}
}  // namespace

void install() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls (MPI progress, file I/O) resume, not fail
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaction(s, &action, nullptr);
}

int pending() { return static_cast<int>(g_received); }

const char* name(int signal_number) {
  switch (signal_number) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "a signal";
  }
}

void reset() { g_received = 0; }

}  // namespace scalebench::stop_signals
