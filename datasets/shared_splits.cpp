#include "datasets/shared_splits.hpp"

#include <torch/torch.h>

#include <cstring>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace scalebench::datasets {
namespace {

constexpr std::size_t kAlignment = 64;  // each tensor starts on its own cache line
// The first byte of the reader's error message says what kind it was.
constexpr char kUsageError = 'U', kOtherError = 'F';

struct TensorLayout {
  torch::ScalarType dtype = torch::kUInt8;
  std::vector<std::int64_t> shape;
  std::size_t offset = 0, bytes = 0;
};

// The six tensors of the splits, in the one order every rank uses.
std::vector<torch::Tensor*> tensors_of(DatasetSplits& s) {
  return {&s.train.inputs, &s.train.labels, &s.validation.inputs, &s.validation.labels,
          &s.test.inputs, &s.test.labels};
}

// The reader's tensors as text (dtype, rank, sizes per tensor) for the node's other ranks.
std::string describe(DatasetSplits& s) {
  std::ostringstream out;
  for (torch::Tensor* t : tensors_of(s)) {
    if (!t->defined()) throw std::logic_error("load_shared_on_node: a split is not held in a tensor");
    out << static_cast<int>(t->scalar_type()) << ' ' << t->dim();
    for (auto d : t->sizes()) out << ' ' << d;
    out << '\n';
  }
  return out.str();
}

std::vector<TensorLayout> layout_of(const std::string& text, std::size_t& total) {
  std::istringstream in(text);
  std::vector<TensorLayout> out;
  total = 0;
  for (int i = 0; i < 6; ++i) {
    int dtype = 0, dims = 0;
    in >> dtype >> dims;
    TensorLayout l;
    l.dtype = static_cast<torch::ScalarType>(dtype);
    std::int64_t elements = 1;
    for (int d = 0; d < dims; ++d) {
      std::int64_t size = 0;
      in >> size;
      l.shape.push_back(size);
      elements *= size;
    }
    if (!in) throw std::runtime_error("load_shared_on_node: the reader's layout does not parse");
    l.offset = (total + kAlignment - 1) / kAlignment * kAlignment;
    l.bytes = static_cast<std::size_t>(elements) * c10::elementSize(l.dtype);
    total = l.offset + l.bytes;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace

std::shared_ptr<const DatasetSplits> load_shared_on_node(NodeShare& node, DatasetSplits header,
                                                         const std::function<void(DatasetSplits&)>& read) {
  // 1. The reader reads; whatever it hit reaches every rank of the node before anyone allocates.
  DatasetSplits local = header;
  std::exception_ptr reader_failure;
  std::string message;
  if (node.is_reader()) {
    try {
      read(local);
      for (torch::Tensor* t : tensors_of(local)) *t = t->contiguous();
      message = describe(local);
    } catch (const UsageError& e) {
      reader_failure = std::current_exception();
      message = kUsageError + std::string(e.what());
    } catch (const std::exception& e) {
      reader_failure = std::current_exception();
      message = kOtherError + std::string(e.what());
    }
  }
  message = node.from_reader(message);
  if (reader_failure) std::rethrow_exception(reader_failure);
  if (!message.empty() && message[0] == kUsageError) throw DataError(message.substr(1));
  if (!message.empty() && message[0] == kOtherError) {
    throw std::runtime_error("reading " + header.name + " on this node's rank 0 failed: " + message.substr(1));
  }

  // 2. One allocation per node; the reader copies its splits in, then every rank may read.
  std::size_t total = 0;
  const std::vector<TensorLayout> layout = layout_of(message, total);
  std::shared_ptr<SharedBytes> memory = node.allocate(total);
  std::vector<torch::Tensor*> from = tensors_of(local);
  if (node.is_reader()) {
    for (std::size_t i = 0; i < layout.size(); ++i) {
      if (layout[i].bytes > 0) std::memcpy(memory->data() + layout[i].offset, from[i]->data_ptr(), layout[i].bytes);
    }
  }
  local = DatasetSplits{};  // the reader's private copy goes before training starts
  memory->publish();

  // 3. Every rank: the splits as views of the node's copy.
  auto splits = std::make_shared<DatasetSplits>(std::move(header));
  std::vector<torch::Tensor*> to = tensors_of(*splits);
  for (std::size_t i = 0; i < layout.size(); ++i) {
    *to[i] = torch::from_blob(memory->data() + layout[i].offset, layout[i].shape,
                              [memory](void*) {}, torch::TensorOptions().dtype(layout[i].dtype));
  }
  for (LabelledSet* set : {&splits->train, &splits->validation, &splits->test}) {
    const auto sizes = set->inputs.sizes();
    set->sample_shape.assign(sizes.begin() + 1, sizes.end());
    set->files.clear();
  }
  splits->shared_memory = memory;
  return splits;
}

}  // namespace scalebench::datasets
