#include "datasets/imagefolder.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "datasets/sampler.hpp"

namespace fs = std::filesystem;

namespace scalebench::datasets {
namespace {

// Not --seed: the test split of a folder without test/ must not change between runs.
constexpr std::uint64_t kTestCarveSeed = 20261125;
// 64 Mpixel: far above any training image, far below what would exhaust a node's memory.
constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> subfolders(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<fs::path> images_in(const fs::path& folder) {
  std::vector<fs::path> files;
  if (fs::is_directory(folder)) {
    for (const auto& e : fs::directory_iterator(folder)) {
      if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path());
    }
  }
  if (files.empty()) {
    throw DataError(folder.string() + ": class folder holds no .jpg, .jpeg or .png images");
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool split_layout(const fs::path& dir) {
  return fs::is_directory(dir / "train") && fs::is_directory(dir / "test");
}

// A file whose header stb cannot read, or one that claims more pixels than kMaxImagePixels (a
// decompression bomb: a small file can claim a huge image), is refused without decoding it.
void check_image_header(const std::string& path) {
  int w = 0, h = 0, file_channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &file_channels)) {
    const char* why = stbi_failure_reason();
    throw DataError(path + ": image does not decode (" + (why ? why : "unknown reason") + ")");
  }
  if (static_cast<std::int64_t>(w) * h > kMaxImagePixels) {
    throw DataError(path + ": " + std::to_string(w) + "x" + std::to_string(h) +
                    " pixels is larger than imagefolder accepts (" + std::to_string(kMaxImagePixels) + ")");
  }
}

struct FileList {
  std::vector<fs::path> files;
  std::vector<std::int64_t> labels;
};

FileList list(const fs::path& root, const std::vector<std::string>& classes) {
  FileList out;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    for (auto& f : images_in(root / classes[c])) {
      out.files.push_back(std::move(f));
      out.labels.push_back(static_cast<std::int64_t>(c));
    }
  }
  return out;
}

// The files and labels only: rows are decoded when a batch needs them (input_rows.hpp). Each
// header is read now (stbi_info: a few bytes per file), so that a file that is no image at all is
// refused at load, by every rank, as when everything was decoded here.
LabelledSet lazy_set(const FileList& l, std::int64_t c, std::int64_t h, std::int64_t w) {
  LabelledSet set;
  set.sample_shape = {c, h, w};
  set.files.reserve(l.files.size());
  for (const auto& f : l.files) {
    check_image_header(f.string());
    set.files.push_back(f.string());
  }
  set.labels = torch::tensor(l.labels, torch::kInt64);
  return set;
}

}  // namespace

std::string imagefolder_expected_files() {
  return "DIR/<class>/*.jpg|jpeg|png (or DIR/train/<class>/... and DIR/test/<class>/...)";
}

void decode_image_into(const std::string& path, std::int64_t channels, std::int64_t height,
                       std::int64_t width, std::uint8_t* chw_out) {
  int w = 0, h = 0, file_channels = 0;
  const int c = static_cast<int>(channels);
  // The header again: the file may have changed since the load checked it.
  check_image_header(path);
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &w, &h, &file_channels, c), stbi_image_free);
  if (!pixels) {
    const char* why = stbi_failure_reason();
    throw DataError(path + ": image does not decode (" + (why ? why : "unknown reason") + ")");
  }
  // stb gives HWC; resize in HWC, then transpose to CHW.
  std::vector<std::uint8_t> resized(static_cast<std::size_t>(height * width * channels));
  if (!stbir_resize_uint8(pixels.get(), w, h, 0, resized.data(), static_cast<int>(width),
                          static_cast<int>(height), 0, c)) {
    throw DataError(path + ": could not be resized to " + std::to_string(height) + "x" +
                    std::to_string(width));
  }
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x)
      for (std::int64_t k = 0; k < channels; ++k)
        chw_out[(k * height + y) * width + x] = resized[static_cast<std::size_t>((y * width + x) * channels + k)];
}

std::vector<std::string> imagefolder_classes(const std::string& dir_in) {
  const fs::path dir(dir_in);
  if (!fs::is_directory(dir)) {
    throw DataError(dir_in + ": not a directory (expected " + imagefolder_expected_files() + ")");
  }
  const fs::path root = split_layout(dir) ? dir / "train" : dir;
  auto classes = subfolders(root);
  if (classes.empty()) {
    throw DataError(root.string() + ": no class folders (expected " + imagefolder_expected_files() + ")");
  }
  for (const auto& c : classes) images_in(root / c);  // an empty class is an error now, not later
  return classes;
}

TrainTest read_imagefolder(const std::string& dir_in, std::int64_t channels, std::int64_t height,
                           std::int64_t width, double test_fraction) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("imagefolder decodes 1 or 3 channels");
  if (height < 1 || width < 1) throw std::invalid_argument("imagefolder needs a positive size");
  const fs::path dir(dir_in);
  const auto classes = imagefolder_classes(dir_in);
  FileList train, test;
  if (split_layout(dir)) {
    if (subfolders(dir / "test") != classes) {
      throw DataError((dir / "test").string() + ": its class folders differ from " +
                      (dir / "train").string() + "'s");
    }
    train = list(dir / "train", classes);
    test = list(dir / "test", classes);
  } else {
    if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
      throw std::invalid_argument("imagefolder test fraction must lie in (0, 1)");
    }
    const FileList all = list(dir, classes);
    const auto n = static_cast<std::int64_t>(all.files.size());
    if (n < 2) throw DataError(dir_in + ": needs at least 2 images to carve out a test split");
    const auto n_test = std::clamp<std::int64_t>(static_cast<std::int64_t>(test_fraction * n + 0.5), 1, n - 1);
    const auto perm = seeded_permutation(n, kTestCarveSeed);
    std::vector<char> is_test(static_cast<std::size_t>(n), 0);
    for (std::int64_t i = 0; i < n_test; ++i) is_test[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])] = 1;
    for (std::size_t i = 0; i < all.files.size(); ++i) {
      FileList& to = is_test[i] ? test : train;
      to.files.push_back(all.files[i]);
      to.labels.push_back(all.labels[i]);
    }
  }
  return {lazy_set(train, channels, height, width), lazy_set(test, channels, height, width)};
}

}  // namespace scalebench::datasets
