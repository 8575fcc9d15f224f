#pragma once
// Forward MACs counted from the layers actually built, for any graph (residual branches, two bases
// side by side). LibTorch's C++ modules have no forward hooks, so the counted layers of layers.hpp
// report their own cost from their forward to the tally open on the thread, if any:
//   Conv (any dims, groups): output elements x (in_channels / groups) x kernel volume
//   Linear:                  output elements x in_features
//   LSTM:                    timesteps x 4 gates x (input + hidden) x hidden
// Embedding lookups, activations, pooling, BatchNorm, dropout and additions count as zero MACs,
// the usual convention of published MAC/FLOP figures for CNNs.
#include <cstdint>

namespace scalebench::models {

class Network;

// While alive, collects what counted layers on this thread report. Tallies nest: an inner tally
// hides the outer one until it closes.
class MacTally {
 public:
  MacTally();
  ~MacTally();
  MacTally(const MacTally&) = delete;
  MacTally& operator=(const MacTally&) = delete;
  std::int64_t total() const { return total_; }
  // Called by counted layers; adds to the innermost open tally of this thread, or does nothing.
  static void add(std::int64_t macs);

 private:
  std::int64_t total_ = 0;
  MacTally* previous_;
};

// Runs one all-zero sample of the network's input spec through it (eval mode, no grad; the mode is
// restored) and returns the MACs its counted layers reported. Throws std::logic_error if the
// network holds a plain torch Conv/Linear/LSTM whose cost would go unreported.
std::int64_t count_macs(Network& network);

}  // namespace scalebench::models
