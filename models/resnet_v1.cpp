// torchvision's ResNet-50 and ResNet-101 (v1.5: the stride on the 3x3 convolution of the
// bottleneck, not on the first 1x1), the models of the PyTorch DDP and Horovod scaling results.
//   conv 7x7/2 (pad 3, no bias) -> BN -> ReLU -> maxpool 3/2 (pad 1) -> 4 stages of bottlenecks
//   (64, 128, 256, 512 planes, x4 expansion; the first block of stages 2-4 has stride 2; a block
//   whose shape changes gets a 1x1 conv + BN shortcut) -> global average pool -> Linear 1000.
// BatchNorm: torch's defaults (eps 1e-5, momentum 0.1), as torchvision.
#include "models/layers.hpp"
#include "models/registry.hpp"
#include "models/resnet_v2.hpp"  // the block counts per stage, shared with the V2 networks

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
constexpr std::int64_t kExpansion = 4;
constexpr std::int64_t kImageNetClasses = 1000;

CountedConv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t pad) {
  return CountedConv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(pad).bias(false));
}

class BottleneckImpl : public nn::Module {
 public:
  BottleneckImpl(std::int64_t in, std::int64_t planes, std::int64_t stride)
      : conv1_(register_module("conv1", conv(in, planes, 1, 1, 0))),
        bn1_(register_module("bn1", nn::BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv(planes, planes, 3, stride, 1))),
        bn2_(register_module("bn2", nn::BatchNorm2d(planes))),
        conv3_(register_module("conv3", conv(planes, kExpansion * planes, 1, 1, 0))),
        bn3_(register_module("bn3", nn::BatchNorm2d(kExpansion * planes))) {
    if (stride != 1 || in != kExpansion * planes) {
      down_conv_ = register_module("down_conv", conv(in, kExpansion * planes, 1, stride, 0));
      down_bn_ = register_module("down_bn", nn::BatchNorm2d(kExpansion * planes));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::relu(bn1_->forward(conv1_->forward(x)));
    y = torch::relu(bn2_->forward(conv2_->forward(y)));
    y = bn3_->forward(conv3_->forward(y));
    const torch::Tensor identity = down_conv_ ? down_bn_->forward(down_conv_->forward(x)) : x;
    return torch::relu(y + identity);
  }

 private:
  CountedConv2d conv1_;
  nn::BatchNorm2d bn1_;
  CountedConv2d conv2_;
  nn::BatchNorm2d bn2_;
  CountedConv2d conv3_;
  nn::BatchNorm2d bn3_;
  CountedConv2d down_conv_{nullptr};
  nn::BatchNorm2d down_bn_{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNetV1 : public Network {
 public:
  ResNetV1(std::int64_t channels, std::int64_t size, const std::vector<std::int64_t>& blocks, std::int64_t classes)
      : Network({{channels, size, size}}, classes),
        conv1_(register_module("conv1", conv(channels, 64, 7, 2, 3))),
        bn1_(register_module("bn1", nn::BatchNorm2d(64))) {
    std::int64_t in = 64;
    for (std::size_t s = 0; s < blocks.size(); ++s) {
      const std::int64_t planes = 64LL << s;
      for (std::int64_t b = 0; b < blocks[s]; ++b) {
        stages_->push_back(Bottleneck(in, planes, b == 0 && s > 0 ? 2 : 1));
        in = kExpansion * planes;
      }
    }
    stages_ = register_module("stages", stages_);
    fc_ = register_module("fc", CountedLinear(in, classes));
    torchvision_initialize(*this);
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1_->forward(conv1_->forward(x)));
    x = torch::nn::functional::max_pool2d(x, torch::nn::functional::MaxPool2dFuncOptions(3).stride(2).padding(1));
    return fc_->forward(global_average_pool(stages_->forward(x)));
  }

  static std::int64_t output_size(std::int64_t n) {
    std::int64_t s = window_out(window_out(n, 7, 2, 6), 3, 2, 2);
    for (int stride = 0; stride < 3; ++stride) s = window_out(s, 3, 2, 2);
    return s;
  }

 private:
  CountedConv2d conv1_;
  nn::BatchNorm2d bn1_;
  nn::Sequential stages_;
  CountedLinear fc_{nullptr};
};

ModelEntry resnet_entry(const std::string& name, const std::vector<std::int64_t>& blocks,
                        const std::string& source) {
  ModelEntry e;
  e.name = name;
  e.source = source;
  e.description = "ResNet v1.5 bottleneck " + name.substr(6) + " layers, ImageNet 1000 classes";
  e.input_shape = {3, 224, 224};
  e.num_classes = kImageNetClasses;
  e.default_batch = 32;  // torchvision's reference recipe: 256 over 8 GPUs
  e.default_optimizer = "sgd";
  e.default_lr = 0.1;
  e.default_momentum = 0.9;
  e.min_image_size = smallest_size([](std::int64_t n) { return ResNetV1::output_size(n) >= 1; });
  e.build = [e, blocks](const ModelOptions& o) -> std::shared_ptr<Network> {
    return std::make_shared<ResNetV1>(image_channels(e, o), image_size(e, o), blocks, kImageNetClasses);
  };
  return e;
}
}  // namespace

ModelEntry resnet50_entry() {
  return resnet_entry("resnet50", kResNet50Blocks,
                      "torchvision resnet50 (PyTorch DDP benchmark, NVIDIA examples; 4.09 GMACs at 224)");
}

ModelEntry resnet101_entry() {
  return resnet_entry("resnet101", kResNet101Blocks, "torchvision resnet101 (Horovod's 512-GPU results)");
}

}  // namespace scalebench::models
