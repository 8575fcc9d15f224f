#include "comm/comm_group.hpp"

#include "runtime/world.hpp"

namespace scalebench {

const char* comm_group_name(CommGroup group) {
  switch (group) {
    case CommGroup::kWorld: return "all";
    case CommGroup::kNode: return "intra";
    case CommGroup::kAcrossNodes: return "inter";
  }
  return "?";
}

MPI_Comm mpi_comm_of(CommGroup group) {
  const World& world = World::get();
  switch (group) {
    case CommGroup::kWorld: return world.comm();
    case CommGroup::kNode: return world.node_comm();
    case CommGroup::kAcrossNodes: return world.node_leaders_comm();
  }
  return MPI_COMM_NULL;
}

}  // namespace scalebench
