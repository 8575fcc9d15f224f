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
// Nothing is decoded at load: the sets hold the file names and labels (LabelledSet::files), and a
// batch decodes its rows when it is made, in the source's prefetch thread (input_rows.hpp). A
// rank's memory is then the file list plus the prefetch queue's batches, not N x C x H x W bytes
// (25000 images at 3x150x150 were 1.7 GB per rank when everything was decoded at load). Every
// file's header is read at load, so a file that is no image is refused then; a file whose pixel
// data is damaged is found only when a batch decodes it (a fault of that rank, naming the file).
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

std::string imagefolder_expected_files();
// The class names (sorted subfolders of DIR/train or DIR). DataError for a missing DIR, no class
// folders, or a class folder without images (naming that folder).
std::vector<std::string> imagefolder_classes(const std::string& dir);
// DataError naming the file for an image whose header does not decode. The sets decode from files.
TrainTest read_imagefolder(const std::string& dir, std::int64_t channels, std::int64_t height,
                           std::int64_t width, double test_fraction);

// One image file as uint8 [channels, height, width] (the same decode + resize as above).
void decode_image_into(const std::string& path, std::int64_t channels, std::int64_t height,
                       std::int64_t width, std::uint8_t* chw_out);

}  // namespace scalebench::datasets
