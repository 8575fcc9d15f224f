#include <memory>

#include "core/errors.hpp"
#include "datasets/batch_source.hpp"
#include "datasets/synthetic.hpp"

namespace scalebench::datasets {

std::vector<std::string> dataset_names() { return {"synthetic"}; }

std::unique_ptr<BatchSource> make_batch_source(const SourceSpec& spec) {
  if (spec.dataset == "synthetic") return std::make_unique<SyntheticSource>(spec);
  throw UsageError("--dataset " + spec.dataset + ": unknown dataset; allowed: synthetic");
}

}  // namespace scalebench::datasets
