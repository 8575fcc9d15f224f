#include "datasets/mnist.hpp"

#include <torch/torch.h>

#include <filesystem>

#include "datasets/idx.hpp"

namespace scalebench::datasets {
namespace {

constexpr int kClasses = 10;

// DIR/NAME if it exists, else DIR/NAME.gz; DataError naming both when neither does.
std::string find_file(const std::string& dir, const std::string& name) {
  const std::filesystem::path plain = std::filesystem::path(dir) / name;
  if (std::filesystem::is_regular_file(plain)) return plain.string();
  const std::filesystem::path gz = plain.string() + ".gz";
  if (std::filesystem::is_regular_file(gz)) return gz.string();
  throw DataError(plain.string() + ": missing (neither it nor " + gz.filename().string() +
                  " is there; expected " + mnist_expected_files() + ")");
}

}  // namespace

std::string mnist_expected_files() {
  return "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
         "t10k-labels-idx1-ubyte (each may be .gz)";
}

LabelledSet read_mnist_pair(const std::string& images_path, const std::string& labels_path) {
  IdxArray images = read_idx_file(images_path);
  if (images.dims.size() != 3 || images.dims[1] < 1 || images.dims[2] < 1) {
    throw DataError(images_path + ": an image file must have 3 dimensions (count, rows, columns)");
  }
  IdxArray labels = read_idx_file(labels_path);
  if (labels.dims.size() != 1) {
    throw DataError(labels_path + ": a label file must have 1 dimension (count), not " +
                    std::to_string(labels.dims.size()));
  }
  if (labels.dims[0] != images.dims[0]) {
    throw DataError(labels_path + ": holds " + std::to_string(labels.dims[0]) + " labels but " +
                    images_path + " holds " + std::to_string(images.dims[0]) + " images");
  }
  if (images.dims[0] == 0) throw DataError(images_path + ": holds no images");
  for (std::size_t i = 0; i < labels.values.size(); ++i) {
    if (labels.values[i] >= kClasses) {
      throw DataError(labels_path + ": label " + std::to_string(labels.values[i]) + " at index " +
                      std::to_string(i) + " is not a class of 0..9");
    }
  }
  const std::int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  LabelledSet set;
  set.sample_shape = {1, h, w};
  // Copied out of the vectors (which are freed on return): torch owns the memory from here.
  set.inputs = torch::from_blob(images.values.data(), {n, 1, h, w}, torch::kUInt8).clone();
  set.labels = torch::from_blob(labels.values.data(), {n}, torch::kUInt8).to(torch::kInt64);
  return set;
}

TrainTest read_mnist_dir(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw DataError(dir + ": not a directory (expected " + mnist_expected_files() + ")");
  }
  TrainTest out;
  out.train = read_mnist_pair(find_file(dir, "train-images-idx3-ubyte"),
                              find_file(dir, "train-labels-idx1-ubyte"));
  out.test = read_mnist_pair(find_file(dir, "t10k-images-idx3-ubyte"),
                             find_file(dir, "t10k-labels-idx1-ubyte"));
  if (out.train.sample_shape != out.test.sample_shape) {
    throw DataError(dir + ": train and t10k images differ in size");
  }
  return out;
}

}  // namespace scalebench::datasets
