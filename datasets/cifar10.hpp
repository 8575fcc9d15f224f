#pragma once
// CIFAR-10's binary distribution: DIR/data_batch_1.bin .. data_batch_5.bin (train, 50000 images)
// and DIR/test_batch.bin (10000); DIR may also be the folder that holds cifar-10-batches-bin/.
// Images come back as uint8 [N, 3, 32, 32], labels int64 in [0, 10). Memory: ~184 MB, once per node (registry.cpp).
#include <string>

#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

std::string cifar10_expected_files();
// Throws DataError naming the file and the problem (parse_cifar10's checks).
TrainTest read_cifar10_dir(const std::string& dir);

}  // namespace scalebench::datasets
