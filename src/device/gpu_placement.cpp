#include "device/gpu_placement.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace scalebench::device {

std::vector<GpuAssignment> assign_gpus(const std::vector<std::vector<std::string>>& visible) {
  std::vector<GpuAssignment> out(visible.size());
  std::set<std::string> held;  // bus ids taken by lower local ranks
  for (std::size_t l = 0; l < visible.size(); ++l) {
    const auto& mine = visible[l];
    if (mine.empty()) continue;
    int chosen = static_cast<int>(l % mine.size());
    if (held.count(mine[static_cast<std::size_t>(chosen)])) {
      for (std::size_t i = 0; i < mine.size(); ++i) {
        if (!held.count(mine[i])) {
          chosen = static_cast<int>(i);
          break;
        }
      }
    }
    out[l].visible_index = chosen;
    out[l].bus_id = mine[static_cast<std::size_t>(chosen)];
    held.insert(out[l].bus_id);
  }
  return out;
}

std::vector<std::vector<int>> shared_gpus(const std::vector<GpuAssignment>& assignments) {
  std::map<std::string, std::vector<int>> by_gpu;
  for (std::size_t l = 0; l < assignments.size(); ++l) {
    if (assignments[l].visible_index >= 0) by_gpu[assignments[l].bus_id].push_back(static_cast<int>(l));
  }
  std::vector<std::vector<int>> out;
  for (auto& [bus, ranks] : by_gpu) {
    if (ranks.size() > 1) out.push_back(ranks);  // already ascending: filled in rank order
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });
  return out;
}

std::string describe_shared_gpus(const std::vector<GpuAssignment>& assignments) {
  std::string out;
  for (const auto& group : shared_gpus(assignments)) {
    std::string ranks;
    for (const int r : group) ranks += (ranks.empty() ? "" : ",") + std::to_string(r);
    out += std::string(out.empty() ? "" : "; ") + "local ranks " + ranks + " share GPU " +
           assignments[static_cast<std::size_t>(group.front())].bus_id;
  }
  return out;
}

}  // namespace scalebench::device
