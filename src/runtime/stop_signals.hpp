#pragma once
// Asking a run to stop early: SIGTERM (Slurm's time limit, `scancel`, mpirun's own SIGTERM),
// SIGINT (Ctrl-C) and SIGUSR1/SIGUSR2 (Slurm's `--signal` early warning, which mpirun forwards to
// every rank). The handler only records the signal; the step loop polls it between steps, and the
// ranks agree on it with one small allreduce, so every rank stops after the same step and the run
// file is flushed and closed with status "interrupted". MPI is never touched from the handler.
namespace scalebench::stop_signals {

// Installs the handlers (idempotent). A second SIGINT gets the default action, so a user who
// presses Ctrl-C twice is not kept waiting for the flush.
void install();
// The first signal received, or 0.
int pending();
// "SIGTERM", "SIGUSR1", ...
const char* name(int signal_number);
// For tests: forget a received signal.
void reset();

}  // namespace scalebench::stop_signals
