#pragma once
// Who has begun which step, and finished its work. MPI collectives cannot say which rank never
// arrived, so a watchdog that fires only knows that *someone* is missing. Each rank keeps the last
// step it began, and whether it finished that step's work (compute and gradient collectives), in
// memory (no message per step: that traffic to rank 0 grew with the ranks); when rank 0's
// watchdog fires, it asks every rank, over a communicator of its own, and each rank's responder
// thread answers with its step. Ranks that began an earlier step are named, and so are ranks
// that do not answer at all (their process is gone or their MPI is blocked). The question costs
// nothing until a timeout: a responder only polls one posted receive every few milliseconds.
// Asking and answering from helper threads while another thread is in a collective needs
// MPI_THREAD_MULTIPLE; with a lesser thread level the board stays silent (naming is then lost,
// the timeout itself still works).
#include <mpi.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "runtime/world.hpp"

namespace scalebench {

class ProgressBoard {
 public:
  explicit ProgressBoard(const World& world);  // collective
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  // Every rank, main thread, before any collective of `step`. No communication.
  void begin_step(long long step) { position_.store(2 * step, std::memory_order_relaxed); }
  // Every rank, main thread, when the step's own work is done (before the agreement after it):
  // a rank that began a step and never gets here is stuck inside it (its collectives or device
  // work did not complete), which the board can then say. No communication.
  void finish_step(long long step) { position_.store(2 * step + 1, std::memory_order_relaxed); }
  // Collective, at the normal end: the responders stop, nothing is left in flight.
  void finish();
  // Rank 0 (the watchdog thread, at a timeout): asks every rank for its step and waits up to
  // `answer_within_s` for the answers. "rank 1 on HOST last began step 4 and has not begun step
  // 5", or "rank 1 on HOST began step 5 and has not finished its work (...)", for every rank
  // behind the furthest one, "rank 2 on HOST did not answer" for every rank
  // that stayed silent; "" when none is behind, on other ranks, or when the thread level does
  // not allow asking.
  std::string laggards(const std::vector<std::string>& hostnames, double answer_within_s = 2.0);

 private:
  void respond_loop();  // ranks > 0: answer rank 0's question, once
  const World& world_;
  const bool usable_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::atomic<long long> position_{-1};  // 2 x step: began it; 2 x step + 1: finished its work
  std::atomic<bool> stopping_{false};
  std::atomic<bool> asked_{false};  // rank 0: the question went out (the job is ending then)
  std::thread responder_;
  bool finished_ = false;
};

}  // namespace scalebench
