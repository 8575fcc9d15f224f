#pragma once
// Rank-aware output: progress and summaries come from rank 0 only; errors come from the rank that
// saw them, prefixed with rank and host so that a log of many ranks says who failed.
#include <string>

namespace scalebench::log {

void info(const std::string& line);   // rank 0 only, stdout
void warn(const std::string& line);   // rank 0 only, stderr
void error(const std::string& line);  // any rank, stderr, with "rank R on HOST"
// The one line a usage error gets, printed by rank 0 only.
void usage_error(const std::string& line);

}  // namespace scalebench::log
