#include "datasets/node_share.hpp"

#include <vector>

namespace scalebench::datasets {
namespace {

class OwnBytes final : public SharedBytes {
 public:
  explicit OwnBytes(std::size_t bytes) : bytes_(bytes) {}
  std::uint8_t* data() override { return bytes_.data(); }
  std::size_t size() const override { return bytes_.size(); }
  void publish() override {}

 private:
  std::vector<std::uint8_t> bytes_;
};

class ProcessLocalShare final : public NodeShare {
 public:
  bool is_reader() const override { return true; }
  std::string from_reader(const std::string& value) override { return value; }
  bool all(bool mine) override { return mine; }
  std::shared_ptr<SharedBytes> allocate(std::size_t bytes) override {
    return std::make_shared<OwnBytes>(bytes);
  }
};

}  // namespace

std::shared_ptr<NodeShare> process_local_share() { return std::make_shared<ProcessLocalShare>(); }

}  // namespace scalebench::datasets
