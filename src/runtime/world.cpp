#include "runtime/world.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "core/errors.hpp"
#include "runtime/mpi_check.hpp"
#include "runtime/mpi_progress.hpp"

namespace scalebench {
namespace {
World* g_world = nullptr;

// How long World::abort lets MPI_Abort end the process before the process ends itself. MPI_Abort
// returns or exits within milliseconds when the local daemon answers (measured: the rank was gone
// at once even with its host cut off from mpirun), so this only bounds the case where it does not.
constexpr std::chrono::seconds kAbortGrace(10);

std::string read_hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}
}  // namespace

World& World::init(int* argc, char*** argv) {
  if (g_world) return *g_world;
  static World world;
  int provided = 0;
  choose_mpi_progress_before_init();  // read by MPI_Init: must come first
  // MULTIPLE lets rank 0's watchdog read the progress board while another thread is inside a
  // collective (runtime/progress_board.hpp); SERIALIZED is the least scalebench runs with.
  const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  world.thread_level_ = provided;
  world.hostname_ = read_hostname();
  if (rc != MPI_SUCCESS) {
    throw std::runtime_error("MPI_Init_thread failed on " + world.hostname_);
  }
  // Without this, MPI's default handler aborts the job before MPI_CHECK can name the call.
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world.rank_));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world.size_));
  set_error_context(world.rank_, world.hostname_);
  if (provided < MPI_THREAD_SERIALIZED) {
    throw std::runtime_error(
        "the MPI library provides thread level " + std::to_string(provided) +
        " but scalebench needs MPI_THREAD_SERIALIZED (its communicator runs on its own thread)");
  }

  // Ranks that share memory share a node: the node-local rank picks the GPU. The communicators are
  // kept for the collectives that measure within a node and across nodes (scalebench allreduce).
  MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank_, MPI_INFO_NULL,
                                &world.node_comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(world.node_comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(world.node_comm_, &world.local_rank_));
  MPI_CHECK(MPI_Comm_size(world.node_comm_, &world.local_size_));
  const bool leader = world.local_rank_ == 0;
  MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, leader ? 0 : MPI_UNDEFINED, world.rank_,
                           &world.node_leaders_comm_));
  if (leader) {
    MPI_CHECK(MPI_Comm_set_errhandler(world.node_leaders_comm_, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(world.node_leaders_comm_, &world.node_index_));
    MPI_CHECK(MPI_Comm_size(world.node_leaders_comm_, &world.nodes_));
  }
  // The leader's view, on every rank of its node.
  int counts[2] = {world.node_index_, world.nodes_};
  MPI_CHECK(MPI_Bcast(counts, 2, MPI_INT, 0, world.node_comm_));
  world.node_index_ = counts[0];
  world.nodes_ = counts[1];
  MPI_CHECK(MPI_Allreduce(&world.local_size_, &world.max_ranks_per_node_, 1, MPI_INT, MPI_MAX,
                          MPI_COMM_WORLD));
  g_world = &world;
  return world;
}

World& World::get() {
  if (!g_world) throw std::logic_error("World::get() before World::init()");
  return *g_world;
}

std::string World::mpi_library_version() const {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_CHECK(MPI_Get_library_version(buf, &len));
  std::string version(buf, static_cast<std::size_t>(len));
  const auto line_end = version.find_first_of(",\n");  // Open MPI appends repo and date
  return version.substr(0, line_end);
}

std::string World::agree_on_error(const std::string& local_error) const {
  control_.check("World::agree_on_error");
  int mine = local_error.empty() ? size_ : rank_;
  int first = size_;
  MPI_CHECK(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  if (first == size_) return "";
  int len = static_cast<int>(local_error.size());
  MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, first, MPI_COMM_WORLD));
  std::string message = rank_ == first ? local_error : std::string(static_cast<std::size_t>(len), ' ');
  MPI_CHECK(MPI_Bcast(message.data(), len, MPI_CHAR, first, MPI_COMM_WORLD));
  return message;
}

std::string World::broadcast_string(const std::string& value) const {
  control_.check("World::broadcast_string");
  int len = static_cast<int>(value.size());
  MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD));
  std::string out = is_root() ? value : std::string(static_cast<std::size_t>(len), ' ');
  MPI_CHECK(MPI_Bcast(out.data(), len, MPI_CHAR, 0, MPI_COMM_WORLD));
  return out;
}

bool World::all_equal(std::uint64_t value) const {
  control_.check("World::all_equal");
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  MPI_CHECK(MPI_Allreduce(&value, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
  MPI_CHECK(MPI_Allreduce(&value, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
  return lo == hi;
}

std::vector<double> World::gather_to_root(const std::vector<double>& values) const {
  control_.check("World::gather_to_root");
  if (values.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::length_error("gather_to_root: too many values for one MPI_Gather");
  }
  std::vector<double> all(is_root() ? values.size() * static_cast<std::size_t>(size_) : 0);
  MPI_CHECK(MPI_Gather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, all.data(),
                       static_cast<int>(values.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD));
  return all;
}

std::vector<std::string> World::gather_strings_to_root(const std::string& value) const {
  control_.check("World::gather_strings_to_root");
  int len = static_cast<int>(value.size());
  std::vector<int> lens(static_cast<std::size_t>(size_));
  MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  std::vector<int> displs(static_cast<std::size_t>(size_), 0);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[static_cast<std::size_t>(r)] = total;
    total += lens[static_cast<std::size_t>(r)];
  }
  std::string all(is_root() ? static_cast<std::size_t>(total) : 0, ' ');
  MPI_CHECK(MPI_Gatherv(value.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(),
                        MPI_CHAR, 0, MPI_COMM_WORLD));
  std::vector<std::string> out;
  if (!is_root()) return out;
  for (int r = 0; r < size_; ++r) {
    out.push_back(all.substr(static_cast<std::size_t>(displs[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lens[static_cast<std::size_t>(r)])));
  }
  return out;
}

std::vector<std::string> World::allgather_strings_in_node(const std::string& value) const {
  control_.check("World::allgather_strings_in_node");
  int len = static_cast<int>(value.size());
  std::vector<int> lens(static_cast<std::size_t>(local_size_));
  MPI_CHECK(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, node_comm_));
  std::vector<int> displs(lens.size(), 0);
  int total = 0;
  for (std::size_t r = 0; r < lens.size(); ++r) {
    displs[r] = total;
    total += lens[r];
  }
  std::string all(static_cast<std::size_t>(total), ' ');
  MPI_CHECK(MPI_Allgatherv(value.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(),
                           MPI_CHAR, node_comm_));
  std::vector<std::string> out;
  for (std::size_t r = 0; r < lens.size(); ++r) {
    out.push_back(all.substr(static_cast<std::size_t>(displs[r]), static_cast<std::size_t>(lens[r])));
  }
  return out;
}

std::string World::broadcast_string_in_node(const std::string& value) const {
  control_.check("World::broadcast_string_in_node");
  int len = static_cast<int>(value.size());
  MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, 0, node_comm_));
  std::string out = local_rank_ == 0 ? value : std::string(static_cast<std::size_t>(len), ' ');
  MPI_CHECK(MPI_Bcast(out.data(), len, MPI_CHAR, 0, node_comm_));
  return out;
}

bool World::all_in_node(bool value) const {
  control_.check("World::all_in_node");
  int mine = value ? 1 : 0;
  int all = 0;
  MPI_CHECK(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, node_comm_));
  return all == 1;
}

double World::max_over_ranks(double value) const {
  control_.check("World::max_over_ranks");
  double out = value;
  MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  return out;
}

std::vector<double> World::max_over_ranks(std::vector<double> values) const {
  control_.check("World::max_over_ranks");
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                          MPI_MAX, MPI_COMM_WORLD));
  return values;
}

std::vector<double> World::sum_over_ranks(std::vector<double> values) const {
  control_.check("World::sum_over_ranks");
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                          MPI_SUM, MPI_COMM_WORLD));
  return values;
}

void World::barrier() const {
  control_.check("World::barrier");
  MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

void World::abort(int exit_code) const {
  // MPI_Abort hands the abort to this rank's local launcher daemon (Open MPI's orted, over PMIx)
  // and waits for its answer; the daemon then tells mpirun, which ends the other ranks. The
  // network is not needed for the rank itself, but the daemon is: one that does not answer
  // (stopped, hung) leaves MPI_Abort waiting forever (measured on the emulated cluster with the
  // daemon SIGSTOPped: the rank stayed in PMPI_Abort after mpirun itself had ended; see
  // docs/faults.md). A rank that cannot hand its abort on must still end: after a bounded
  // wait it exits on its own, with the same code.
  const std::string note = "scalebench: rank " + std::to_string(rank_) + " on " + hostname_ +
                           ": MPI_Abort did not end this process within " +
                           std::to_string(kAbortGrace.count()) + " s; exiting with code " +
                           std::to_string(exit_code) + "\n";
  try {
    std::thread([note, exit_code] {
      std::this_thread::sleep_for(kAbortGrace);
      // write(2), not the logger or stdio: another thread may hold their locks.
      [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, note.data(), note.size());
      std::_Exit(exit_code);
    }).detach();
  } catch (const std::exception&) {
    // No thread to spare: MPI_Abort alone has to do.
  }
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort should not return; if it does, still do not hang
}

void World::finalize() {
  if (finalized_) return;
  finalized_ = true;
  if (node_leaders_comm_ != MPI_COMM_NULL) MPI_Comm_free(&node_leaders_comm_);
  if (node_comm_ != MPI_COMM_NULL) MPI_Comm_free(&node_comm_);
  MPI_Finalize();
}

}  // namespace scalebench
