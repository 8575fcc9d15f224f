#pragma once
// One copy of a small dataset per node (MNIST, Fashion-MNIST, CIFAR-10, IMDB), not one per rank:
// the node's reader reads and decodes the splits once, copies them into memory the node's ranks
// share (node_share.hpp), and every rank of the node gets the same splits as read-only tensor
// views of that memory (torch::from_blob; each view, and DatasetSplits::shared_memory, keeps it
// alive). The tensors must not be written: a write would be seen by the whole node.
//
// Why shared memory per node rather than each rank reading its own shard: the sampler reshuffles
// the whole training split every epoch (sampler.hpp), so over a run every rank needs every sample;
// and rather than a copy per rank: N ranks on a node held N identical copies.
#include <functional>
#include <memory>

#include "datasets/labelled_set.hpp"
#include "datasets/node_share.hpp"

namespace scalebench::datasets {

// COLLECTIVE over the node. `read` runs on the reader only and fills header's train, validation
// and test (held in tensors, not files). Every rank of the node returns `header` with those splits
// as views of one node-shared copy. A UsageError thrown by `read` (a DataError for bad files) is
// thrown on every rank of the node with the reader's message, as a DataError (the reader re-throws
// its own); any other exception becomes a std::runtime_error naming the reader on the others.
std::shared_ptr<const DatasetSplits> load_shared_on_node(NodeShare& node, DatasetSplits header,
                                                         const std::function<void(DatasetSplits&)>& read);

}  // namespace scalebench::datasets
