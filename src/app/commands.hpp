#pragma once
// The subcommands. Each returns the process exit code; a UsageError escaping them is printed once by
// rank 0 by main(), and any other exception is a fault that ends the job.
#include "app/cli.hpp"
#include "runtime/world.hpp"

namespace scalebench {

int run_train(World& world, RunConfig config);
int run_infer(World& world, RunConfig config);
int run_models(World& world, bool json);
int run_info(World& world);
int run_schema(World& world, bool json);

}  // namespace scalebench
