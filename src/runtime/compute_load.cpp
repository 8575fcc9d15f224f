#include "runtime/compute_load.hpp"

#include <pthread.h>
#include <time.h>

#include <torch/torch.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace scalebench {

ComputeLoad::ComputeLoad(std::int64_t side) : side_(side) {
  if (side_ < 1) throw std::invalid_argument("compute load: matrix side must be >= 1");
  thread_ = std::thread([this] { loop(); });
  const int rc = pthread_getcpuclockid(thread_.native_handle(), &clock_);
  if (rc != 0) {
    stop_ = true;
    thread_.join();
    throw std::system_error(rc, std::generic_category(), "pthread_getcpuclockid of the compute load");
  }
}

ComputeLoad::~ComputeLoad() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ComputeLoad::loop() {
  try {
    torch::NoGradGuard no_grad;
    const auto options = torch::TensorOptions().dtype(torch::kFloat32);
    const torch::Tensor a = torch::rand({side_, side_}, options);
    const torch::Tensor b = torch::rand({side_, side_}, options);
    torch::Tensor c = torch::empty({side_, side_}, options);
    while (!stop_.load(std::memory_order_relaxed)) {
      torch::mm_out(c, a, b);
    }
  } catch (...) {
    error_ = std::current_exception();
    failed_ = true;
  }
}

double ComputeLoad::cpu_seconds() const {
  check();
  timespec ts{};
  if (clock_gettime(clock_, &ts) != 0) {
    throw std::system_error(errno, std::generic_category(), "clock_gettime of the compute load's thread");
  }
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void ComputeLoad::check() const {
  if (failed_.load()) std::rethrow_exception(error_);
}

std::string ComputeLoad::description() const {
  const std::string n = std::to_string(side_);
  return "float32 matrix products " + n + " x " + n + " in a loop on a thread of each rank, " +
         std::to_string(torch::get_num_threads()) + " intra-op thread(s)";
}

}  // namespace scalebench
