#pragma once
// Versions of everything a result depends on, for `scalebench info` and every run file.
#include <string>
#include <utility>
#include <vector>

namespace scalebench {

// (name, version) pairs; a missing library reports "none".
std::vector<std::pair<std::string, std::string>> library_versions();

}  // namespace scalebench
