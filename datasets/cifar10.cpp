#include "datasets/cifar10.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "datasets/cifar_parse.hpp"

namespace scalebench::datasets {
namespace {

LabelledSet to_set(const std::vector<std::string>& paths) {
  // Parse every file first (each DataError names its file), then copy once into one tensor.
  std::vector<CifarRecords> parts;
  std::int64_t n = 0;
  for (const auto& p : paths) {
    parts.push_back(read_cifar10_file(p));
    n += static_cast<std::int64_t>(parts.back().count);
  }
  LabelledSet set;
  set.sample_shape = {3, 32, 32};
  set.inputs = torch::empty({n, 3, 32, 32}, torch::kUInt8);
  set.labels = torch::empty({n}, torch::kInt64);
  auto* px = set.inputs.data_ptr<std::uint8_t>();
  auto* lb = set.labels.data_ptr<std::int64_t>();
  for (auto& part : parts) {
    std::copy(part.pixels.begin(), part.pixels.end(), px);
    px += part.pixels.size();
    for (std::uint8_t l : part.labels) *lb++ = l;
    part = CifarRecords{};  // free as we go
  }
  return set;
}

}  // namespace

std::string cifar10_expected_files() {
  return "data_batch_1.bin .. data_batch_5.bin and test_batch.bin (CIFAR-10 binary version), "
         "in the folder or its cifar-10-batches-bin/";
}

TrainTest read_cifar10_dir(const std::string& dir_in) {
  std::filesystem::path dir(dir_in);
  if (!std::filesystem::is_directory(dir)) {
    throw DataError(dir_in + ": not a directory (expected " + cifar10_expected_files() + ")");
  }
  if (!std::filesystem::exists(dir / "data_batch_1.bin") &&
      std::filesystem::is_directory(dir / "cifar-10-batches-bin")) {
    dir /= "cifar-10-batches-bin";  // the tarball's own folder
  }
  std::vector<std::string> train;
  for (int i = 1; i <= 5; ++i) train.push_back((dir / ("data_batch_" + std::to_string(i) + ".bin")).string());
  TrainTest out;
  out.train = to_set(train);
  out.test = to_set({(dir / "test_batch.bin").string()});
  return out;
}

}  // namespace scalebench::datasets
