#include "comm/mpi_communicator.hpp"

#include <climits>
#include <exception>
#include <stdexcept>

#include "runtime/mpi_check.hpp"

namespace scalebench {

MPI_Datatype mpi_datatype_of(const torch::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kUInt8: return MPI_UINT8_T;
    default:
      throw std::invalid_argument(std::string("MPI backend cannot reduce tensors of type ") +
                                  c10::toString(tensor.scalar_type()));
  }
}

namespace {
// MPI counts are int: long buffers go in slices of at most this many elements.
constexpr std::int64_t kMaxElementsPerCall = INT_MAX / 2;

void allreduce_sum_in_place(torch::Tensor& host, MPI_Comm comm) {
  const MPI_Datatype type = mpi_datatype_of(host);
  auto* base = static_cast<char*>(host.data_ptr());
  const std::int64_t n = host.numel();
  for (std::int64_t off = 0; off < n; off += kMaxElementsPerCall) {
    const int count = static_cast<int>(std::min<std::int64_t>(kMaxElementsPerCall, n - off));
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, base + off * host.element_size(), count, type, MPI_SUM,
                            comm));
  }
}
}  // namespace

class MpiCommunicator::MpiWork final : public Work {
 public:
  void wait() override {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
    if (error_) std::rethrow_exception(error_);
  }
  CollectiveTiming timing() override { return timing_; }

  void complete(CollectiveTiming timing, std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      timing_ = timing;
      error_ = std::move(error);
      done_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
  CollectiveTiming timing_;
};

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  thread_ = std::thread([this] { comm_thread_loop(); });
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void MpiCommunicator::mark_step_start() { step_origin_ = Clock::now(); }

std::shared_ptr<Work> MpiCommunicator::allreduce_mean_async(torch::Tensor tensor) {
  if (!tensor.is_contiguous()) throw std::invalid_argument("allreduce needs a contiguous tensor");
  auto work = std::make_shared<MpiWork>();
  const auto origin = step_origin_;
  auto job = [this, work, tensor, origin]() mutable {
    CollectiveTiming timing;
    std::exception_ptr error;
    try {
      // A CUDA tensor goes through host memory: MPI here is not assumed to be CUDA-aware.
      torch::Tensor host = tensor.is_cuda() ? tensor.to(torch::kCPU) : tensor;
      const auto start = Clock::now();
      allreduce_sum_in_place(host, comm_);
      const auto end = Clock::now();
      timing.start_s = std::chrono::duration<double>(start - origin).count();
      timing.duration_s = std::chrono::duration<double>(end - start).count();
      // The sum of one rank is its mean: skip a full pass over the bucket (bench_overhead's
      // 1-rank data-parallel path, docs/performance.md).
      if (size_ > 1) host.div_(size_);
      if (tensor.is_cuda()) tensor.copy_(host);
    } catch (...) {
      error = std::current_exception();
    }
    work->complete(timing, error);
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return work;
}

void MpiCommunicator::broadcast(torch::Tensor tensor, int root) {
  if (!tensor.is_contiguous()) throw std::invalid_argument("broadcast needs a contiguous tensor");
  torch::Tensor host = tensor.is_cuda() ? tensor.to(torch::kCPU) : tensor;
  const MPI_Datatype type = mpi_datatype_of(host);
  auto* base = static_cast<char*>(host.data_ptr());
  for (std::int64_t off = 0; off < host.numel(); off += kMaxElementsPerCall) {
    const int count = static_cast<int>(std::min<std::int64_t>(kMaxElementsPerCall, host.numel() - off));
    MPI_CHECK(MPI_Bcast(base + off * host.element_size(), count, type, root, comm_));
  }
  if (tensor.is_cuda()) tensor.copy_(host);
}

void MpiCommunicator::comm_thread_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace scalebench
