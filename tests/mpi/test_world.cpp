// The World's view of nodes, at whatever world size and layout mpiexec gave: one host under CTest,
// several emulated hosts when tests/cluster runs this binary across them. The invariants hold for
// any layout, so the same test proves both.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "comm/communicator.hpp"
#include "comm/mpi_communicator.hpp"
#include "core/thread_owner.hpp"
#include "runtime/world.hpp"

namespace scalebench {
namespace {

TEST(World, NodesPartitionTheRanks) {
  const World& w = World::get();
  ASSERT_GE(w.nodes(), 1);
  ASSERT_GE(w.node_index(), 0);
  ASSERT_LT(w.node_index(), w.nodes());
  int node_size = 0;
  ASSERT_EQ(MPI_Comm_size(w.node_comm(), &node_size), MPI_SUCCESS);
  EXPECT_EQ(node_size, w.local_size());
  // Every rank counted once: the node sizes of the node leaders add up to the world.
  const int leader_share = w.local_rank() == 0 ? w.local_size() : 0;
  int total = 0;
  MPI_Allreduce(&leader_share, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(total, w.size());
  EXPECT_LE(w.local_size(), w.max_ranks_per_node());
  // Exactly the leaders are in the across-nodes communicator, ranked by node index.
  EXPECT_EQ(w.node_leaders_comm() != MPI_COMM_NULL, w.local_rank() == 0);
  if (w.node_leaders_comm() != MPI_COMM_NULL) {
    int r = -1;
    int n = 0;
    MPI_Comm_rank(w.node_leaders_comm(), &r);
    MPI_Comm_size(w.node_leaders_comm(), &n);
    EXPECT_EQ(r, w.node_index());
    EXPECT_EQ(n, w.nodes());
  }
}

TEST(World, NodeIndexFollowsEachNodesLowestRank) {
  const World& w = World::get();
  // Rank 0 is on node 0, and a node's index is the count of nodes whose lowest rank is lower.
  int lowest = w.rank();
  MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_INT, MPI_MIN, w.node_comm());
  std::vector<int> lowest_of(static_cast<std::size_t>(w.size()));
  MPI_Allgather(&lowest, 1, MPI_INT, lowest_of.data(), 1, MPI_INT, MPI_COMM_WORLD);
  const std::set<int> node_starts(lowest_of.begin(), lowest_of.end());
  EXPECT_EQ(static_cast<int>(node_starts.size()), w.nodes());
  EXPECT_EQ(static_cast<int>(std::distance(node_starts.begin(), node_starts.find(lowest))), w.node_index());
  if (w.is_root()) EXPECT_EQ(w.node_index(), 0);
}

TEST(World, AllgatherInNodeSeesTheNodesRanks) {
  const World& w = World::get();
  const auto names = w.allgather_strings_in_node(std::to_string(w.rank()) + "@" + w.hostname());
  ASSERT_EQ(static_cast<int>(names.size()), w.local_size());
  EXPECT_EQ(names[static_cast<std::size_t>(w.local_rank())], std::to_string(w.rank()) + "@" + w.hostname());
  for (const auto& n : names) {
    // Ranks of one node (one shared-memory domain) are on one host.
    EXPECT_EQ(n.substr(n.find('@') + 1), w.hostname());
  }
}

TEST(World, ScopedCommunicatorsAverageWithinTheirGroup) {
  const World& w = World::get();
  for (const CommGroup g : {CommGroup::kWorld, CommGroup::kNode, CommGroup::kAcrossNodes}) {
    auto comm = make_communicator(BackendChoice::kMpi, torch::kCPU, {}, g);
    const bool member = g != CommGroup::kAcrossNodes || w.local_rank() == 0;
    ASSERT_EQ(comm != nullptr, member) << comm_group_name(g);
    if (!comm) continue;
    const int expected_size = g == CommGroup::kWorld ? w.size() : g == CommGroup::kNode ? w.local_size() : w.nodes();
    EXPECT_EQ(comm->size(), expected_size) << comm_group_name(g);
    torch::Tensor t = torch::full({5}, static_cast<double>(comm->rank()), torch::kFloat64);
    comm->allreduce_mean_async(t, MeanInputs::kRaw)->wait();
    const double mean = (comm->size() - 1) / 2.0;
    EXPECT_TRUE(torch::allclose(t, torch::full({5}, mean, torch::kFloat64), 0, 0)) << comm_group_name(g);
  }
}

TEST(World, TheDataPlaneHasItsOwnCommunicator) {
  // Same ranks, another context: no message of the control plane (MPI_COMM_WORLD) can match one
  // of the gradient allreduces, even with the same tag and peer.
  const World& w = World::get();
  MpiCommunicator comm(w.comm());
  int relation = MPI_UNEQUAL;
  ASSERT_EQ(MPI_Comm_compare(comm.mpi_comm(), w.comm(), &relation), MPI_SUCCESS);
  EXPECT_EQ(relation, MPI_CONGRUENT);
  // A pending control-plane message does not disturb a data-plane collective.
  const int peer = (w.rank() + 1) % w.size();
  const int from = (w.rank() + w.size() - 1) % w.size();
  int token = w.rank(), got = -1;
  MPI_Request recv;
  ASSERT_EQ(MPI_Irecv(&got, 1, MPI_INT, from, 0, w.comm(), &recv), MPI_SUCCESS);
  torch::Tensor t = torch::full({3}, static_cast<double>(w.rank()), torch::kFloat64);
  comm.allreduce_mean_async(t, MeanInputs::kRaw)->wait();
  EXPECT_TRUE(torch::allclose(t, torch::full({3}, (w.size() - 1) / 2.0, torch::kFloat64), 0, 0));
  ASSERT_EQ(MPI_Send(&token, 1, MPI_INT, peer, 0, w.comm()), MPI_SUCCESS);
  ASSERT_EQ(MPI_Wait(&recv, MPI_STATUS_IGNORE), MPI_SUCCESS);
  EXPECT_EQ(got, from);
}

// The threading rule, checked: the control plane is the main thread's. A collective of World
// called from another thread is caught before it reaches MPI (where it could pair with another
// rank's main-thread collective), naming the resource and the call.
TEST(World, AControlPlaneCollectiveFromAnotherThreadIsCaught) {
  const World& w = World::get();
  ThreadOwner::set_violation_handler([](const std::string& message) { throw std::logic_error(message); });
  std::string caught;
  std::thread other([&] {
    try {
      w.barrier();
    } catch (const std::logic_error& e) {
      caught = e.what();
    }
  });
  other.join();
  ThreadOwner::set_violation_handler(nullptr);
  EXPECT_NE(caught.find("World::barrier on the MPI control plane"), std::string::npos) << caught;
  // The main thread still may, and every rank is still in step.
  EXPECT_NO_THROW(w.barrier());
  EXPECT_TRUE(w.all_equal(42));
}

}  // namespace
}  // namespace scalebench
