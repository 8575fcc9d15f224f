// The dataset registry: names, what each dataset is (for the up-front model check), the files it
// expects, and its reader. Real datasets are read once per process: the training source and the
// evaluation sources share one DatasetSplits (a cache of weak pointers, so nothing outlives them).
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/errors.hpp"
#include "datasets/batch_source.hpp"
#include "datasets/cifar10.hpp"
#include "datasets/imagefolder.hpp"
#include "datasets/imdb.hpp"
#include "datasets/mnist.hpp"
#include "datasets/preprocess.hpp"
#include "datasets/real_source.hpp"
#include "datasets/synthetic.hpp"

namespace scalebench::datasets {
namespace {

struct RealDataset {
  DatasetInfo info;
  std::function<std::string()> expected;
  std::function<TrainTest(const SourceSpec&)> read;
};

const std::vector<RealDataset>& real_datasets() {
  static const std::vector<RealDataset> all = {
      {{"mnist", SampleKind::kImage, {1, 28, 28}, 10}, mnist_expected_files,
       [](const SourceSpec& s) { return read_mnist_dir(s.data_dir); }},
      {{"fashion-mnist", SampleKind::kImage, {1, 28, 28}, 10}, mnist_expected_files,
       [](const SourceSpec& s) { return read_mnist_dir(s.data_dir); }},
      {{"cifar10", SampleKind::kImage, {3, 32, 32}, 10}, cifar10_expected_files,
       [](const SourceSpec& s) { return read_cifar10_dir(s.data_dir); }},
      // Padded/truncated to the model's sequence length, ids below its vocabulary.
      {{"imdb", SampleKind::kTokens, {}, 2}, imdb_expected_files,
       [](const SourceSpec& s) {
         return read_imdb_dir(s.data_dir, s.vocabulary, s.input_shape.at(0));
       }},
      // Decoded straight to the model's channels and size.
      {{"imagefolder", SampleKind::kImage, {}, 0}, imagefolder_expected_files,
       [](const SourceSpec& s) {
         return read_imagefolder(s.data_dir, s.input_shape.at(0), s.input_shape.at(1),
                                 s.input_shape.at(2), s.test_fraction);
       }},
  };
  return all;
}

std::string allowed_names() {
  std::string out;
  for (const auto& n : dataset_names()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Everything that shapes the loaded splits; equal keys share one DatasetSplits.
std::string cache_key(const SourceSpec& s) {
  std::string key = s.dataset + '\n' + s.data_dir + '\n' + std::to_string(s.seed) + '\n' +
                    std::to_string(s.validation_fraction) + '\n' + std::to_string(s.test_fraction) +
                    '\n' + std::to_string(s.vocabulary) + '\n';
  for (auto d : s.input_shape) key += std::to_string(d) + ',';
  return key;
}

std::shared_ptr<const DatasetSplits> load(const SourceSpec& spec) {
  const RealDataset* entry = nullptr;
  for (const auto& d : real_datasets()) {
    if (d.info.name == spec.dataset) entry = &d;
  }
  if (!entry) {
    throw UsageError("--dataset " + spec.dataset + ": unknown dataset; allowed: " + allowed_names());
  }
  if (spec.data_dir.empty()) {
    throw UsageError("--dataset " + spec.dataset + " needs --data-dir DIR holding " + entry->expected());
  }
  if (!(spec.validation_fraction >= 0.0 && spec.validation_fraction < 1.0)) {
    throw UsageError("--validation-fraction must lie in [0, 1)");
  }
  if (spec.batch_per_rank < 1) throw UsageError("the batch per rank must be at least 1");

  // The model check comes before reading anything (imagefolder's classes are a directory listing).
  DatasetInfo info = entry->info;
  std::vector<std::string> class_names;
  if (spec.dataset == "imagefolder") {
    class_names = imagefolder_classes(spec.data_dir);
    info.classes = static_cast<std::int64_t>(class_names.size());
  }
  std::vector<DatasetInfo> known;
  for (const auto& d : real_datasets()) known.push_back(d.info);
  check_fits(info, spec, known);

  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const DatasetSplits>> cache;
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = cache_key(spec);
  if (auto hit = cache[key].lock()) return hit;

  TrainTest tt = entry->read(spec);
  auto splits = std::make_shared<DatasetSplits>();
  splits->name = spec.dataset;
  splits->kind = info.kind;
  splits->classes = info.classes;
  splits->class_names = std::move(class_names);
  splits->train = std::move(tt.train);
  splits->test = std::move(tt.test);
  carve_validation(splits->train, splits->validation, spec.validation_fraction, spec.seed);
  cache[key] = splits;
  return splits;
}

}  // namespace

std::vector<std::string> dataset_names() {
  std::vector<std::string> names{"synthetic"};
  for (const auto& d : real_datasets()) names.push_back(d.info.name);
  return names;
}

std::unique_ptr<BatchSource> make_batch_source(const SourceSpec& spec) {
  if (spec.dataset == "synthetic") return std::make_unique<SyntheticSource>(spec);
  return std::make_unique<RealSource>(spec, load(spec));
}

std::unique_ptr<EvalSource> make_eval_source(const SourceSpec& spec, Split split) {
  if (spec.dataset == "synthetic") {
    throw UsageError("--dataset synthetic has no validation or test split; evaluation needs a real dataset");
  }
  if (split == Split::kTrain) throw UsageError("evaluation runs on the validation or test split");
  return std::make_unique<SplitEvalSource>(spec, load(spec), split);
}

}  // namespace scalebench::datasets
