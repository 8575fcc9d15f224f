#pragma once
// The layers the reference models are made of. Conv, Linear and LSTM are torch's, extended only to
// report their forward cost to an open MacTally (mac_counter.hpp); every model builds from these,
// and count_macs refuses a model holding a plain torch layer, so no cost goes uncounted.
//
// Keras semantics that decide shapes (and so the size of the Dense layers after a Flatten):
//   padding='same' makes output = ceil(input / stride); when the padding needed is odd (stride 2 on
//   an even size) the extra row/column goes at the bottom/right. 'valid' pads nothing.
#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace scalebench::models {

// --- counted torch layers ---------------------------------------------------------------------

class CountedConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& input);
};
TORCH_MODULE(CountedConv2d);

class CountedConv1dImpl : public torch::nn::Conv1dImpl {
 public:
  using torch::nn::Conv1dImpl::Conv1dImpl;
  torch::Tensor forward(const torch::Tensor& input);
};
TORCH_MODULE(CountedConv1d);

class CountedLinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  torch::Tensor forward(const torch::Tensor& input);
};
TORCH_MODULE(CountedLinear);

// --- Keras layers -----------------------------------------------------------------------------

enum class Padding { kValid, kSame };

struct KerasConvOptions {
  std::int64_t stride = 1;
  Padding padding = Padding::kValid;
  bool bias = true;    // Keras' use_bias (default True)
  std::int64_t groups = 1;
  KerasConvOptions& with_stride(std::int64_t s) { stride = s; return *this; }
  KerasConvOptions& same() { padding = Padding::kSame; return *this; }
  KerasConvOptions& no_bias() { bias = false; return *this; }
  KerasConvOptions& with_groups(std::int64_t g) { groups = g; return *this; }
};

// (before, after) zero padding of Keras 'same' along one dimension of `size`.
std::pair<std::int64_t, std::int64_t> keras_same_padding(std::int64_t size, std::int64_t kernel,
                                                         std::int64_t stride);

// Keras Conv2D (square kernel). 'same' at stride 1 with an odd kernel is symmetric and left to the
// convolution; otherwise the input is padded as Keras pads it, bottom/right first.
class KerasConv2dImpl : public CountedConv2dImpl {
 public:
  KerasConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, KerasConvOptions options = {});
  torch::Tensor forward(const torch::Tensor& input);

 private:
  std::int64_t kernel_, stride_;
  bool pad_in_forward_;
};
TORCH_MODULE(KerasConv2d);

// Keras SeparableConv2D (depth multiplier 1): a depthwise kxk convolution (groups = input
// channels, no bias) then a pointwise 1x1 convolution that carries the bias if any.
class SeparableConv2dImpl : public torch::nn::Module {
 public:
  SeparableConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, KerasConvOptions options = {});
  torch::Tensor forward(const torch::Tensor& input);

 private:
  KerasConv2d depthwise_{nullptr};
  KerasConv2d pointwise_{nullptr};
};
TORCH_MODULE(SeparableConv2d);

// Keras MaxPooling2D(pool, strides, padding='same'): the padded cells never win (-inf).
torch::Tensor keras_max_pool_same(const torch::Tensor& x, std::int64_t pool, std::int64_t stride);

// Keras BatchNormalization: momentum 0.99 on the moving statistics is torch's momentum 0.01.
// Keras' default epsilon is 1e-3; the Keras ResNets use 1.001e-5.
constexpr double kKerasBatchNormEpsilon = 1e-3;
torch::nn::BatchNorm2d keras_batch_norm(std::int64_t channels, double epsilon = kKerasBatchNormEpsilon);

// Keras LSTM returning the last output, with Keras' parameters: kernel [4h, in], recurrent kernel
// [4h, h] and ONE bias [4h] (torch's LSTM has two, which would overstate the count by 4h). Runs
// torch's fused LSTM with a zero second bias. Initialised as Keras does: glorot_uniform kernel,
// orthogonal recurrent kernel, zero bias but 1 on the forget gate (unit_forget_bias).
class KerasLSTMImpl : public torch::nn::Module {
 public:
  KerasLSTMImpl(std::int64_t input_size, std::int64_t hidden_size);
  // [batch, time, features] -> last hidden state [batch, hidden].
  torch::Tensor forward(const torch::Tensor& input);
  void reset_parameters();
  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }

  torch::Tensor weight_ih, weight_hh, bias;

 private:
  std::int64_t input_size_, hidden_size_;
};
TORCH_MODULE(KerasLSTM);

// Keras GlobalAveragePooling2D: [N, C, H, W] -> [N, C].
inline torch::Tensor global_average_pool(const torch::Tensor& x) { return x.mean({2, 3}); }

// --- shape arithmetic, for sizing Dense layers and finding the smallest input ----------------

// Output of a kernel/pool of size k and stride s over n cells with `pad` cells added in all
// (0 when the window does not fit at all). floor as Keras 'valid' and torch pooling.
constexpr std::int64_t window_out(std::int64_t n, std::int64_t k, std::int64_t s = 1, std::int64_t pad = 0) {
  return n + pad < k ? 0 : (n + pad - k) / s + 1;
}
// Keras 'same': ceil(n / s) (0 stays 0).
constexpr std::int64_t same_out(std::int64_t n, std::int64_t s) { return n < 1 ? 0 : (n + s - 1) / s; }

}  // namespace scalebench::models
