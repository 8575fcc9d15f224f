#pragma once
// Allreduce over MPI. Collectives run one after another on a dedicated thread, so that a bucket's
// allreduce progresses while backward computes the next gradients on the main thread (MPI's
// non-blocking calls would need the main thread to poll them to make progress). That thread is the
// only one that calls MPI on the communicator's duplicate (broadcasts too run there, the caller
// waiting): its ThreadOwner checks every call, so a collective issued from anywhere else fails loudly
// instead of interleaving with one in flight.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "comm/communicator.hpp"
#include "core/thread_owner.hpp"

namespace scalebench {

class MpiCommunicator final : public Communicator {
 public:
  // Collective over `comm` (MPI_COMM_WORLD for a run, MPI_COMM_SELF for a 1-rank reference): the
  // communicator works on its own duplicate of it.
  // `chunk_bytes`: a tensor is reduced in slices of at most this many bytes (0: one call, or as
  // few as MPI's int counts allow); see CommOptions.
  explicit MpiCommunicator(MPI_Comm comm, std::int64_t chunk_bytes = CommOptions{}.mpi_chunk_bytes);
  ~MpiCommunicator() override;

  std::string backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::shared_ptr<Work> allreduce_mean_async(torch::Tensor tensor, MeanInputs inputs) override;
  double mean_prescale() const override;
  void broadcast(torch::Tensor tensor, int root) override;
  void mark_step_start(std::chrono::steady_clock::time_point host_origin) override;
  // The communicator's own duplicate of the one it was made with (tests check they differ).
  MPI_Comm mpi_comm() const { return comm_; }

 private:
  using Clock = std::chrono::steady_clock;
  class MpiWork;
  void comm_thread_loop();
  void enqueue(std::function<void()> job);

  MPI_Comm comm_;
  ThreadOwner owner_{"the data-plane MPI communicator"};
  std::int64_t chunk_bytes_;
  int rank_ = 0;
  int size_ = 1;
  Clock::time_point step_origin_ = Clock::now();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// MPI datatype of a tensor's scalar type; throws for types scalebench does not reduce.
MPI_Datatype mpi_datatype_of(const torch::Tensor& tensor);

}  // namespace scalebench
