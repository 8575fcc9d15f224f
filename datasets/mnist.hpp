#pragma once
// MNIST and Fashion-MNIST (same IDX layout): DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain or gzipped (NAME.gz; the plain file
// wins when both exist). Images come back as uint8 [N, 1, 28, 28], labels int64 in [0, 10).
// Memory: the files' own size (about 55 MB for 70000 images), once per node (registry.cpp).
#include <string>

#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

// The file names a user must provide, for messages.
std::string mnist_expected_files();
// Throws DataError naming the file and the problem: missing, not IDX, wrong dimensions, image and
// label counts that disagree, a label >= 10.
TrainTest read_mnist_dir(const std::string& dir);
// One images/labels pair (paths as given).
LabelledSet read_mnist_pair(const std::string& images_path, const std::string& labels_path);

}  // namespace scalebench::datasets
