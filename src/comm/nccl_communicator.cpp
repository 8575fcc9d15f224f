#include "comm/nccl_communicator.hpp"

#include <mpi.h>

#include <stdexcept>

#include "core/errors.hpp"
#include "device/cuda_check.hpp"
#include "runtime/mpi_check.hpp"

#define NCCL_CHECK(call)                                                                       \
  do {                                                                                         \
    const ncclResult_t nccl_check_rc_ = (call);                                                \
    if (nccl_check_rc_ != ncclSuccess) {                                                       \
      ::scalebench::throw_call_failure("NCCL", #call, __FILE__, __LINE__,                      \
                                       ncclGetErrorString(nccl_check_rc_));                    \
    }                                                                                          \
  } while (0)

namespace scalebench {
namespace {
// torch computes on the device's default (legacy) stream unless a stream guard says otherwise,
// and scalebench sets none.
const cudaStream_t kTorchStream = cudaStreamLegacy;

ncclDataType_t nccl_datatype_of(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kFloat16: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt32: return ncclInt32;
    case torch::kInt64: return ncclInt64;
    case torch::kUInt8: return ncclUint8;
    default:
      throw std::invalid_argument(std::string("NCCL backend cannot reduce tensors of type ") +
                                  c10::toString(t.scalar_type()));
  }
}

void require_cuda_contiguous(const torch::Tensor& t, const char* what) {
  if (!t.is_cuda() || !t.is_contiguous()) {
    throw std::invalid_argument(std::string("NCCL ") + what + " needs a contiguous CUDA tensor");
  }
}
}  // namespace

class NcclCommunicator::NcclWork final : public Work {
 public:
  NcclWork(cudaEvent_t origin, cudaEvent_t start, cudaEvent_t end)
      : origin_(origin), start_(start), end_(end) {}
  ~NcclWork() override {
    cudaEventDestroy(start_);  // destruction of an event still pending is allowed by CUDA
    cudaEventDestroy(end_);
  }
  void wait() override { CUDA_CHECK(cudaStreamWaitEvent(kTorchStream, end_, 0)); }
  bool completed() override { return cuda_event_completed(end_); }
  CollectiveTiming timing() override {
    CUDA_CHECK(cudaEventSynchronize(end_));
    float from_origin_ms = 0.f;
    float duration_ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&from_origin_ms, origin_, start_));
    CUDA_CHECK(cudaEventElapsedTime(&duration_ms, start_, end_));
    return {from_origin_ms * 1e-3, duration_ms * 1e-3};
  }

 private:
  cudaEvent_t origin_;
  cudaEvent_t start_;
  cudaEvent_t end_;
};

NcclCommunicator::NcclCommunicator(int cuda_device, MPI_Comm group) : device_(cuda_device) {
  MPI_CHECK(MPI_Comm_rank(group, &rank_));
  MPI_CHECK(MPI_Comm_size(group, &size_));
  CUDA_CHECK(cudaSetDevice(device_));
  ncclUniqueId id;
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, group));
  NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreate(&step_origin_));
  CUDA_CHECK(cudaEventRecord(step_origin_, kTorchStream));
}

NcclCommunicator::~NcclCommunicator() {
  if (!aborted_.load()) {
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
  }
  cudaEventDestroy(step_origin_);
  cudaStreamDestroy(stream_);
}

void NcclCommunicator::mark_step_start(std::chrono::steady_clock::time_point /*host_origin*/) {
  CUDA_CHECK(cudaEventRecord(step_origin_, kTorchStream));
}

std::shared_ptr<Work> NcclCommunicator::allreduce_mean_async(torch::Tensor tensor, MeanInputs inputs) {
  require_cuda_contiguous(tensor, "allreduce");
  CUDA_CHECK(cudaSetDevice(device_));  // hooks may run on autograd's device threads
  cudaEvent_t ready = nullptr;
  cudaEvent_t start = nullptr;
  cudaEvent_t end = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&end));
  CUDA_CHECK(cudaEventRecord(ready, kTorchStream));  // the gradient copies into the bucket
  CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
  CUDA_CHECK(cudaEventDestroy(ready));
  CUDA_CHECK(cudaEventRecord(start, stream_));
  NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                           nccl_datatype_of(tensor), inputs == MeanInputs::kPrescaled ? ncclSum : ncclAvg,
                           comm_, stream_));
  CUDA_CHECK(cudaEventRecord(end, stream_));
  return std::make_shared<NcclWork>(step_origin_, start, end);
}

void NcclCommunicator::broadcast(torch::Tensor tensor, int root) {
  require_cuda_contiguous(tensor, "broadcast");
  CUDA_CHECK(cudaSetDevice(device_));
  cudaEvent_t ready = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventRecord(ready, kTorchStream));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
  NCCL_CHECK(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                           nccl_datatype_of(tensor), root, comm_, stream_));
  CUDA_CHECK(cudaEventRecord(ready, stream_));
  CUDA_CHECK(cudaStreamWaitEvent(kTorchStream, ready, 0));
  CUDA_CHECK(cudaEventDestroy(ready));
}

void NcclCommunicator::abort() noexcept {
  if (!aborted_.exchange(true)) ncclCommAbort(comm_);
}

std::string NcclCommunicator::async_error() {
  if (aborted_.load()) return "";  // aborted on purpose: whoever aborted it says why
  ncclResult_t state = ncclSuccess;
  const ncclResult_t rc = ncclCommGetAsyncError(comm_, &state);
  if (rc != ncclSuccess) return std::string("ncclCommGetAsyncError failed: ") + ncclGetErrorString(rc);
  if (state == ncclSuccess || state == ncclInProgress) return "";
  std::string detail = ncclGetErrorString(state);
  if (const char* last = ncclGetLastError(comm_); last != nullptr && *last != '\0') detail += std::string(" (") + last + ")";
  return "NCCL reported an asynchronous error on " + error_context() + ": " + detail;
}

}  // namespace scalebench
