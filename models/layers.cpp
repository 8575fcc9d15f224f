#include "models/layers.hpp"

#include <limits>

#include "models/mac_counter.hpp"

namespace scalebench::models {
namespace F = torch::nn::functional;

namespace {
template <typename ConvOptions>
std::int64_t conv_macs(const ConvOptions& opt, const torch::Tensor& out) {
  std::int64_t kernel = 1;
  for (auto k : *opt.kernel_size()) kernel *= k;
  // Per sample: the tally counts one sample at a time, but the formula holds per batch row.
  return out.numel() / out.size(0) * (opt.in_channels() / opt.groups()) * kernel;
}
}  // namespace

torch::Tensor CountedConv2dImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = torch::nn::Conv2dImpl::forward(input);
  MacTally::add(conv_macs(options, out));
  return out;
}

torch::Tensor CountedConv1dImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = torch::nn::Conv1dImpl::forward(input);
  MacTally::add(conv_macs(options, out));
  return out;
}

torch::Tensor CountedLinearImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = torch::nn::LinearImpl::forward(input);
  MacTally::add(out.numel() / out.size(0) * options.in_features());
  return out;
}

std::pair<std::int64_t, std::int64_t> keras_same_padding(std::int64_t size, std::int64_t kernel,
                                                         std::int64_t stride) {
  // TensorFlow: pad so that output = ceil(size / stride); the odd cell goes after.
  const std::int64_t out = same_out(size, stride);
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};
}

namespace {
bool symmetric_same(std::int64_t kernel, std::int64_t stride) { return stride == 1 && kernel % 2 == 1; }

torch::nn::Conv2dOptions keras_conv_options(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                            const KerasConvOptions& o) {
  const bool conv_pads = o.padding == Padding::kSame && symmetric_same(kernel, o.stride);
  return torch::nn::Conv2dOptions(in, out, kernel)
      .stride(o.stride)
      .padding(conv_pads ? kernel / 2 : 0)
      .bias(o.bias)
      .groups(o.groups);
}

// F::pad's order: last dimension first (left, right, top, bottom).
std::vector<std::int64_t> same_pads(const torch::Tensor& x, std::int64_t kernel, std::int64_t stride) {
  const auto [top, bottom] = keras_same_padding(x.size(2), kernel, stride);
  const auto [left, right] = keras_same_padding(x.size(3), kernel, stride);
  return {left, right, top, bottom};
}

bool all_zero(const std::vector<std::int64_t>& pads) {
  for (auto p : pads) {
    if (p != 0) return false;
  }
  return true;
}
}  // namespace

KerasConv2dImpl::KerasConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                 KerasConvOptions options)
    : CountedConv2dImpl(keras_conv_options(in, out, kernel, options)),
      kernel_(kernel),
      stride_(options.stride),
      pad_in_forward_(options.padding == Padding::kSame && !symmetric_same(kernel, options.stride)) {}

torch::Tensor KerasConv2dImpl::forward(const torch::Tensor& input) {
  if (pad_in_forward_) {
    const auto pads = same_pads(input, kernel_, stride_);
    // A 1x1 stride-2 'same' convolution (Xception's shortcuts) never needs padding: no copy.
    if (!all_zero(pads)) return CountedConv2dImpl::forward(F::pad(input, F::PadFuncOptions(pads)));
  }
  return CountedConv2dImpl::forward(input);
}

SeparableConv2dImpl::SeparableConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                         KerasConvOptions options) {
  KerasConvOptions depthwise = options;
  depthwise.bias = false;
  depthwise.groups = in;
  KerasConvOptions pointwise;
  pointwise.bias = options.bias;
  depthwise_ = register_module("depthwise", KerasConv2d(in, in, kernel, depthwise));
  pointwise_ = register_module("pointwise", KerasConv2d(in, out, 1, pointwise));
}

torch::Tensor SeparableConv2dImpl::forward(const torch::Tensor& input) {
  return pointwise_->forward(depthwise_->forward(input));
}

torch::Tensor keras_max_pool_same(const torch::Tensor& x, std::int64_t pool, std::int64_t stride) {
  const auto pads = same_pads(x, pool, stride);
  const auto pooling = F::MaxPool2dFuncOptions(pool).stride(stride);
  if (all_zero(pads)) return F::max_pool2d(x, pooling);
  // Symmetric padding is torch's own (implicit -inf); asymmetric is padded explicitly with -inf.
  if (pads[0] == pads[1] && pads[2] == pads[3] && pads[0] == pads[2]) {
    return F::max_pool2d(x, F::MaxPool2dFuncOptions(pool).stride(stride).padding(pads[0]));
  }
  const double lowest = -std::numeric_limits<double>::infinity();
  return F::max_pool2d(F::pad(x, F::PadFuncOptions(pads).value(lowest)), pooling);
}

torch::nn::BatchNorm2d keras_batch_norm(std::int64_t channels, double epsilon) {
  constexpr double kKerasMomentum = 0.99;  // Keras: moving = m * moving + (1 - m) * batch
  return torch::nn::BatchNorm2d(
      torch::nn::BatchNorm2dOptions(channels).eps(epsilon).momentum(1.0 - kKerasMomentum));
}

KerasLSTMImpl::KerasLSTMImpl(std::int64_t input_size, std::int64_t hidden_size)
    : input_size_(input_size), hidden_size_(hidden_size) {
  weight_ih = register_parameter("weight_ih", torch::empty({4 * hidden_size, input_size}));
  weight_hh = register_parameter("weight_hh", torch::empty({4 * hidden_size, hidden_size}));
  bias = register_parameter("bias", torch::empty({4 * hidden_size}));
  reset_parameters();
}

void KerasLSTMImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  // glorot_uniform of Keras' kernel (in, 4h) has the same fan_in/fan_out as torch's [4h, in].
  torch::nn::init::xavier_uniform_(weight_ih);
  // Keras: orthogonal (in, 4h) recurrent kernel; the transpose of an orthogonal matrix is one too.
  torch::nn::init::orthogonal_(weight_hh);
  bias.zero_();
  // torch's gate order is input, forget, cell, output: the forget gate's bias is [h, 2h).
  bias.narrow(0, hidden_size_, hidden_size_).fill_(1.0);
}

torch::Tensor KerasLSTMImpl::forward(const torch::Tensor& input) {
  const std::int64_t batch = input.size(0);
  const std::int64_t steps = input.size(1);
  const auto zeros = torch::zeros({1, batch, hidden_size_}, input.options());
  const auto no_second_bias = torch::zeros({4 * hidden_size_}, bias.options());
  auto result = torch::lstm(input, {zeros, zeros}, {weight_ih, weight_hh, bias, no_second_bias},
                            /*has_biases=*/true, /*num_layers=*/1, /*dropout=*/0.0, is_training(),
                            /*bidirectional=*/false, /*batch_first=*/true);
  MacTally::add(steps * 4 * (input_size_ + hidden_size_) * hidden_size_);
  // Keras' LSTM(return_sequences=False) returns the last hidden state.
  return std::get<1>(result).squeeze(0);
}

}  // namespace scalebench::models
