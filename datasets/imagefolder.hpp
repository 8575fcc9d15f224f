#pragma once
// Images in class folders, as Keras' flow_from_directory and torchvision's ImageFolder read them
// (the cats-vs-dogs benchmark did): DIR/<class>/*.{jpg,jpeg,png} (extension case ignored, other
// files ignored). Classes are the sorted subfolder names; class i has label i.
//  - If DIR/train and DIR/test are both folders, they are the splits (test must have the same
//    class folders as train). Otherwise DIR's subfolders are the classes and the test split is
//    carved out of them: `test_fraction` of the files, chosen by a FIXED seed, so the test set is
//    the same whatever --seed a run uses.
//  - Each image is decoded with stb_image into `channels` (1 grey or 3 RGB; stb converts) and
//    resized to height x width with stb_image_resize (its default filter: Mitchell down, cubic up).
// Everything is decoded at load, kept as uint8 CHW: memory is N x C x H x W bytes per rank (e.g.
// 25000 images at 3x150x150 = 1.7 GB); scaling to [0, 1] float happens per batch.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

std::string imagefolder_expected_files();
// The class names (sorted subfolders of DIR/train or DIR). DataError for a missing DIR, no class
// folders, or a class folder without images (naming that folder).
std::vector<std::string> imagefolder_classes(const std::string& dir);
// DataError naming the file for an image that does not decode.
TrainTest read_imagefolder(const std::string& dir, std::int64_t channels, std::int64_t height,
                           std::int64_t width, double test_fraction);

// One image file as uint8 [channels, height, width] (the same decode + resize as above).
void decode_image_into(const std::string& path, std::int64_t channels, std::int64_t height,
                       std::int64_t width, std::uint8_t* chw_out);

}  // namespace scalebench::datasets
