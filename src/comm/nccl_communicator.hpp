#pragma once
// Allreduce over NCCL for CUDA tensors. Collectives run on the communicator's own stream, ordered
// after the work that produced their input by an event recorded on the stream torch computes on
// (scalebench never changes torch's stream, so that is the device's default stream), and the
// default stream is ordered after them again by another event: no host synchronisation inside a
// step. Start and duration of every collective are measured with events on the NCCL stream.
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include <atomic>

#include "comm/communicator.hpp"

namespace scalebench {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `group` (not owned): its rank 0 makes the unique id and broadcasts it over MPI.
  NcclCommunicator(int cuda_device, MPI_Comm group);
  ~NcclCommunicator() override;

  std::string backend() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::shared_ptr<Work> allreduce_mean_async(torch::Tensor tensor, MeanInputs inputs) override;
  void broadcast(torch::Tensor tensor, int root) override;
  void mark_step_start(std::chrono::steady_clock::time_point host_origin) override;
  void abort() noexcept override;
  std::string async_error() override;

 private:
  class NcclWork;
  int device_ = 0;
  int rank_ = 0;
  int size_ = 1;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t step_origin_ = nullptr;
  std::atomic<bool> aborted_{false};
};

}  // namespace scalebench
