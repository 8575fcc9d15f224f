#pragma once
// The raw input rows a batch needs, whatever holds them: copied out of a set held in memory, or
// decoded from an image folder's files right now. Decoding runs on the calling thread (the
// prefetch thread of a source) plus helpers, at most `threads` threads over all the rank's
// sources together, so that a rank never decodes with more threads than --threads gives it; the
// result is the same bytes whatever the thread count.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

// [rows.size(), sample_shape...] uint8 or int64, a new tensor (never a view of the set's memory,
// which may be shared with the node's other ranks). DataError naming the file for an image that
// does not decode. threads < 1 counts as 1.
torch::Tensor input_rows(const LabelledSet& set, const std::vector<std::int64_t>& rows, int threads);

// Runs body(i) for i in [0, n) on the calling thread and at most threads - 1 others, each taking
// the next i; the first exception is re-thrown here once all have stopped. The bound holds for
// the whole process: concurrent calls (the sources' prefetch threads) share `threads` threads,
// a call waiting until one is free.
void parallel_for_bounded(std::int64_t n, int threads, const std::function<void(std::int64_t)>& body);

}  // namespace scalebench::datasets
