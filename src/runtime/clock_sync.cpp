#include "runtime/clock_sync.hpp"

#include <mpi.h>

#include <limits>

#include "runtime/mpi_check.hpp"

namespace scalebench {
namespace {
constexpr int kPingTag = 7301;  // point-to-point tags of this exchange only
constexpr int kPongTag = 7302;
}  // namespace

ClockOffsets estimate_clock_offsets(const World& world, const std::function<double()>& now, int rounds) {
  ClockOffsets out;
  world.check_control_plane("the clock offset estimate (ping-pongs on MPI_COMM_WORLD)");
  const MPI_Comm comm = world.comm();
  if (!world.is_root()) {
    for (int i = 0; i < rounds; ++i) {
      char ping = 0;
      MPI_CHECK(MPI_Recv(&ping, 1, MPI_CHAR, 0, kPingTag, comm, MPI_STATUS_IGNORE));
      const double t = now();  // as late as possible before the reply
      MPI_CHECK(MPI_Send(&t, 1, MPI_DOUBLE, 0, kPongTag, comm));
    }
    return out;
  }
  const int n = world.size();
  out.offset_s.assign(static_cast<std::size_t>(n), 0.0);
  out.uncertainty_s.assign(static_cast<std::size_t>(n), 0.0);
  out.root_time_s = now();
  for (int r = 1; r < n; ++r) {
    double best_rtt = std::numeric_limits<double>::infinity();
    for (int i = 0; i < rounds; ++i) {
      const char ping = 1;
      const double sent = now();
      MPI_CHECK(MPI_Send(&ping, 1, MPI_CHAR, r, kPingTag, comm));
      double theirs = 0.0;
      MPI_CHECK(MPI_Recv(&theirs, 1, MPI_DOUBLE, r, kPongTag, comm, MPI_STATUS_IGNORE));
      const double received = now();
      if (received - sent < best_rtt) {
        best_rtt = received - sent;
        out.offset_s[static_cast<std::size_t>(r)] = theirs - 0.5 * (sent + received);
        out.uncertainty_s[static_cast<std::size_t>(r)] = 0.5 * best_rtt;
      }
    }
  }
  return out;
}

}  // namespace scalebench
