// GoogleTest under mpiexec: every rank runs every test; only rank 0 prints; the job fails if any
// rank's test failed (a failure on rank 3 alone must not pass quietly).
#include <gtest/gtest.h>
#include <mpi.h>

#include "runtime/world.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  scalebench::World& world = scalebench::World::init(&argc, &argv);
  if (!world.is_root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&local_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (world.is_root() && any_failed && !local_failed) {
    std::fprintf(stderr, "a test failed on another rank than 0\n");
  }
  world.finalize();
  return any_failed;
}
