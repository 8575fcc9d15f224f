// The oversubscription check: CPU lists as the kernel writes them, per-host unions of the ranks'
// affinity sets, and the warning only where ranks x threads exceed a host's CPUs.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu_budget.hpp"

using scalebench::host_loads;
using scalebench::max_host_load;
using scalebench::oversubscription_warning;
using scalebench::parse_cpu_list;

TEST(CpuBudget, ParsesKernelCpuLists) {
  EXPECT_EQ(parse_cpu_list("0"), (std::set<int>{0}));
  EXPECT_EQ(parse_cpu_list("0-3,8"), (std::set<int>{0, 1, 2, 3, 8}));
  EXPECT_EQ(parse_cpu_list("4-5,1,1"), (std::set<int>{1, 4, 5}));
  for (const char* bad : {"", "unknown", "3-1", "a-b", "1,,2", "-1", "0-"}) {
    EXPECT_THROW(parse_cpu_list(bad), std::invalid_argument) << bad;
  }
}

TEST(CpuBudget, TwoRanksBoundToOwnCoresAreNotOversubscribed) {
  const auto loads = host_loads({"a", "a"}, {"0", "1"}, 1);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].ranks, 2);
  EXPECT_EQ(loads[0].cpus, 2);
  EXPECT_FALSE(loads[0].oversubscribed());
  EXPECT_DOUBLE_EQ(max_host_load(loads), 1.0);
  EXPECT_EQ(oversubscription_warning(loads), "");
}

TEST(CpuBudget, FourRanksOnTwoCpusAreOversubscribedAndNamed) {
  // The main job's 4-rank point on a 2-core VM: every rank may run on both CPUs.
  const auto loads = host_loads({"vm", "vm", "vm", "vm"}, {"0-1", "0-1", "0-1", "0-1"}, 1);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_TRUE(loads[0].oversubscribed());
  EXPECT_DOUBLE_EQ(loads[0].load(), 2.0);
  const std::string w = oversubscription_warning(loads);
  EXPECT_NE(w.find("4 rank(s) x 1 thread(s) on 2 CPU(s) of vm"), std::string::npos) << w;
  EXPECT_NE(w.find("2 threads per CPU"), std::string::npos) << w;
}

TEST(CpuBudget, ThreadsCountAndHostsAreSeparate) {
  // Host b is fine (1 rank x 2 threads on 4 CPUs); host a runs 2 x 2 threads on 2 CPUs.
  const auto loads = host_loads({"a", "b", "a"}, {"0", "0-3", "1"}, 2);
  ASSERT_EQ(loads.size(), 2u);
  EXPECT_EQ(loads[0].host, "a");
  EXPECT_TRUE(loads[0].oversubscribed());
  EXPECT_FALSE(loads[1].oversubscribed());
  const std::string w = oversubscription_warning(loads);
  EXPECT_NE(w.find("of a "), std::string::npos) << w;
  EXPECT_EQ(w.find("of b "), std::string::npos) << w;
}

TEST(CpuBudget, AnUnknownAffinityIsNeverGuessed) {
  const auto loads = host_loads({"a", "a"}, {"0", "unknown"}, 8);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].cpus, 0);
  EXPECT_FALSE(loads[0].oversubscribed());
  EXPECT_DOUBLE_EQ(max_host_load(loads), 0.0);
  EXPECT_THROW(host_loads({"a"}, {}, 1), std::invalid_argument);
}
