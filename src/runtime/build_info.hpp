#pragma once
// What scalebench was built from. Defined in a file generated at build time
// (cmake/WriteBuildInfo.cmake), so a new commit relinks instead of recompiling everything.
namespace scalebench {
const char* scalebench_version();       // e.g. "0.1.0"
const char* scalebench_git_revision();  // short hash, "-dirty" when built from modified files
}  // namespace scalebench
