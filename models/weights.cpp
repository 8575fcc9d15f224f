#include "models/weights.hpp"

#include <filesystem>
#include <set>
#include <sstream>

#include "core/errors.hpp"

namespace scalebench::models {
namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream o;
  o << t.sizes();
  return o.str();
}

struct Mismatch {
  std::string what;
};

// Mirrors Module::save's layout: a module's own parameters and buffers by name, each child as a
// nested archive under its name.
void read_module(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                 const std::string& prefix) {
  std::set<std::string> expected;
  auto read_tensor = [&](const std::string& key, torch::Tensor& into, bool is_buffer) {
    expected.insert(key);
    torch::Tensor stored;
    if (!archive.try_read(key, stored, is_buffer)) throw Mismatch{prefix + key + " is missing from the file"};
    if (stored.sizes() != into.sizes()) {
      throw Mismatch{prefix + key + " has shape " + shape_of(stored) + " in the file, " + shape_of(into) +
                     " in the model"};
    }
    if (stored.scalar_type() != into.scalar_type()) throw Mismatch{prefix + key + " has another dtype in the file"};
    torch::NoGradGuard no_grad;
    into.copy_(stored);
  };
  for (auto& p : module.named_parameters(/*recurse=*/false)) read_tensor(p.key(), p.value(), false);
  for (auto& b : module.named_buffers(/*recurse=*/false)) read_tensor(b.key(), b.value(), true);
  for (auto& child : module.named_children()) {
    expected.insert(child.key());
    torch::serialize::InputArchive nested;
    if (!archive.try_read(child.key(), nested)) throw Mismatch{prefix + child.key() + " is missing from the file"};
    read_module(*child.value(), nested, prefix + child.key() + ".");
  }
  for (const auto& key : archive.keys()) {
    if (!expected.count(key)) throw Mismatch{"the file has " + prefix + key + ", which the model has not"};
  }
}

}  // namespace

void load_weights(torch::nn::Module& module, const std::string& path, const std::string& model_name) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw UsageError("--weights " + path + ": no such file; allowed: a LibTorch archive written by "
                     "torch::save(module) of " + model_name);
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw UsageError("--weights " + path + ": not a LibTorch archive (" + e.what_without_backtrace() +
                     "); allowed: a file written by torch::save(module) of " + model_name);
  }
  try {
    read_module(module, archive, "");
  } catch (const Mismatch& m) {
    throw UsageError("--weights " + path + ": does not fit " + model_name + " as built (" + m.what +
                     "); allowed: weights saved from " + model_name + " with the same options "
                     "(image size, vocabulary, ...)");
  } catch (const c10::Error& e) {
    throw UsageError("--weights " + path + ": unreadable for " + model_name + " (" +
                     e.what_without_backtrace() + ")");
  }
}

}  // namespace scalebench::models
