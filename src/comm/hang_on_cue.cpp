#include "comm/hang_on_cue.hpp"

namespace scalebench {
namespace {

class NeverCompletes final : public Work {
 public:
  explicit NeverCompletes(std::shared_ptr<Work> inner) : inner_(std::move(inner)) {}
  void wait() override { inner_->wait(); }
  bool completed() override { return false; }
  CollectiveTiming timing() override { return inner_->timing(); }

 private:
  std::shared_ptr<Work> inner_;
};

class HangOnCue final : public Communicator {
 public:
  HangOnCue(std::unique_ptr<Communicator> inner, std::function<bool()> cue)
      : inner_(std::move(inner)), cue_(std::move(cue)) {}
  std::string backend() const override { return inner_->backend(); }
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::shared_ptr<Work> allreduce_mean_async(torch::Tensor tensor, MeanInputs inputs) override {
    std::shared_ptr<Work> work = inner_->allreduce_mean_async(std::move(tensor), inputs);
    if (!cue_()) return work;
    return std::make_shared<NeverCompletes>(std::move(work));
  }
  double mean_prescale() const override { return inner_->mean_prescale(); }
  void broadcast(torch::Tensor tensor, int root) override { inner_->broadcast(std::move(tensor), root); }
  void mark_step_start(std::chrono::steady_clock::time_point host_origin) override {
    inner_->mark_step_start(host_origin);
  }
  void abort() noexcept override { inner_->abort(); }
  std::string async_error() override { return inner_->async_error(); }

 private:
  std::unique_ptr<Communicator> inner_;
  std::function<bool()> cue_;
};

}  // namespace

std::unique_ptr<Communicator> hang_on_cue(std::unique_ptr<Communicator> inner, std::function<bool()> cue) {
  return std::make_unique<HangOnCue>(std::move(inner), std::move(cue));
}

}  // namespace scalebench
