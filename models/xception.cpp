#include "models/xception.hpp"

namespace scalebench::models {
namespace {
constexpr std::int64_t kMiddleWidth = 728;
constexpr std::int64_t kMiddleBlocks = 8;
constexpr std::int64_t kSepConvsPerMiddleBlock = 3;

KerasConvOptions same_no_bias() { return KerasConvOptions{}.same().no_bias(); }
}  // namespace

XceptionDownBlockImpl::XceptionDownBlockImpl(std::int64_t in, std::int64_t mid, std::int64_t out,
                                             bool relu_first)
    : relu_first_(relu_first) {
  shortcut_conv_ = register_module("shortcut_conv", KerasConv2d(in, out, 1, same_no_bias().with_stride(2)));
  shortcut_bn_ = register_module("shortcut_bn", keras_batch_norm(out));
  sep1_ = register_module("sep1", SeparableConv2d(in, mid, 3, same_no_bias()));
  bn1_ = register_module("bn1", keras_batch_norm(mid));
  sep2_ = register_module("sep2", SeparableConv2d(mid, out, 3, same_no_bias()));
  bn2_ = register_module("bn2", keras_batch_norm(out));
}

torch::Tensor XceptionDownBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor shortcut = shortcut_bn_->forward(shortcut_conv_->forward(x));
  torch::Tensor y = bn1_->forward(sep1_->forward(relu_first_ ? torch::relu(x) : x));
  y = bn2_->forward(sep2_->forward(torch::relu(y)));
  return keras_max_pool_same(y, 3, 2) + shortcut;
}

XceptionMiddleBlockImpl::XceptionMiddleBlockImpl(std::int64_t channels) {
  for (std::int64_t i = 0; i < kSepConvsPerMiddleBlock; ++i) {
    seps_->push_back(SeparableConv2d(channels, channels, 3, same_no_bias()));
    bns_->push_back(keras_batch_norm(channels));
  }
  seps_ = register_module("seps", seps_);
  bns_ = register_module("bns", bns_);
}

torch::Tensor XceptionMiddleBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x;
  for (std::size_t i = 0; i < seps_->size(); ++i) {
    y = bns_[i]->as<torch::nn::BatchNorm2d>()->forward(
        seps_[i]->as<SeparableConv2d>()->forward(torch::relu(y)));
  }
  return y + x;
}

XceptionBaseImpl::XceptionBaseImpl(std::int64_t in_channels) {
  // Entry flow stem: Conv 32 3x3/2 'valid', Conv 64 3x3 'valid', no bias, BN + ReLU each.
  conv1_ = register_module("conv1", KerasConv2d(in_channels, 32, 3, KerasConvOptions{}.with_stride(2).no_bias()));
  bn1_ = register_module("bn1", keras_batch_norm(32));
  conv2_ = register_module("conv2", KerasConv2d(32, 64, 3, KerasConvOptions{}.no_bias()));
  bn2_ = register_module("bn2", keras_batch_norm(64));
  // Block 2 follows the stem's ReLU, so it does not start with one; blocks 3 and 4 do.
  entry_->push_back(XceptionDownBlock(64, 128, 128, /*relu_first=*/false));
  entry_->push_back(XceptionDownBlock(128, 256, 256, true));
  entry_->push_back(XceptionDownBlock(256, kMiddleWidth, kMiddleWidth, true));
  entry_ = register_module("entry", entry_);
  for (std::int64_t i = 0; i < kMiddleBlocks; ++i) middle_->push_back(XceptionMiddleBlock(kMiddleWidth));
  middle_ = register_module("middle", middle_);
  exit_block_ = register_module("exit_block", XceptionDownBlock(kMiddleWidth, kMiddleWidth, 1024, true));
  sep1_ = register_module("sep1", SeparableConv2d(1024, 1536, 3, same_no_bias()));
  bn3_ = register_module("bn3", keras_batch_norm(1536));
  sep2_ = register_module("sep2", SeparableConv2d(1536, kXceptionOutChannels, 3, same_no_bias()));
  bn4_ = register_module("bn4", keras_batch_norm(kXceptionOutChannels));
}

torch::Tensor XceptionBaseImpl::forward(torch::Tensor x) {
  x = torch::relu(bn1_->forward(conv1_->forward(x)));
  x = torch::relu(bn2_->forward(conv2_->forward(x)));
  x = exit_block_->forward(middle_->forward(entry_->forward(x)));
  x = torch::relu(bn3_->forward(sep1_->forward(x)));
  return torch::relu(bn4_->forward(sep2_->forward(x)));
}

std::int64_t XceptionBaseImpl::output_size(std::int64_t n) {
  std::int64_t s = window_out(window_out(n, 3, 2), 3);  // the two 'valid' stem convolutions
  for (int pool = 0; pool < 4; ++pool) s = same_out(s, 2);  // blocks 2, 3, 4 and 13
  return s;
}

}  // namespace scalebench::models
