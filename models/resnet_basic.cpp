#include "models/resnet_basic.hpp"

#include "models/layers.hpp"

namespace scalebench::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::BatchNorm2d batch_norm(const BasicResNetSpec& spec, std::int64_t channels) {
  return nn::BatchNorm2d(nn::BatchNorm2dOptions(channels).eps(spec.bn_epsilon).momentum(spec.bn_momentum));
}

KerasConv2d conv(const BasicResNetSpec& spec, std::int64_t in, std::int64_t out, std::int64_t kernel,
                 std::int64_t stride) {
  KerasConvOptions o = KerasConvOptions{}.same().with_stride(stride);
  o.bias = spec.conv_bias;
  return KerasConv2d(in, out, kernel, o);
}

class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(const BasicResNetSpec& spec, std::int64_t in, std::int64_t out, std::int64_t stride)
      : conv1_(register_module("conv1", conv(spec, in, out, 3, stride))),
        bn1_(register_module("bn1", batch_norm(spec, out))),
        conv2_(register_module("conv2", conv(spec, out, out, 3, 1))),
        bn2_(register_module("bn2", batch_norm(spec, out))),
        stride_(stride),
        pad_channels_(out - in) {
    if ((stride != 1 || in != out) && spec.projection_shortcut) {
      shortcut_conv_ = register_module("shortcut_conv", conv(spec, in, out, 1, stride));
      shortcut_bn_ = register_module("shortcut_bn", batch_norm(spec, out));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::relu(bn1_->forward(conv1_->forward(x)));
    y = bn2_->forward(conv2_->forward(y));
    return torch::relu(y + shortcut(x));
  }

 private:
  torch::Tensor shortcut(const torch::Tensor& x) {
    if (shortcut_conv_) return shortcut_bn_->forward(shortcut_conv_->forward(x));
    if (stride_ == 1 && pad_channels_ == 0) return x;
    // Option A: every stride-th pixel (ceil(n / stride) of them, as the 'same' conv gives), and
    // the new channels as zeros, half before and half after.
    using torch::indexing::Slice;
    torch::Tensor sub = x.index({Slice(), Slice(), Slice(torch::indexing::None, torch::indexing::None, stride_),
                                 Slice(torch::indexing::None, torch::indexing::None, stride_)});
    const std::int64_t before = pad_channels_ / 2;
    return F::pad(sub, F::PadFuncOptions({0, 0, 0, 0, before, pad_channels_ - before}));
  }

  KerasConv2d conv1_;
  nn::BatchNorm2d bn1_;
  KerasConv2d conv2_;
  nn::BatchNorm2d bn2_;
  KerasConv2d shortcut_conv_{nullptr};
  nn::BatchNorm2d shortcut_bn_{nullptr};
  std::int64_t stride_;
  std::int64_t pad_channels_;
};
TORCH_MODULE(BasicBlock);

class BasicResNet : public Network {
 public:
  BasicResNet(const BasicResNetSpec& spec, std::int64_t channels, std::int64_t size, std::int64_t classes)
      : Network({{channels, size, size}}, classes),
        conv1_(register_module("conv1", conv(spec, channels, spec.widths.front(), 3, 1))),
        bn1_(register_module("bn1", batch_norm(spec, spec.widths.front()))) {
    std::int64_t in = spec.widths.front();
    for (std::size_t s = 0; s < spec.widths.size(); ++s) {
      for (std::int64_t b = 0; b < spec.blocks_per_stage; ++b) {
        stages_->push_back(BasicBlock(spec, in, spec.widths[s], b == 0 && s > 0 ? 2 : 1));
        in = spec.widths[s];
      }
    }
    stages_ = register_module("stages", stages_);
    fc_ = register_module("fc", CountedLinear(in, classes));
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1_->forward(conv1_->forward(x)));
    return fc_->forward(global_average_pool(stages_->forward(x)));
  }

 private:
  KerasConv2d conv1_;
  nn::BatchNorm2d bn1_;
  nn::Sequential stages_;
  CountedLinear fc_{nullptr};
};

}  // namespace

std::shared_ptr<Network> make_basic_resnet(const BasicResNetSpec& spec, std::int64_t channels,
                                           std::int64_t size, std::int64_t classes) {
  return std::make_shared<BasicResNet>(spec, channels, size, classes);
}

}  // namespace scalebench::models
