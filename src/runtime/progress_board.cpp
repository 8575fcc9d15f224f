#include "runtime/progress_board.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "runtime/mpi_check.hpp"

namespace scalebench {
namespace {
constexpr int kAskTag = 7;
constexpr int kAnswerTag = 8;
// How often a responder looks for the question: rarely enough to cost nothing, often enough that
// a timeout's diagnosis takes well under a second.
constexpr auto kPollInterval = std::chrono::milliseconds(20);
}  // namespace

ProgressBoard::ProgressBoard(const World& world)
    : world_(world), usable_(world.thread_level() >= MPI_THREAD_MULTIPLE) {
  if (!usable_) return;
  MPI_CHECK(MPI_Comm_dup(world_.comm(), &comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  if (!world_.is_root()) responder_ = std::thread([this] { respond_loop(); });
}

ProgressBoard::~ProgressBoard() {
  stopping_ = true;
  if (responder_.joinable()) responder_.join();
  // After a fault the job is being aborted: leave the communicator to MPI_Abort.
  if (usable_ && finished_) MPI_Comm_free(&comm_);
}

void ProgressBoard::respond_loop() {
  long long question = 0;
  MPI_Request req = MPI_REQUEST_NULL;
  if (MPI_Irecv(&question, 1, MPI_LONG_LONG, 0, kAskTag, comm_, &req) != MPI_SUCCESS) return;
  while (!stopping_.load()) {
    int done = 0;
    if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
    if (done) {
      long long answer = position_.load();
      // Blocking is fine here: rank 0 has posted the receive before it asked.
      MPI_Send(&answer, 1, MPI_LONG_LONG, 0, kAnswerTag, comm_);
      return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  // Never asked: withdraw the receive so nothing is left in flight.
  MPI_Cancel(&req);
  MPI_Wait(&req, MPI_STATUS_IGNORE);
}

void ProgressBoard::finish() {
  if (!usable_ || finished_) return;
  stopping_ = true;
  if (responder_.joinable()) responder_.join();
  // Every responder has withdrawn its receive before any rank frees the communicator.
  MPI_CHECK(MPI_Barrier(comm_));
  finished_ = true;
}

std::string ProgressBoard::laggards(const std::vector<std::string>& hostnames, double answer_within_s) {
  if (!usable_ || !world_.is_root() || finished_ || asked_.exchange(true)) return "";
  const int n = world_.size();
  std::vector<long long> steps(static_cast<std::size_t>(n), -1);
  std::vector<MPI_Request> answers(static_cast<std::size_t>(n), MPI_REQUEST_NULL);
  std::vector<MPI_Request> questions(static_cast<std::size_t>(n), MPI_REQUEST_NULL);
  std::vector<bool> answered(static_cast<std::size_t>(n), false);
  steps[0] = position_.load();
  answered[0] = true;
  long long ask = 1;
  // No MPI_CHECK here: this runs on the watchdog thread just before the job is ended, and a rank
  // whose process is gone may make these calls fail; such a rank is reported as not answering.
  std::vector<bool> reachable(static_cast<std::size_t>(n), true);
  for (int r = 1; r < n; ++r) {
    reachable[r] = MPI_Irecv(&steps[r], 1, MPI_LONG_LONG, r, kAnswerTag, comm_, &answers[r]) == MPI_SUCCESS &&
                   MPI_Isend(&ask, 1, MPI_LONG_LONG, r, kAskTag, comm_, &questions[r]) == MPI_SUCCESS;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(answer_within_s));
  int missing = n - 1;
  while (missing > 0 && std::chrono::steady_clock::now() < deadline) {
    for (int r = 1; r < n; ++r) {
      if (answered[r] || !reachable[r]) continue;
      int done = 0;
      if (MPI_Test(&answers[r], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        reachable[r] = false;
        --missing;
      } else if (done) {
        answered[r] = true;
        --missing;
      }
    }
    if (missing > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Unanswered requests are left to MPI_Abort, which follows the diagnosis.
  long long front = -1;
  for (int r = 0; r < n; ++r) {
    if (answered[r]) front = std::max(front, steps[r]);
  }
  std::ostringstream out;
  auto name = [&](int r) {
    if (out.tellp() > 0) out << "; ";
    out << "rank " << r;
    if (static_cast<std::size_t>(r) < hostnames.size()) out << " on " << hostnames[r];
  };
  for (int r = 0; r < n; ++r) {
    if (!answered[r]) {
      name(r);
      out << " did not answer within " << answer_within_s << " s (process gone, or its MPI blocked)";
    } else if (steps[r] < front) {
      name(r);
      const long long step = steps[r] < 0 ? -1 : steps[r] / 2;
      if (steps[r] >= 0 && steps[r] % 2 == 0) {
        out << " began step " << step << " and has not finished its work (its gradient collectives or "
            << "device work did not complete)";
      } else {
        out << " last began step " << step << " and has not begun step " << step + 1;
      }
    }
  }
  // Every rank of rank 0's host answered and none of any other host did: from here the others
  // look silent, but it may as well be this host that is cut off (with two hosts, each side sees
  // the other one silent).
  if (hostnames.size() == static_cast<std::size_t>(n) && n > 1) {
    bool own_all = true, others_any = false, others_exist = false;
    for (int r = 0; r < n; ++r) {
      const bool own = hostnames[static_cast<std::size_t>(r)] == hostnames[0];
      if (own) own_all = own_all && answered[static_cast<std::size_t>(r)];
      if (!own) {
        others_exist = true;
        others_any = others_any || answered[static_cast<std::size_t>(r)];
      }
    }
    if (own_all && others_exist && !others_any) {
      out << "; no rank on another host answered: " << hostnames[0]
          << " (rank 0's host) may be the one cut off";
    }
  }
  return out.str();
}

}  // namespace scalebench
