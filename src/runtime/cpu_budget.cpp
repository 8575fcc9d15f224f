#include "runtime/cpu_budget.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

namespace scalebench {
namespace {

int parse_cpu(const std::string& text, const std::string& list) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 6) {
    throw std::invalid_argument("cpu list '" + list + "': '" + text + "' is not a CPU number");
  }
  return std::stoi(text);
}

}  // namespace

std::set<int> parse_cpu_list(const std::string& list) {
  std::set<int> cpus;
  std::stringstream in(list);
  std::string part;
  while (std::getline(in, part, ',')) {
    const auto dash = part.find('-');
    const int lo = parse_cpu(part.substr(0, dash), list);
    const int hi = dash == std::string::npos ? lo : parse_cpu(part.substr(dash + 1), list);
    if (hi < lo) throw std::invalid_argument("cpu list '" + list + "': range " + part + " runs backwards");
    for (int c = lo; c <= hi; ++c) cpus.insert(c);
  }
  if (cpus.empty()) throw std::invalid_argument("cpu list '" + list + "' names no CPU");
  return cpus;
}

double HostLoad::load() const {
  return cpus > 0 ? static_cast<double>(ranks) * threads_per_rank / cpus : 0.0;
}

std::vector<HostLoad> host_loads(const std::vector<std::string>& hostnames,
                                 const std::vector<std::string>& affinities, int threads_per_rank) {
  if (hostnames.size() != affinities.size()) {
    throw std::invalid_argument("host_loads: " + std::to_string(hostnames.size()) + " hostnames, " +
                                std::to_string(affinities.size()) + " affinity lists");
  }
  std::vector<HostLoad> loads;
  std::map<std::string, std::size_t> index;
  std::vector<std::set<int>> cpus;
  std::vector<bool> known;
  for (std::size_t r = 0; r < hostnames.size(); ++r) {
    auto [it, fresh] = index.emplace(hostnames[r], loads.size());
    if (fresh) {
      loads.push_back(HostLoad{hostnames[r], 0, threads_per_rank, 0});
      cpus.emplace_back();
      known.push_back(true);
    }
    const std::size_t h = it->second;
    ++loads[h].ranks;
    try {
      const auto mine = parse_cpu_list(affinities[r]);
      cpus[h].insert(mine.begin(), mine.end());
    } catch (const std::invalid_argument&) {
      known[h] = false;  // one rank's CPUs unknown: the host's budget is unknown, never guessed
    }
  }
  for (std::size_t h = 0; h < loads.size(); ++h) loads[h].cpus = known[h] ? static_cast<int>(cpus[h].size()) : 0;
  return loads;
}

std::string oversubscription_warning(const std::vector<HostLoad>& loads) {
  std::vector<const HostLoad*> over;
  for (const auto& l : loads) {
    if (l.oversubscribed()) over.push_back(&l);
  }
  if (over.empty()) return "";
  std::stable_sort(over.begin(), over.end(), [](const HostLoad* a, const HostLoad* b) { return a->load() > b->load(); });
  std::ostringstream out;
  out << "oversubscribed: ";
  const std::size_t shown = std::min<std::size_t>(over.size(), 3);
  for (std::size_t i = 0; i < shown; ++i) {
    const HostLoad& l = *over[i];
    char load[32];
    std::snprintf(load, sizeof(load), "%.2g", l.load());
    out << (i ? "; " : "") << l.ranks << " rank(s) x " << l.threads_per_rank << " thread(s) on " << l.cpus
        << " CPU(s) of " << l.host << " (" << load << " threads per CPU)";
  }
  if (over.size() > shown) out << "; and " << over.size() - shown << " more host(s)";
  out << ". Ranks share cores, so step times and efficiency measure the sharing, not the machine; "
         "use fewer ranks per host or --threads so that ranks x threads <= CPUs";
  return out.str();
}

double max_host_load(const std::vector<HostLoad>& loads) {
  double worst = 0.0;
  for (const auto& l : loads) worst = std::max(worst, l.load());
  return worst;
}

}  // namespace scalebench
