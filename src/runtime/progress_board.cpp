#include "runtime/progress_board.hpp"

#include <algorithm>
#include <sstream>

#include "runtime/mpi_check.hpp"

namespace scalebench {
namespace {
constexpr int kTag = 7;
}

ProgressBoard::ProgressBoard(const World& world)
    : world_(world), usable_(world.thread_level() >= MPI_THREAD_MULTIPLE) {
  if (!usable_) return;
  MPI_CHECK(MPI_Comm_dup(world_.comm(), &comm_));
  if (world_.is_root()) {
    const auto n = static_cast<std::size_t>(world_.size());
    last_step_.assign(n, -1);
    recv_buf_.assign(n, -1);
    recv_req_.assign(n, MPI_REQUEST_NULL);
    received_.assign(n, 0);
    for (int r = 1; r < world_.size(); ++r) {
      MPI_CHECK(MPI_Irecv(&recv_buf_[r], 1, MPI_LONG_LONG, r, kTag, comm_, &recv_req_[r]));
    }
  }
}

ProgressBoard::~ProgressBoard() {
  // After a fault the job is being aborted: leave outstanding requests to MPI_Abort.
  if (usable_ && finished_) MPI_Comm_free(&comm_);
}

void ProgressBoard::drain_locked() {
  for (int r = 1; r < world_.size(); ++r) {
    while (true) {
      int done = 0;
      MPI_CHECK(MPI_Test(&recv_req_[r], &done, MPI_STATUS_IGNORE));
      if (!done) break;
      last_step_[r] = std::max(last_step_[r], recv_buf_[r]);
      ++received_[r];
      MPI_CHECK(MPI_Irecv(&recv_buf_[r], 1, MPI_LONG_LONG, r, kTag, comm_, &recv_req_[r]));
    }
  }
}

void ProgressBoard::begin_step(long long step) {
  if (!usable_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (world_.is_root()) {
    last_step_[0] = step;
    drain_locked();
    return;
  }
  // Retire completed sends; small messages complete at once in practice (eager protocol).
  while (!sends_.empty()) {
    int done = 0;
    MPI_CHECK(MPI_Test(&sends_.front().req, &done, MPI_STATUS_IGNORE));
    if (!done) break;
    sends_.pop_front();
  }
  sends_.push_back(Send{step, MPI_REQUEST_NULL});
  Send& s = sends_.back();
  MPI_CHECK(MPI_Isend(&s.step, 1, MPI_LONG_LONG, 0, kTag, comm_, &s.req));
  ++sent_;
}

void ProgressBoard::finish() {
  if (!usable_ || finished_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  // Rank 0 learns how many messages each rank sent, and receives until it has them all.
  std::vector<long long> counts(world_.is_root() ? static_cast<std::size_t>(world_.size()) : 0);
  MPI_CHECK(MPI_Gather(&sent_, 1, MPI_LONG_LONG, counts.data(), 1, MPI_LONG_LONG, 0, comm_));
  if (world_.is_root()) {
    for (int r = 1; r < world_.size(); ++r) {
      while (received_[r] < counts[r]) {
        MPI_CHECK(MPI_Wait(&recv_req_[r], MPI_STATUS_IGNORE));
        ++received_[r];
        if (received_[r] < counts[r]) {
          MPI_CHECK(MPI_Irecv(&recv_buf_[r], 1, MPI_LONG_LONG, r, kTag, comm_, &recv_req_[r]));
        }
      }
      if (recv_req_[r] != MPI_REQUEST_NULL) {  // the receive posted for a message never sent
        MPI_CHECK(MPI_Cancel(&recv_req_[r]));
        MPI_CHECK(MPI_Wait(&recv_req_[r], MPI_STATUS_IGNORE));
      }
    }
  }
  for (auto& s : sends_) MPI_CHECK(MPI_Wait(&s.req, MPI_STATUS_IGNORE));
  sends_.clear();
  finished_ = true;
}

std::string ProgressBoard::laggards(const std::vector<std::string>& hostnames) {
  if (!usable_ || !world_.is_root() || finished_) return "";
  std::lock_guard<std::mutex> lock(mutex_);
  drain_locked();
  const long long front = *std::max_element(last_step_.begin(), last_step_.end());
  std::ostringstream out;
  for (int r = 0; r < world_.size(); ++r) {
    if (last_step_[r] >= front) continue;
    if (out.tellp() > 0) out << "; ";
    out << "rank " << r;
    if (static_cast<std::size_t>(r) < hostnames.size()) out << " on " << hostnames[r];
    out << " last began step " << last_step_[r] << " and has not begun step " << front;
  }
  return out.str();
}

}  // namespace scalebench
