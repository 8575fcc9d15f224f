#pragma once
// Offsets between the ranks' clocks, so that times recorded on different ranks (and hosts) can be
// put on one axis. Each rank times its run on its own steady clock from its own origin; rank 0
// exchanges a few ping-pongs with every rank and keeps, per rank, the exchange with the shortest
// round trip (Cristian's method, as NTP does): the rank's clock read at the pong, minus the
// midpoint of rank 0's send and receive times, is the offset, and half the round trip bounds its
// error. Estimated at the start and at the end of a run, so that drift between hosts' clocks is
// seen and can be interpolated.
#include <functional>
#include <vector>

#include "runtime/world.hpp"

namespace scalebench {

struct ClockOffsets {
  // On rank 0, per rank (rank 0: 0): rank r's clock minus rank 0's at the same instant, and the
  // bound of that estimate's error. Empty on the other ranks.
  std::vector<double> offset_s;
  std::vector<double> uncertainty_s;
  double root_time_s = 0.0;  // rank 0's clock when the estimate was made
};

// Collective. `now`: this rank's clock (seconds). Rank 0 talks to one rank at a time, `rounds`
// exchanges each: O(ranks x rounds) round trips (about 0.5 s at 4,096 ranks on a fast network).
ClockOffsets estimate_clock_offsets(const World& world, const std::function<double()>& now, int rounds = 8);

}  // namespace scalebench
