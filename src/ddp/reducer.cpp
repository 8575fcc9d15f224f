#include "ddp/reducer.hpp"

#include <stdexcept>
#include <string>

namespace scalebench {

Reducer::Reducer(std::vector<torch::Tensor> params, Communicator& comm, ReducerOptions options)
    : params_(std::move(params)), comm_(comm), options_(options), prescale_(comm.mean_prescale()) {
  if (params_.empty()) throw std::invalid_argument("the model has no trainable parameters");
  const auto dtype = params_.front().scalar_type();
  const auto device = params_.front().device();
  std::vector<std::int64_t> numels;
  for (const auto& p : params_) {
    if (p.scalar_type() != dtype || p.device() != device) {
      throw std::invalid_argument("all trainable parameters must share one dtype and device");
    }
    numels.push_back(p.numel());
  }
  plan_ = make_bucket_plan(numels, params_.front().element_size(), options_.bucket_cap_bytes,
                           options_.first_bucket_cap_bytes, {});
  allocate_buckets();
  prescale_tensor_ = torch::scalar_tensor(prescale_, torch::TensorOptions().dtype(dtype));
  param_done_.assign(params_.size(), false);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    hooks_.push_back(params_[i].register_hook([this, i](const torch::Tensor& grad) { on_gradient(i, grad); }));
  }
}

void Reducer::allocate_buckets() {
  flat_.clear();  // the old buffers go first: the peak is one set, not two
  for (const auto& b : plan_.buckets) {
    flat_.push_back(torch::zeros({b.numel}, params_.front().options().requires_grad(false)));
  }
  pending_.assign(plan_.buckets.size(), 0);
  ready_at_.assign(plan_.buckets.size(), {});
  works_.assign(plan_.buckets.size(), nullptr);
  next_to_launch_ = 0;
}

std::vector<std::size_t> Reducer::observe_gradient_order(const std::function<void()>& forward_and_backward) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_backward_) throw std::logic_error("Reducer::observe_gradient_order during a step");
    observing_ = true;
    observed_order_.clear();
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  try {
    forward_and_backward();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    observing_ = false;
    throw;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  observing_ = false;
  std::vector<std::size_t> order;
  std::vector<bool> seen(params_.size(), false);
  for (std::size_t k : observed_order_) {
    if (!seen[k]) order.push_back(k);
    seen[k] = true;
  }
  for (std::size_t k = params_.size(); k-- > 0;) {
    if (!seen[k]) order.push_back(k);
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  return order;
}

void Reducer::rebuild(const std::vector<std::size_t>& order) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_backward_) throw std::logic_error("Reducer::rebuild during a step");
  std::vector<std::int64_t> numels;
  for (const auto& p : params_) numels.push_back(p.numel());
  plan_ = make_bucket_plan(numels, params_.front().element_size(), options_.bucket_cap_bytes,
                           options_.first_bucket_cap_bytes, order);
  allocate_buckets();
}

Reducer::~Reducer() {
  // The hooks capture this Reducer: a model that outlives it (a --find-max-batch candidate's
  // trainer, a test) must not call into a destroyed one at its next backward.
  for (std::size_t i = 0; i < params_.size() && i < hooks_.size(); ++i) params_[i].remove_hook(hooks_[i]);
}

void Reducer::prepare_for_backward() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t b = 0; b < plan_.buckets.size(); ++b) {
    pending_[b] = static_cast<std::int64_t>(plan_.buckets[b].slots.size());
    works_[b].reset();
  }
  std::fill(param_done_.begin(), param_done_.end(), false);
  next_to_launch_ = 0;
  in_backward_ = true;
  // .grad from the last step points into the bucket buffers; with no .grad, autograd hands the new
  // gradient over without accumulating into our buffers.
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
}

void Reducer::on_gradient(std::size_t param, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (observing_) {
    observed_order_.push_back(param);  // once per parameter: no accumulation within one backward
    return;
  }
  if (!in_backward_) {
    throw std::logic_error("gradient produced outside a step (call prepare_for_backward first)");
  }
  if (param_done_[param]) {
    throw std::logic_error("parameter " + std::to_string(param) +
                           " received two gradients in one step; gradient accumulation across "
                           "backward calls is not supported");
  }
  param_done_[param] = true;
  const std::size_t b = plan_.bucket_of_param[param];
  const auto& slot = plan_.buckets[b].slots[plan_.slot_of_param[param]];
  torch::Tensor into = flat_[b].narrow(0, slot.offset, slot.numel).view(grad.sizes());
  if (prescale_ != 1.0) {
    // The mean's division, in the copy made anyway. The factor goes in as a 0-dim tensor: the
    // Scalar overload of mul_out is a composite that multiplies into a temporary and copies that
    // (measured: fcn_s backward 336 -> 551 ms), the Tensor overload is the kernel itself.
    at::mul_out(into, grad, prescale_tensor_);
  } else {
    into.copy_(grad);
  }
  if (--pending_[b] == 0) {
    ready_at_[b] = std::chrono::steady_clock::now();
    if (options_.overlap) launch_ready_buckets_in_order();
  }
}

void Reducer::launch_ready_buckets_in_order() {
  while (next_to_launch_ < plan_.buckets.size() && pending_[next_to_launch_] == 0) {
    works_[next_to_launch_] = comm_.allreduce_mean_async(
        flat_[next_to_launch_], prescale_ != 1.0 ? MeanInputs::kPrescaled : MeanInputs::kRaw);
    ++next_to_launch_;
  }
}

void Reducer::set_overlap(bool overlap) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (in_backward_) throw std::logic_error("Reducer::set_overlap during a backward pass");
  options_.overlap = overlap;
}

void Reducer::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A parameter that got no gradient this step (unused in the graph) contributes zeros, the same
    // on every rank, so that every rank still launches every bucket.
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (param_done_[i]) continue;
      const std::size_t b = plan_.bucket_of_param[i];
      const auto& slot = plan_.buckets[b].slots[plan_.slot_of_param[i]];
      flat_[b].narrow(0, slot.offset, slot.numel).zero_();
      param_done_[i] = true;
      if (--pending_[b] == 0) ready_at_[b] = std::chrono::steady_clock::now();
    }
    launch_ready_buckets_in_order();
    in_backward_ = false;
  }
  for (auto& w : works_) w->wait();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::size_t b = plan_.bucket_of_param[i];
    const auto& slot = plan_.buckets[b].slots[plan_.slot_of_param[i]];
    params_[i].mutable_grad() = flat_[b].narrow(0, slot.offset, slot.numel).view(params_[i].sizes());
  }
}

bool Reducer::collectives_completed() {
  for (auto& w : works_) {
    if (w && !w->completed()) return false;
  }
  return true;
}

ReducerStepStats Reducer::step_stats(std::chrono::steady_clock::time_point origin) {
  ReducerStepStats stats;
  for (std::size_t b = 0; b < works_.size(); ++b) {
    if (!works_[b]) continue;
    const CollectiveTiming t = works_[b]->timing();
    stats.bucket_ready_s.push_back(std::chrono::duration<double>(ready_at_[b] - origin).count());
    stats.bucket_start_s.push_back(t.start_s);
    stats.bucket_duration_s.push_back(t.duration_s);
    stats.comm_busy_s += t.duration_s;
    stats.bytes_reduced += plan_.buckets[b].bytes;
  }
  return stats;
}

std::string gradient_mean_description(const Communicator& comm) {
  const std::string n = std::to_string(comm.size());
  if (comm.size() == 1) return "none (a world of one: the sum is the mean)";
  if (comm.mean_prescale() != 1.0) {
    return "prescaled: each gradient multiplied by 1/" + n + " as its hook copies it into the bucket, "
           "the backend sums (exact: " + n + " is a power of two)";
  }
  if (comm.backend() == "nccl") return "the backend's average (ncclAvg)";
  return "the sum divided by " + n + " on the communicator's thread, slice by slice";
}

std::vector<torch::Tensor> floating_point_buffers(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (auto& b : module.buffers()) {
    if (b.is_floating_point()) out.push_back(b);
  }
  return out;
}

std::vector<torch::Tensor> model_buffers(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (auto& b : module.buffers()) out.push_back(b);
  return out;
}

void broadcast_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& t : tensors) flat_parts.push_back(t.detach().reshape({-1}));
  // One dtype per coalesced buffer: split by type (float parameters, integer counters).
  std::map<c10::ScalarType, std::vector<std::size_t>> by_type;
  for (std::size_t i = 0; i < tensors.size(); ++i) by_type[tensors[i].scalar_type()].push_back(i);
  for (const auto& [type, indices] : by_type) {
    std::vector<torch::Tensor> parts;
    for (auto i : indices) parts.push_back(flat_parts[i]);
    torch::Tensor buffer = torch::cat(parts).contiguous();
    comm.broadcast(buffer, root);
    std::int64_t offset = 0;
    for (auto i : indices) {
      const auto n = tensors[i].numel();
      tensors[i].detach().view({-1}).copy_(buffer.narrow(0, offset, n));
      offset += n;
    }
  }
}

}  // namespace scalebench
