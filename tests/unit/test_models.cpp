#include <gtest/gtest.h>

#include "models/registry.hpp"

namespace scalebench::models {
namespace {

struct Expected {
  const char* name;
  std::int64_t params;  // Keras model.summary() "Total params" of the same description
  std::int64_t macs;    // analytic, hand-computed below
};

// cifar10_cnn at 32x32x3: convs 32x32x(3*9)*32 + 30x30x(32*9)*32 + 15x15x(32*9)*64 +
// 13x13x(64*9)*64, dense 2304*512 + 512*10.
constexpr std::int64_t kCifarMacs = 32LL * 32 * 27 * 32 + 30LL * 30 * 288 * 32 + 15LL * 15 * 288 * 64 +
                                    13LL * 13 * 576 * 64 + 2304LL * 512 + 512LL * 10;
constexpr std::int64_t kFcnRMacs = 784LL * 2048 + 2048LL * 4096 + 4096LL * 1024 + 1024LL * 10;
constexpr std::int64_t kFcnSMacs = 26752LL * 2048 + 2048LL * 2048 * 2 + 2048LL * 26752;

TEST(Models, ParameterCountsMatchKeras) {
  const Expected expected[] = {
      {"cifar10_cnn", 1250858, kCifarMacs},
      {"fcn_r", 784 * 2048 + 2048 + 2048 * 4096 + 4096 + 4096 * 1024 + 1024 + 1024 * 10 + 10, kFcnRMacs},
      {"fcn_s", 26752LL * 2048 + 2048 + 2 * (2048 * 2048 + 2048) + 2048LL * 26752 + 26752, kFcnSMacs},
  };
  for (const auto& e : expected) {
    const ModelEntry* entry = find(e.name);
    ASSERT_NE(entry, nullptr) << e.name;
    auto model = entry->make();
    EXPECT_EQ(count_total_params(*model), e.params) << e.name;
    EXPECT_EQ(count_trainable_params(*model), e.params) << e.name;
    EXPECT_EQ(model->macs_per_sample(), e.macs) << e.name;
  }
}

TEST(Models, ForwardGivesOneLogitPerClass) {
  for (const auto& entry : registry()) {
    if (entry.name == "fcn_s") continue;  // 116M parameters: covered by the count test
    auto model = entry.make();
    std::vector<std::int64_t> shape{2};
    shape.insert(shape.end(), entry.input_shape.begin(), entry.input_shape.end());
    const auto out = model->forward(torch::rand(shape));
    EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{2, entry.num_classes})) << entry.name;
  }
}

TEST(Models, KerasInitialisationZeroesBiases) {
  auto model = find("cifar10_cnn")->make();
  for (const auto& p : model->named_parameters()) {
    if (p.key().find("bias") != std::string::npos) EXPECT_EQ(p.value().abs().sum().item<double>(), 0.0);
  }
}

TEST(Models, UnknownNameIsNull) { EXPECT_EQ(find("resnet9000"), nullptr); }

}  // namespace
}  // namespace scalebench::models
