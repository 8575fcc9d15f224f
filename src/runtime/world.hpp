#pragma once
// The MPI world as the rest of scalebench sees it: who am I, where am I, and the few control-plane
// collectives the application needs (agreeing on errors, gathering records to rank 0). Data-plane
// collectives on tensors live in comm/. One rank (no mpirun) is the smallest case of the same path.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/thread_owner.hpp"

namespace scalebench {

class World {
 public:
  // MPI_Init_thread asking for MPI_THREAD_MULTIPLE, needing at least MPI_THREAD_SERIALIZED. Who
  // calls MPI: the thread that called init (the main thread) owns the control plane, every
  // collective of this class on MPI_COMM_WORLD and the node communicators, checked on every call
  // (core/thread_owner.hpp); the data-plane communicator's thread its own duplicate; the progress
  // board's responder (MULTIPLE) its own; any thread may call abort().
  static World& init(int* argc, char*** argv);
  static World& get();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  int nodes() const { return nodes_; }
  // This rank's node, numbered 0..nodes()-1 in the order of each node's lowest world rank. A node
  // is what MPI says shares memory with this rank (MPI_COMM_TYPE_SHARED), not a hostname: two
  // hosts that report one name are still two nodes, as MPI treats them.
  int node_index() const { return node_index_; }
  int max_ranks_per_node() const { return max_ranks_per_node_; }
  // The thread level MPI provides (MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE).
  int thread_level() const { return thread_level_; }
  const std::string& hostname() const { return hostname_; }
  MPI_Comm comm() const { return MPI_COMM_WORLD; }
  // The ranks of this rank's node (local_size() of them, ordered by world rank).
  MPI_Comm node_comm() const { return node_comm_; }
  // One rank per node (each node's local rank 0, ordered by node index); MPI_COMM_NULL on the
  // other ranks.
  MPI_Comm node_leaders_comm() const { return node_leaders_comm_; }
  std::string mpi_library_version() const;

  // Every rank passes its own error message ("" = fine). All ranks return the message of the
  // lowest-numbered rank that had one, or "" if none did, so that all ranks act alike.
  std::string agree_on_error(const std::string& local_error) const;
  // Rank 0's string, on every rank.
  std::string broadcast_string(const std::string& value) const;
  // True on every rank iff every rank passed the same value.
  bool all_equal(std::uint64_t value) const;
  // Concatenation of every rank's values in rank order, on rank 0 (empty elsewhere). Every rank
  // must pass the same count.
  std::vector<double> gather_to_root(const std::vector<double>& values) const;
  std::vector<std::string> gather_strings_to_root(const std::string& value) const;
  // Every node-local rank's string, indexed by local rank, on every rank of the node (collective
  // over the node's ranks only).
  std::vector<std::string> allgather_strings_in_node(const std::string& value) const;
  // The node-local rank 0's string, on every rank of the node (collective over the node only).
  std::string broadcast_string_in_node(const std::string& value) const;
  // True on every rank of the node iff every rank of the node passed true (collective over the node).
  bool all_in_node(bool value) const;
  double max_over_ranks(double value) const;
  // Element-wise maximum over ranks, on every rank. Every rank passes the same count.
  std::vector<double> max_over_ranks(std::vector<double> values) const;
  // Element-wise sum over ranks, on every rank (evaluation counts and losses).
  std::vector<double> sum_over_ranks(std::vector<double> values) const;
  void barrier() const;
  // For code that calls MPI on comm() itself (clock pings): the same check as every collective
  // here, that the caller is the control plane's thread.
  void check_control_plane(const char* call) const { control_.check(call); }

  // Ends the whole job from any rank (a fault that would otherwise leave others hanging). This
  // rank ends within a bound (world.cpp: 10 s) even when MPI_Abort cannot reach its launcher.
  [[noreturn]] void abort(int exit_code) const;
  void finalize();

 private:
  World() = default;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int nodes_ = 1;
  int node_index_ = 0;
  MPI_Comm node_comm_ = MPI_COMM_NULL;
  MPI_Comm node_leaders_comm_ = MPI_COMM_NULL;
  int max_ranks_per_node_ = 1;
  int thread_level_ = 0;
  std::string hostname_;
  bool finalized_ = false;
  ThreadOwner control_{"the MPI control plane (MPI_COMM_WORLD)"};  // the thread that called init
};

}  // namespace scalebench
