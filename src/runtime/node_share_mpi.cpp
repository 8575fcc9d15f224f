#include "runtime/node_share_mpi.hpp"

#include "runtime/node_shared_memory.hpp"

namespace scalebench {
namespace {

class WindowBytes final : public datasets::SharedBytes {
 public:
  WindowBytes(MPI_Comm node_comm, std::size_t bytes) : memory_(node_comm, bytes) {}
  std::uint8_t* data() override { return memory_.data(); }
  std::size_t size() const override { return memory_.size(); }
  void publish() override { memory_.publish(); }

 private:
  NodeSharedMemory memory_;
};

class MpiNodeShare final : public datasets::NodeShare {
 public:
  explicit MpiNodeShare(const World& world) : world_(world) {}
  bool is_reader() const override { return world_.local_rank() == 0; }
  std::string from_reader(const std::string& value) override { return world_.broadcast_string_in_node(value); }
  bool all(bool mine) override { return world_.all_in_node(mine); }
  std::shared_ptr<datasets::SharedBytes> allocate(std::size_t bytes) override {
    return std::make_shared<WindowBytes>(world_.node_comm(), bytes);
  }

 private:
  const World& world_;
};

}  // namespace

std::shared_ptr<datasets::NodeShare> mpi_node_share(const World& world) {
  return std::make_shared<MpiNodeShare>(world);
}

}  // namespace scalebench
