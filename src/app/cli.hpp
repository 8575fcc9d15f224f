#pragma once
// The command line, parsed with CLI11 into what the commands need. Parsing is the same on every
// rank (same argv), so every rank reaches the same verdict without talking.
#include <string>

#include "app/allreduce_command.hpp"
#include "core/config.hpp"

namespace scalebench {

enum class CommandKind { kTrain, kInfer, kModels, kInfo, kSchema, kAllreduce, kHelp, kVersion };

struct ParsedCommand {
  CommandKind kind = CommandKind::kTrain;
  RunConfig config;        // train, infer
  bool json = false;       // models --json
  AllreduceOptions allreduce;  // allreduce
  std::string help_text;   // kHelp
};

// Throws UsageError with CLI11's explanation of what is wrong.
ParsedCommand parse_command_line(int argc, char** argv);

}  // namespace scalebench
