#pragma once
// Which GPU each rank of a node uses, and whether ranks share one: decided from the devices'
// identities (PCI bus ids) that every node-local rank can see, not from counting visible devices
// against ranks. Under `srun --gpus-per-task=1` (or any per-rank CUDA_VISIBLE_DEVICES) every rank
// sees one GPU, a different one each: no GPU is shared although "4 ranks see 1 GPU". Pure logic,
// no CUDA: the caller gathers the bus ids (run_setup.cpp) and this decides.
#include <string>
#include <vector>

namespace scalebench::device {

struct GpuAssignment {
  int visible_index = -1;   // index among the rank's own visible devices (what cudaSetDevice takes)
  std::string bus_id;       // the chosen GPU's PCI bus id
};

// visible[l] holds the PCI bus ids node-local rank l sees, in CUDA's order; every rank of the node
// passes the same table and so gets the same answer. Rank l prefers its visible device l mod
// count (the usual one-GPU-per-local-rank mapping when all ranks see all GPUs); if a lower local
// rank already holds that GPU, it takes the first of its visible GPUs that no lower rank holds, and
// only when none is free does it share its preferred one. A rank that sees no GPU gets index -1.
std::vector<GpuAssignment> assign_gpus(const std::vector<std::vector<std::string>>& visible);

// The groups of node-local ranks that were assigned one GPU together (two or more per group),
// each group sorted, groups in the order of their lowest rank. Empty when no GPU is shared.
std::vector<std::vector<int>> shared_gpus(const std::vector<GpuAssignment>& assignments);

// One line for a user that names the shared GPUs and their ranks ("local ranks 0,1 share GPU
// 0000:3B:00.0"), "" when none is shared.
std::string describe_shared_gpus(const std::vector<GpuAssignment>& assignments);

}  // namespace scalebench::device
