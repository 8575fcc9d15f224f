// scalebench entry point: MPI up, parse, run one command, and end every rank the same way.
//   usage error -> rank 0 prints one line, every rank exits 2 (no collective left half-entered)
//   fault       -> the failing rank prints it with rank and host, and aborts the whole job, so no
//                  other rank is left waiting in a collective
#include <cstdio>
#include <exception>
#include <iostream>

#include "app/cli.hpp"
#include "app/commands.hpp"
#include "core/errors.hpp"
#include "runtime/log.hpp"
#include "runtime/world.hpp"

int main(int argc, char** argv) {
  using namespace scalebench;
  World* world = nullptr;
  try {
    world = &World::init(&argc, &argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scalebench: error: cannot start MPI: %s\n", e.what());
    return kExitFault;
  }
  int code = kExitOk;
  try {
    const ParsedCommand cmd = parse_command_line(argc, argv);
    switch (cmd.kind) {
      case CommandKind::kHelp:
      case CommandKind::kVersion:
        if (world->is_root()) std::cout << cmd.help_text << std::endl;
        break;
      case CommandKind::kModels: code = run_models(*world, cmd.json); break;
      case CommandKind::kInfo: code = run_info(*world); break;
      case CommandKind::kSchema: code = run_schema(*world, cmd.json); break;
      case CommandKind::kAllreduce: code = run_allreduce(*world, cmd.allreduce); break;
      case CommandKind::kTrain: code = run_train(*world, cmd.config); break;
      case CommandKind::kInfer: code = run_infer(*world, cmd.config); break;
    }
  } catch (const UsageError& e) {
    log::usage_error(e.what());
    code = kExitUsage;
  } catch (const AgreedFault& e) {
    if (world->is_root()) log::error(e.what());
    code = e.exit_code();
  } catch (const CommFailure& e) {
    log::error(e.what());
    if (world->size() > 1) world->abort(kExitCommTimeout);  // the peers wait in a collective
    code = kExitCommTimeout;
  } catch (const std::exception& e) {
    log::error(e.what());
    if (world->size() > 1) world->abort(kExitFault);
    code = kExitFault;
  }
  world->finalize();
  return code;
}
