#pragma once
// Who has begun which step. MPI collectives cannot say which rank never arrived, so a watchdog
// that fires only knows that *someone* is missing. Every rank therefore tells rank 0, with one
// small non-blocking message at the start of each step, that it began that step; when rank 0's
// watchdog fires it reads this board and names the rank(s) that stopped coming, and the step.
// Reading it from the watchdog thread, while another thread sits in a collective, needs
// MPI_THREAD_MULTIPLE; with a lesser thread level the board stays silent (naming is then lost,
// the timeout itself still works).
#include <mpi.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/world.hpp"

namespace scalebench {

class ProgressBoard {
 public:
  explicit ProgressBoard(const World& world);  // collective
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  // Every rank, main thread, before any collective of `step`.
  void begin_step(long long step);
  // Collective, at the normal end: every message sent is received, nothing is left in flight.
  void finish();
  // Rank 0: "rank 1 on HOST last began step 4" for every rank behind the furthest rank; "" when
  // none is behind, on other ranks, or when the MPI thread level does not allow reading it here.
  std::string laggards(const std::vector<std::string>& hostnames);

 private:
  void drain_locked();  // rank 0: take in arrived messages, post the receives again
  const World& world_;
  const bool usable_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::mutex mutex_;
  bool finished_ = false;
  // rank 0
  std::vector<long long> last_step_;
  std::vector<long long> recv_buf_;
  std::vector<MPI_Request> recv_req_;
  std::vector<long long> received_;
  // every rank: sends not yet known complete (buffer must live until then)
  struct Send {
    long long step;
    MPI_Request req;
  };
  std::deque<Send> sends_;
  long long sent_ = 0;
};

}  // namespace scalebench
