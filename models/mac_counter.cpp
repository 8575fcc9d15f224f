#include "models/mac_counter.hpp"

#include <stdexcept>
#include <string>

#include "models/layers.hpp"
#include "models/network.hpp"

namespace scalebench::models {
namespace {
thread_local MacTally* open_tally = nullptr;

// A plain torch layer of a kind that has a cost would report nothing: refuse rather than undercount.
void check_all_layers_counted(torch::nn::Module& network) {
  for (const auto& item : network.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    torch::nn::Module* m = item.value().get();
    const bool uncounted =
        (dynamic_cast<torch::nn::Conv2dImpl*>(m) && !dynamic_cast<CountedConv2dImpl*>(m)) ||
        (dynamic_cast<torch::nn::Conv1dImpl*>(m) && !dynamic_cast<CountedConv1dImpl*>(m)) ||
        (dynamic_cast<torch::nn::LinearImpl*>(m) && !dynamic_cast<CountedLinearImpl*>(m)) ||
        dynamic_cast<torch::nn::LSTMImpl*>(m) || dynamic_cast<torch::nn::Conv3dImpl*>(m);
    if (uncounted) {
      throw std::logic_error("layer '" + item.key() + "' (" + m->name() +
                             ") does not report its MACs; build models from models/layers.hpp");
    }
  }
}
}  // namespace

MacTally::MacTally() : previous_(open_tally) { open_tally = this; }

MacTally::~MacTally() { open_tally = previous_; }

void MacTally::add(std::int64_t macs) {
  if (open_tally) open_tally->total_ += macs;
}

std::int64_t count_macs(Network& network) {
  check_all_layers_counted(network);
  torch::NoGradGuard no_grad;
  const bool was_training = network.is_training();
  network.eval();
  std::vector<std::int64_t> shape{1};
  const InputSpec& in = network.input();
  shape.insert(shape.end(), in.shape.begin(), in.shape.end());
  auto options = torch::TensorOptions().dtype(in.dtype);
  const auto params = network.parameters();
  if (!params.empty()) options = options.device(params.front().device());
  MacTally tally;
  try {
    network.forward(torch::zeros(shape, options));
  } catch (...) {
    network.train(was_training);
    throw;
  }
  network.train(was_training);
  return tally.total();
}

}  // namespace scalebench::models
