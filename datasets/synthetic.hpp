#pragma once
// Random inputs and labels of the model's shape, made once on the device so that a scaling run
// measures no I/O. Images are uniform in [0, 1) (the studies divided pixels by 255); token inputs
// are uniform ids in [0, vocabulary). The pool holds `synthetic_batches` global batches of G =
// batch x ranks samples; global batch k holds global samples kG .. kG+G-1, and rank r makes only
// its own rows [r*b, (r+1)*b) of each. Sample i is drawn from a generator seeded with (seed, i)
// alone, so its values do not depend on the rank count: N ranks with batch b see exactly the
// samples that 1 rank with batch N*b sees (the equivalence tests use it), and a rank's memory and
// time to make its data do not grow with the world size.
#include "datasets/batch_source.hpp"

namespace scalebench::datasets {

class SyntheticSource final : public BatchSource {
 public:
  explicit SyntheticSource(const SourceSpec& spec);
  std::string name() const override { return "synthetic"; }
  std::int64_t steps_per_epoch() const override { return static_cast<std::int64_t>(pool_.size()); }
  Batch batch(std::int64_t step) override;

 private:
  std::vector<Batch> pool_;
};

}  // namespace scalebench::datasets
