// The dataset registry: names, what each dataset is (for the up-front model check), the files it
// expects, and its reader. Real datasets are loaded once per process: the training source and the
// evaluation sources share one DatasetSplits (a cache of weak pointers, so nothing outlives them).
//
// The fixed sets (mnist, fashion-mnist, cifar10, imdb) are read once per NODE: the node's rank 0
// reads and decodes them into memory the node's ranks share (shared_splits.hpp), every other rank
// maps the same bytes. Shared memory per node rather than per-rank copies, because N ranks on a
// node held N identical copies (cifar10: 184 MB each); and rather than each rank loading only its
// shard, because the sampler reshuffles the whole split every epoch, so every rank needs every
// sample over a run. imagefolder, which is too large to hold, is not loaded at all: its rows are
// decoded per batch (input_rows.hpp), so it needs no sharing.
//
// Reading through shared memory makes load() collective over the node (batch_source.hpp says what
// callers must do). Even the cache is agreed on: a rank reuses its cached splits only when every
// rank of the node has them, so that ranks whose caches differ still make the same collectives.
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
#include "datasets/shared_splits.hpp"
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

  DatasetSplits header;
  header.name = spec.dataset;
  header.kind = info.kind;
  header.classes = info.classes;
  header.class_names = std::move(class_names);
  const auto read = [&](DatasetSplits& splits) {
    TrainTest tt = entry->read(spec);
    splits.train = std::move(tt.train);
    splits.test = std::move(tt.test);
    carve_validation(splits.train, splits.validation, spec.validation_fraction, spec.seed);
  };

  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const DatasetSplits>> cache;
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = cache_key(spec);
  std::shared_ptr<const DatasetSplits> splits = cache[key].lock();
  if (spec.dataset == "imagefolder") {  // a file list per rank: nothing to share
    if (splits) return splits;
    auto own = std::make_shared<DatasetSplits>(std::move(header));
    read(*own);
    splits = own;
  } else {
    const std::shared_ptr<NodeShare> node = spec.node_share ? spec.node_share : process_local_share();
    if (node->all(splits != nullptr)) return splits;
    splits = load_shared_on_node(*node, std::move(header), read);
  }
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
