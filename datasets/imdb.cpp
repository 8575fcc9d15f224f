#include "datasets/imdb.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace scalebench::datasets {
namespace {

// The longest review in aclImdb is ~14 kB; anything far beyond is not a review.
constexpr std::uintmax_t kMaxReviewBytes = 1 << 24;

bool word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

std::string read_review(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(path.string() + ": cannot read (" + ec.message() + ")");
  if (size > kMaxReviewBytes) throw DataError(path.string() + ": too large for a review");
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in && !in.eof()) throw DataError(path.string() + ": cannot read");
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

struct Labelled {
  std::vector<std::vector<std::string>> docs;
  std::vector<std::int64_t> labels;
};

// DIR/SPLIT/pos and DIR/SPLIT/neg, files in sorted order (a deterministic sample order).
Labelled read_split(const std::filesystem::path& dir, const std::string& split) {
  Labelled out;
  using Part = std::pair<const char*, std::int64_t>;
  for (const auto& [sub, label] : {Part{"neg", 0}, Part{"pos", 1}}) {
    const auto folder = dir / split / sub;
    if (!std::filesystem::is_directory(folder)) {
      throw DataError(folder.string() + ": missing (expected " + imdb_expected_files() + ")");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(folder)) {
      if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
    }
    if (files.empty()) throw DataError(folder.string() + ": holds no .txt reviews");
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      out.docs.push_back(imdb_tokenize(read_review(f)));
      out.labels.push_back(label);
    }
  }
  return out;
}

LabelledSet encode_all(const Labelled& part, const std::unordered_map<std::string, std::int64_t>& index,
                       std::int64_t vocabulary, std::int64_t length) {
  const auto n = static_cast<std::int64_t>(part.docs.size());
  LabelledSet set;
  set.sample_shape = {length};
  set.inputs = torch::empty({n, length}, torch::kInt64);
  auto* p = set.inputs.data_ptr<std::int64_t>();
  for (const auto& doc : part.docs) {
    const auto ids = imdb_encode(doc, index, vocabulary, length);
    p = std::copy(ids.begin(), ids.end(), p);
  }
  set.labels = torch::tensor(part.labels, torch::kInt64);
  return set;
}

}  // namespace

std::vector<std::string> imdb_tokenize(std::string_view text) {
  std::string lowered(text);
  // "<br />" is HTML for a line break in the reviews, not words.
  for (std::size_t at = lowered.find("<br />"); at != std::string::npos; at = lowered.find("<br />", at)) {
    lowered.replace(at, 6, " ");
  }
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::vector<std::string> tokens;
  std::string cur;
  auto flush = [&] {
    if (cur.find_first_not_of('\'') != std::string::npos) tokens.push_back(cur);
    cur.clear();
  };
  for (char c : lowered) {
    if (word_byte(static_cast<unsigned char>(c))) cur.push_back(c); else flush();
  }
  flush();
  return tokens;
}

std::unordered_map<std::string, std::int64_t> imdb_word_index(
    const std::vector<std::vector<std::string>>& documents) {
  std::unordered_map<std::string, std::int64_t> counts;
  for (const auto& d : documents) for (const auto& w : d) ++counts[w];
  std::vector<std::pair<std::string, std::int64_t>> ranked(counts.begin(), counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::unordered_map<std::string, std::int64_t> index;
  index.reserve(ranked.size());
  for (std::size_t r = 0; r < ranked.size(); ++r) {
    index.emplace(ranked[r].first, static_cast<std::int64_t>(r) + kImdbFirstWord);
  }
  return index;
}

std::vector<std::int64_t> imdb_encode(const std::vector<std::string>& tokens,
                                      const std::unordered_map<std::string, std::int64_t>& index,
                                      std::int64_t vocabulary, std::int64_t sequence_length) {
  std::vector<std::int64_t> ids;
  ids.reserve(tokens.size() + 1);
  ids.push_back(kImdbStart);
  for (const auto& t : tokens) {
    const auto it = index.find(t);
    ids.push_back(it != index.end() && it->second < vocabulary ? it->second : kImdbOov);
  }
  std::vector<std::int64_t> out(static_cast<std::size_t>(sequence_length), kImdbPad);
  const auto n = std::min<std::size_t>(ids.size(), out.size());
  // 'pre' truncation keeps the last n ids; 'pre' padding puts them at the end.
  std::copy(ids.end() - static_cast<std::ptrdiff_t>(n), ids.end(), out.end() - static_cast<std::ptrdiff_t>(n));
  return out;
}

std::string imdb_expected_files() {
  return "the aclImdb folder: train/pos, train/neg, test/pos, test/neg with one review per .txt";
}

TrainTest read_imdb_dir(const std::string& dir, std::int64_t vocabulary, std::int64_t sequence_length) {
  if (vocabulary <= kImdbOov) {
    throw std::invalid_argument("imdb needs a vocabulary of at least 3 (pad, start, out-of-vocabulary)");
  }
  if (sequence_length < 1) throw std::invalid_argument("imdb needs a sequence length >= 1");
  if (!std::filesystem::is_directory(dir)) {
    throw DataError(dir + ": not a directory (expected " + imdb_expected_files() + ")");
  }
  const Labelled train = read_split(dir, "train");
  const Labelled test = read_split(dir, "test");
  const auto index = imdb_word_index(train.docs);  // train only: no test leakage
  return {encode_all(train, index, vocabulary, sequence_length),
          encode_all(test, index, vocabulary, sequence_length)};
}

}  // namespace scalebench::datasets
