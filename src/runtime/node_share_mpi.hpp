#pragma once
// The data layer's node sharing (datasets/node_share.hpp) over MPI: the node is World::node_comm(),
// its reader the node-local rank 0, its memory a NodeSharedMemory window. With one rank (no
// mpirun) this is a node of one rank, the same path.
#include <memory>

#include "datasets/node_share.hpp"
#include "runtime/world.hpp"

namespace scalebench {

std::shared_ptr<datasets::NodeShare> mpi_node_share(const World& world);

}  // namespace scalebench
