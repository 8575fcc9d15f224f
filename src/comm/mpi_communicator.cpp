#include "comm/mpi_communicator.hpp"

#include <algorithm>
#include <climits>
#include <exception>
#include <stdexcept>
#include <string>

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

// Divides `count` elements at `data` by `divisor`, on this (the communicator's) thread. A plain
// loop rather than Tensor::div_: div_ would start LibTorch's intra-op thread pool for every
// slice, whose spinning workers then compete with the other ranks' MPI progress on the same cores
// (measured: 2x slower allreduce at 2 ranks on 2 cores). x / n, as div_ computes it. CMakeLists
// compiles this file so that GCC vectorizes the loop (at -O2 it stays one division per element).
template <typename T>
void divide(T* data, std::int64_t count, int divisor) {
  const T d = static_cast<T>(divisor);
  for (std::int64_t i = 0; i < count; ++i) data[i] /= d;
}

// Sums `host` over the ranks in place, then divides by `divisor` (1: leave the sum), in slices of
// `slice` elements: each slice is divided right after its reduction, while it is still in cache,
// instead of in a second pass over the whole tensor. Returns the seconds spent inside MPI.
double allreduce_mean_in_place(torch::Tensor& host, MPI_Comm comm, std::int64_t slice, int divisor) {
  const MPI_Datatype type = mpi_datatype_of(host);
  auto* base = static_cast<char*>(host.data_ptr());
  const std::int64_t n = host.numel();
  double in_mpi = 0.0;
  for (std::int64_t off = 0; off < n; off += slice) {
    const std::int64_t count = std::min<std::int64_t>(slice, n - off);
    char* at = base + off * host.element_size();
    const double start = MPI_Wtime();
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, at, static_cast<int>(count), type, MPI_SUM, comm));
    in_mpi += MPI_Wtime() - start;
    if (divisor <= 1) continue;
    switch (host.scalar_type()) {
      case torch::kFloat32: divide(reinterpret_cast<float*>(at), count, divisor); break;
      case torch::kFloat64: divide(reinterpret_cast<double*>(at), count, divisor); break;
      default: host.view({-1}).narrow(0, off, count).div_(divisor);  // throws for integers, as before
    }
  }
  return in_mpi;
}
}  // namespace

class MpiCommunicator::MpiWork final : public Work {
 public:
  void wait() override {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
    if (error_) std::rethrow_exception(error_);
  }
  bool completed() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
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

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::int64_t chunk_bytes) : chunk_bytes_(chunk_bytes) {
  // The data plane gets its own communicator (collective over `comm`): its messages can never
  // match the control plane's (stop agreement, record gathers, clock pings on MPI_COMM_WORLD),
  // whatever either side does.
  MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  if (chunk_bytes_ < 0) throw std::invalid_argument("MPI chunk size must be >= 0 bytes");
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  std::lock_guard<std::mutex> lock(mutex_);  // the thread runs nothing before it owns comm_
  thread_ = std::thread([this] { comm_thread_loop(); });
  owner_.hand_to(thread_.get_id(), "handing the data-plane communicator to its thread");
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // A free releases the duplicate locally (no message is exchanged: safe with a peer gone);
  // after MPI_Finalize there is nothing left to free. Its return code cannot be thrown from here.
  owner_.adopt("freeing the data-plane communicator");
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

void MpiCommunicator::mark_step_start(Clock::time_point host_origin) { step_origin_ = host_origin; }

double MpiCommunicator::mean_prescale() const {
  const bool power_of_two = size_ > 1 && (size_ & (size_ - 1)) == 0;
  return power_of_two ? 1.0 / size_ : 1.0;
}

std::shared_ptr<Work> MpiCommunicator::allreduce_mean_async(torch::Tensor tensor, MeanInputs inputs) {
  if (!tensor.is_contiguous()) throw std::invalid_argument("allreduce needs a contiguous tensor");
  if (inputs == MeanInputs::kPrescaled && size_ > 1 && mean_prescale() == 1.0) {
    throw std::invalid_argument("prescaled inputs for an MPI mean over " + std::to_string(size_) +
                                " ranks: only a power-of-two world is prescaled exactly");
  }
  // Prescaled inputs (the reducer's gradients) need only the sum; a world of one, nothing.
  const int divisor = inputs == MeanInputs::kPrescaled ? 1 : size_;
  auto work = std::make_shared<MpiWork>();
  const auto origin = step_origin_;
  auto job = [this, work, tensor, origin, divisor]() mutable {
    CollectiveTiming timing;
    std::exception_ptr error;
    try {
      // A CUDA tensor goes through host memory: MPI here is not assumed to be CUDA-aware.
      torch::Tensor host = tensor.is_cuda() ? tensor.to(torch::kCPU) : tensor;
      const std::int64_t elements_per_chunk =
          chunk_bytes_ == 0 ? kMaxElementsPerCall
                            : std::clamp<std::int64_t>(chunk_bytes_ / host.element_size(), 1, kMaxElementsPerCall);
      const auto start = Clock::now();
      // The sum of one rank is its mean: no division (bench_overhead's 1-rank data-parallel
      // path, docs/performance.md). The duration is the time inside MPI, as for NCCL's events.
      owner_.check("MPI_Allreduce of a gradient bucket");
      timing.duration_s = allreduce_mean_in_place(host, comm_, elements_per_chunk, divisor);
      timing.start_s = std::chrono::duration<double>(start - origin).count();
      if (tensor.is_cuda()) tensor.copy_(host);
    } catch (...) {
      error = std::current_exception();
    }
    work->complete(timing, error);
  };
  enqueue(std::move(job));
  return work;
}

void MpiCommunicator::enqueue(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void MpiCommunicator::broadcast(torch::Tensor tensor, int root) {
  if (!tensor.is_contiguous()) throw std::invalid_argument("broadcast needs a contiguous tensor");
  torch::Tensor host = tensor.is_cuda() ? tensor.to(torch::kCPU) : tensor;
  const MPI_Datatype type = mpi_datatype_of(host);
  auto done = std::make_shared<MpiWork>();
  // On the communicator's thread, after any collective queued before it, like every other one.
  enqueue([this, done, host, type, root] {
    std::exception_ptr error;
    try {
      owner_.check("MPI_Bcast of model tensors");
      auto* base = static_cast<char*>(host.data_ptr());
      for (std::int64_t off = 0; off < host.numel(); off += kMaxElementsPerCall) {
        const int count = static_cast<int>(std::min<std::int64_t>(kMaxElementsPerCall, host.numel() - off));
        MPI_CHECK(MPI_Bcast(base + off * host.element_size(), count, type, root, comm_));
      }
    } catch (...) {
      error = std::current_exception();
    }
    done->complete({}, error);
  });
  done->wait();
  if (tensor.is_cuda()) tensor.copy_(host);
}

void MpiCommunicator::comm_thread_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {  // stopping, nothing left: the destructor frees comm_
        owner_.hand_to(std::thread::id(), "the communicator's thread ends");
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace scalebench
