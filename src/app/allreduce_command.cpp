#include "app/allreduce_command.hpp"

#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "app/run_setup.hpp"
#include "comm/communicator.hpp"
#include "core/byte_size.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "device/device.hpp"
#include "io/allreduce_file.hpp"
#include "metrics/summary.hpp"  // median
#include "runtime/build_info.hpp"
#include "runtime/compute_load.hpp"
#include "runtime/log.hpp"
#include "runtime/mpi_progress.hpp"
#include "runtime/versions.hpp"
#include "runtime/watchdog.hpp"
#include "train/run_recorder.hpp"  // utc_timestamp_iso

namespace scalebench {

CLI::App* add_allreduce_subcommand(CLI::App& app, AllreduceOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "allreduce", "Allreduce bandwidth sweep over message sizes, like nccl-tests' all_reduce_perf");
  // Sizes are strings here: CLI11 would refuse "32M" as a number; parse_byte_size explains.
  cmd->add_option("-b,--min-bytes", o.min_bytes, "Smallest message per rank (bytes; K/M/G suffixes)")
      ->capture_default_str();
  cmd->add_option("-e,--max-bytes", o.max_bytes, "Largest message per rank (bytes; K/M/G suffixes)")
      ->capture_default_str();
  cmd->add_option("-f,--step-factor", o.step_factor, "Multiplication factor between sizes (>= 2)")
      ->capture_default_str();
  cmd->add_option("-w,--warmup-iters", o.warmup_iters, "Untimed iterations per size")->capture_default_str();
  cmd->add_option("-n,--iters", o.iters, "Timed iterations per size")->capture_default_str();
  cmd->add_option("--device", o.device, "cpu | cuda | auto (cuda when a GPU is visible)")->capture_default_str();
  cmd->add_option("--backend", o.backend, "auto | mpi | nccl (auto: nccl for cuda, mpi for cpu)")
      ->capture_default_str();
  cmd->add_option("--dtype", o.dtype, "float32 | float64")->capture_default_str();
  cmd->add_option("--scope", o.scope,
                  "auto | a list of intra (the ranks of each node, all nodes at once), inter (one "
                  "rank per node: the network), all (every rank); auto: all, with intra and inter "
                  "first when several nodes hold several ranks each")
      ->capture_default_str();
  cmd->add_flag("--check,!--no-check", o.check,
                "Verify every element of one extra allreduce per size against the known mean");
  cmd->add_option("-o,--output", o.output, "Result file (HDF5); none when not given");
  cmd->add_option("--mpi-chunk-mb", o.mpi_chunk_mb, "MPI backend: reduce each bucket in slices of this many MiB (0: one call per bucket)")->capture_default_str();
  cmd->add_flag("--beside-compute", o.beside_compute,
                "Sweep every scope again (scope <scope>+compute) while each rank also multiplies "
                "matrices on a thread of its own: what a gradient bucket gets while backward "
                "computes on the same CPU cores (CPU only; results/predict uses it)");
  cmd->add_option("--compute-threads", o.compute_threads,
                  "With --beside-compute: intra-op threads of the compute load (as training's --threads)")
      ->capture_default_str();
  cmd->add_option("--comm-timeout", o.comm_timeout_s,
                  "Seconds one allreduce may take before the job is ended as stuck")
      ->capture_default_str();
  return cmd;
}

namespace {

// What the options resolve to on this rank, before any collective.
struct Plan {
  std::vector<std::uint64_t> sizes;  // bytes per rank, whole elements
  torch::ScalarType dtype = torch::kFloat32;
  const char* type_name = "float";   // as nccl-tests prints it
  torch::Device device = torch::kCPU;
  BackendChoice backend = BackendChoice::kAuto;
  std::vector<CommGroup> scopes;     // swept in this order
};

std::vector<CommGroup> parse_scopes(const World& world, const std::string& text) {
  if (text == "auto") {
    if (world.nodes() > 1 && world.max_ranks_per_node() > 1) {
      return {CommGroup::kNode, CommGroup::kAcrossNodes, CommGroup::kWorld};
    }
    return {CommGroup::kWorld};
  }
  std::vector<CommGroup> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    // The names are comm_group_name()'s, the ones the table and the file print.
    const CommGroup groups[] = {CommGroup::kNode, CommGroup::kAcrossNodes, CommGroup::kWorld};
    const auto named = std::find_if(std::begin(groups), std::end(groups),
                                    [&item](CommGroup g) { return item == comm_group_name(g); });
    if (named == std::end(groups)) {
      throw UsageError("--scope " + text + ": '" + item + "' is not a scope; allowed: auto, or a "
                       "comma-separated list of intra, inter, all");
    }
    const CommGroup g = *named;
    if (std::find(out.begin(), out.end(), g) != out.end()) {
      throw UsageError("--scope " + text + ": '" + item + "' is listed twice");
    }
    out.push_back(g);
  }
  if (out.empty()) throw UsageError("--scope is empty; allowed: auto, or a list of intra, inter, all");
  return out;
}

Plan make_plan(const World& world, const AllreduceOptions& o) {
  Plan p;
  // Collective within the node: before anything that may throw on one rank only.
  const Placement placement = place_rank(world, o.device, o.backend);
  p.device = placement.device;
  p.backend = placement.backend;
  p.scopes = parse_scopes(world, o.scope);
  if (o.dtype == "float32") {
    p.dtype = torch::kFloat32;
    p.type_name = "float";
  } else if (o.dtype == "float64") {
    p.dtype = torch::kFloat64;
    p.type_name = "double";
  } else {
    throw UsageError("--dtype " + o.dtype + ": allowed: float32, float64");
  }
  const std::uint64_t element = p.dtype == torch::kFloat32 ? 4 : 8;
  if (o.iters < 1) throw UsageError("--iters " + std::to_string(o.iters) + ": allowed: 1 or more");
  if (o.warmup_iters < 0) {
    throw UsageError("--warmup-iters " + std::to_string(o.warmup_iters) + ": allowed: 0 or more");
  }
  if (!(o.mpi_chunk_mb >= 0.0) || o.mpi_chunk_mb > 4096.0) {
    throw UsageError("--mpi-chunk-mb " + std::to_string(o.mpi_chunk_mb) + ": allowed: 0 (one call per message) to 4096");
  }
  if (!(o.comm_timeout_s > 0)) {
    throw UsageError("--comm-timeout " + std::to_string(o.comm_timeout_s) + ": allowed: > 0 seconds");
  }
  const std::uint64_t min_bytes = parse_byte_size(o.min_bytes, "--min-bytes");
  const std::uint64_t max_bytes = parse_byte_size(o.max_bytes, "--max-bytes");
  if (min_bytes < element) {
    throw UsageError("--min-bytes " + o.min_bytes + ": allowed: at least one " + o.dtype +
                     " element (" + std::to_string(element) + " bytes)");
  }
  if (o.step_factor < 2) {
    throw UsageError("--step-factor " + std::to_string(o.step_factor) + ": allowed: 2 or more");
  }
  // Like nccl-tests, a size that is not a whole number of elements is rounded down to one.
  for (const auto s : geometric_sizes(min_bytes, max_bytes, static_cast<std::uint64_t>(o.step_factor))) {
    p.sizes.push_back(s / element * element);
  }

  if (o.compute_threads < 1 || o.compute_threads > 1024) {
    throw UsageError("--compute-threads " + std::to_string(o.compute_threads) + ": allowed: 1 to 1024");
  }
  if (o.beside_compute && p.device.is_cuda()) {
    throw UsageError("--beside-compute measures collectives beside compute on shared CPU cores: "
                     "allowed with --device cpu only (this run uses cuda)");
  }

  if (o.device != "cpu" && o.device != "cuda" && o.device != "auto") {
    throw UsageError("--device " + o.device + ": allowed: cpu, cuda, auto");
  }
  if (o.backend != "auto" && o.backend != "mpi" && o.backend != "nccl") {
    throw UsageError("--backend " + o.backend + ": allowed: auto, mpi, nccl");
  }
  return p;
}

// Rank-dependent input whose mean over ranks is known exactly: element i of rank r holds
// (i mod 13) + r, so the mean is (i mod 13) + (n - 1) / 2, a small half-integer that float32
// holds exactly (the MPI path sums whole numbers and divides once: exact). Filled in slices so
// that no index tensor as large as the buffer is needed.
constexpr std::int64_t kSlice = 1 << 20;
constexpr std::int64_t kPatternPeriod = 13;

torch::Tensor pattern_slice(std::int64_t begin, std::int64_t end, const torch::Tensor& like) {
  return torch::arange(begin, end, torch::TensorOptions().dtype(torch::kInt64).device(like.device()))
      .remainder(kPatternPeriod)
      .to(like.scalar_type());
}

void fill_pattern(torch::Tensor& buffer, int rank) {
  const auto n = buffer.numel();
  for (std::int64_t b = 0; b < n; b += kSlice) {
    const auto e = std::min(n, b + kSlice);
    buffer.narrow(0, b, e - b).copy_(pattern_slice(b, e, buffer).add_(rank));
  }
}

struct CheckResult {
  std::int64_t wrong = 0;
  double max_error = 0;
};

// NCCL averages floats by scaling each input by 1/n before summing (not exact for n = 3, ...):
// allow a few roundings of the largest value involved.
double tolerance(torch::ScalarType dtype, int world_size) {
  const double eps = dtype == torch::kFloat32 ? FLT_EPSILON : DBL_EPSILON;
  const double largest = static_cast<double>(kPatternPeriod - 1 + world_size);
  return 2.0 * world_size * eps * largest;
}

CheckResult check_mean(const torch::Tensor& buffer, int world_size) {
  CheckResult out;
  const double tol = tolerance(buffer.scalar_type(), world_size);
  const double offset = (world_size - 1) / 2.0;
  const auto n = buffer.numel();
  for (std::int64_t b = 0; b < n; b += kSlice) {
    const auto e = std::min(n, b + kSlice);
    const torch::Tensor expected = pattern_slice(b, e, buffer).add_(offset);
    // NaN compares false: counted wrong through "not within tolerance", and as an infinite error.
    const torch::Tensor error =
        torch::nan_to_num((buffer.narrow(0, b, e - b) - expected).abs().to(torch::kFloat64),
                          std::numeric_limits<double>::infinity());
    out.wrong += error.le(tol).logical_not().sum().item<std::int64_t>();
    out.max_error = std::max(out.max_error, error.max().item<double>());
  }
  return out;
}

// One allreduce, as the trainer runs a bucket's: ranks start together (barrier), and the time is
// the backend's own measurement of the collective (Work::timing), the figure the run file records
// per bucket, so the two can be compared like for like.
std::string bytes_what(std::int64_t bytes) {
  return "allreduce of " + std::to_string(bytes) + " bytes";
}

// `comm` is null on a rank outside the scope: it joins the barrier only, and its time is NaN.
double timed_allreduce(const World& world, Communicator* comm, Watchdog& watchdog,
                       torch::Tensor& buffer, std::int64_t bytes) {
  world.barrier();
  if (!comm) return std::numeric_limits<double>::quiet_NaN();
  Watchdog::Guard guard(&watchdog, -1, bytes_what(bytes).c_str());
  comm->mark_step_start(std::chrono::steady_clock::now());
  const auto work = comm->allreduce_mean_async(buffer, MeanInputs::kRaw);
  work->wait();
  return work->timing().duration_s;
}

// One scope's communicator (null on ranks outside it) and its shape.
struct Scope {
  CommGroup group = CommGroup::kWorld;
  std::unique_ptr<Communicator> comm;
  int group_size = 1;  // ranks in one collective (intra: the largest node's)
  int groups = 1;      // collectives side by side
};

Scope make_scope(const World& world, const Plan& plan, const AllreduceOptions& o, CommGroup group) {
  Scope sc;
  sc.group = group;
  sc.comm = make_communicator(plan.backend, plan.device, CommOptions::from_mpi_chunk_mb(o.mpi_chunk_mb), group);
  switch (group) {
    case CommGroup::kWorld: sc.group_size = world.size(); break;
    case CommGroup::kNode:
      sc.group_size = world.max_ranks_per_node();
      sc.groups = world.nodes();
      break;
    case CommGroup::kAcrossNodes: sc.group_size = world.nodes(); break;
  }
  return sc;
}

std::string scope_description(const Scope& sc) {
  const std::string n = std::to_string(sc.group_size);
  switch (sc.group) {
    case CommGroup::kWorld: return "all ranks in one allreduce (" + n + " ranks)";
    case CommGroup::kNode:
      return "the ranks of each node, " + std::to_string(sc.groups) + " node(s) at once (up to " + n +
             " ranks each)";
    case CommGroup::kAcrossNodes: return "one rank per node, across the network (" + n + " ranks)";
  }
  return "";
}

std::string scopes_attr(const std::vector<CommGroup>& scopes) {
  std::string out;
  for (const CommGroup g : scopes) out += (out.empty() ? "" : ",") + std::string(comm_group_name(g));
  return out;
}

std::string hosts_attr(const std::vector<std::string>& hostnames) {
  std::set<std::string> seen;
  std::string out;
  for (const auto& h : hostnames) {
    if (seen.insert(h).second) out += (out.empty() ? "" : ",") + h;
  }
  return out;
}

void print_header(const World& world, const AllreduceOptions& o, const Plan& p, const std::string& backend) {
  std::printf("# scalebench allreduce: %d rank(s) on %d node(s), backend %s, device %s, %s, "
              "%lld warm-up + %lld timed iteration(s) per size, check %s\n",
              world.size(), world.nodes(), backend.c_str(), p.device.is_cuda() ? "cuda" : "cpu",
              o.dtype.c_str(), static_cast<long long>(o.warmup_iters), static_cast<long long>(o.iters),
              o.check ? "on" : "off");
  std::printf("# time: median over iterations of the slowest rank taking part; busbw = algbw * "
              "2(n-1)/n, n = ranks in one collective\n#\n");
  std::printf("# %10s %12s %8s %6s %10s %9s %9s %7s\n", "size", "count", "type", "redop", "time",
              "algbw", "busbw", "#wrong");
  std::printf("# %10s %12s %8s %6s %10s %9s %9s %7s\n", "(B)", "(elements)", "", "", "(us)", "(GB/s)",
              "(GB/s)", "");
  std::fflush(stdout);
}

void print_row(const io::AllreduceSizeResult& r, const char* type_name, bool with_rate) {
  char wrong[32];
  if (r.wrong < 0) {
    std::snprintf(wrong, sizeof(wrong), "N/A");
  } else {
    std::snprintf(wrong, sizeof(wrong), "%lld", static_cast<long long>(r.wrong));
  }
  char rate[32] = "";
  if (with_rate) std::snprintf(rate, sizeof(rate), " %8.3f", r.compute_rate);
  std::printf("  %10llu %12llu %8s %6s %10.2f %9.3f %9.3f %7s%s\n",
              static_cast<unsigned long long>(r.bytes), static_cast<unsigned long long>(r.count),
              type_name, "avg", r.time_s * 1e6, r.algbw_gbps, r.busbw_gbps, wrong, rate);
  std::fflush(stdout);
}

// The compute load's share of a core with no collective running (every rank's load on at once,
// so the loads' own sharing of the cores is in it): the reference its shares beside a collective
// are divided by. Sleeps for the window: this thread takes no core meanwhile.
double share_alone(const ComputeLoad& load) {
  constexpr auto kSettle = std::chrono::milliseconds(50);
  constexpr auto kWindow = std::chrono::milliseconds(400);
  std::this_thread::sleep_for(kSettle);
  const double cpu_start = load.cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(kWindow);
  const double cpu = load.cpu_seconds() - cpu_start;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return cpu / wall;
}

// Median of the values that are not NaN (ranks outside a scope send NaN); NaN if none is.
double median_of_known(const std::vector<double>& values) {
  std::vector<double> known;
  for (const double v : values) {
    if (!std::isnan(v)) known.push_back(v);
  }
  return known.empty() ? std::numeric_limits<double>::quiet_NaN() : median(known);
}

}  // namespace

int run_allreduce(World& world, const AllreduceOptions& o) {
  // Phase 1, local: options and device. A usage error on any rank is agreed before collectives.
  Plan plan;
  std::string error;
  try {
    plan = make_plan(world, o);
  } catch (const UsageError& e) {
    error = e.what();
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  // Phase 2, rank 0: the output path, never overwritten; written as .partial, renamed when done.
  const std::string output = world.broadcast_string(o.output);
  const std::string partial = output + ".partial";
  if (world.is_root() && !output.empty()) {
    error = check_output_path(output, /*overwrite=*/false);
    if (error.empty() && std::filesystem::exists(partial)) {
      error = "--output " + output + ": " + partial +
              " exists (a run writing it is in progress or was interrupted); remove it or choose "
              "another name";
    }
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);

  // Phase 3, collective: one communicator per scope, watchdog, file.
  std::vector<Scope> scopes;
  for (const CommGroup g : plan.scopes) scopes.push_back(make_scope(world, plan, o, g));
  // Rank 0 (the only one that prints and writes) takes part in every scope.
  std::string backend;
  for (const auto& sc : scopes) {
    if (sc.comm) backend = sc.comm->backend();
  }
  Watchdog watchdog(o.comm_timeout_s, [&scopes](const std::string&) {
    for (auto& sc : scopes) {
      if (sc.comm) sc.comm->abort();
    }
  });
  const auto hostnames = world.gather_strings_to_root(world.hostname());
  std::unique_ptr<io::AllreduceFile> file;
  if (world.is_root() && !output.empty()) {
    try {
      file = std::make_unique<io::AllreduceFile>(io::AllreduceFile::create(partial, world.size()));
    } catch (const std::exception& e) {
      error = "--output " + output + ": cannot create " + partial + " (" + e.what() + ")";
    }
  }
  error = world.agree_on_error(error);
  if (!error.empty()) throw UsageError(error);
  if (file) {
    file->set_attr("tool", std::string("scalebench"));
    file->set_attr("tool_version", std::string(scalebench_version()));
    file->set_attr("git_revision", std::string(scalebench_git_revision()));
    file->set_attr("command_line", o.command_line);
    file->set_attr("date", utc_timestamp_iso());
    file->set_attr("backend", backend);
    file->set_attr("device", std::string(plan.device.is_cuda() ? "cuda" : "cpu"));
    file->set_attr("dtype", o.dtype);
    file->set_attr("redop", std::string("avg"));
    file->set_attr("world_size", world.size());
    file->set_attr("nodes", world.nodes());
    file->set_attr("ranks_per_node", world.max_ranks_per_node());
    file->set_attr("hosts", hosts_attr(hostnames));
    file->set_attr("scopes", scopes_attr(plan.scopes));
    file->set_attr("min_bytes", static_cast<std::int64_t>(plan.sizes.front()));
    file->set_attr("max_bytes", static_cast<std::int64_t>(plan.sizes.back()));
    file->set_attr("step_factor", o.step_factor);
    file->set_attr("warmup_iters", o.warmup_iters);
    file->set_attr("iters", o.iters);
    file->set_attr("check", static_cast<std::int64_t>(o.check ? 1 : 0));
    file->set_attr("comm_timeout_s", o.comm_timeout_s);
    file->set_attr("mpi_chunk_mb", o.mpi_chunk_mb);
    file->set_attr("mpi_progress", mpi_progress_description());
    file->set_attr("beside_compute", static_cast<std::int64_t>(o.beside_compute ? 1 : 0));
    if (o.beside_compute) file->set_attr("compute_threads", o.compute_threads);
    for (const auto& [name, version] : library_versions()) file->set_attr("version_" + name, version);
    file->write_hostnames(hostnames);
  }
  if (world.is_root()) print_header(world, o, plan, backend);

  // Phase 4: the sweep, scope by scope.
  const int n = world.size();
  const std::int64_t element = plan.dtype == torch::kFloat32 ? 4 : 8;
  std::vector<std::pair<std::string, double>> busbw_means;  // per scope
  double busbw_total = 0;
  std::size_t rows = 0;
  // With --beside-compute every scope is swept twice: alone, then beside a compute load on
  // every rank (also on ranks outside the scope: in training every rank computes).
  struct Pass {
    Scope* scope;
    bool beside_compute;
  };
  std::vector<Pass> passes;
  for (Scope& sc : scopes) {
    passes.push_back({&sc, false});
    if (o.beside_compute) passes.push_back({&sc, true});
  }
  for (const Pass& pass : passes) {
    Scope& sc = *pass.scope;
    Communicator* comm = sc.comm.get();
    const double bus_factor = 2.0 * (sc.group_size - 1) / sc.group_size;
    const std::string scope_name = std::string(comm_group_name(sc.group)) + (pass.beside_compute ? "+compute" : "");
    std::unique_ptr<ComputeLoad> load;
    double alone_share = std::numeric_limits<double>::quiet_NaN();
    if (pass.beside_compute) {
      torch::set_num_threads(static_cast<int>(o.compute_threads));
      load = std::make_unique<ComputeLoad>();
      world.barrier();  // every rank's load runs before any measures its share alone
      alone_share = share_alone(*load);
      world.barrier();
      if (file) file->set_attr("compute_load", load->description());
    }
    if (world.is_root()) {
      std::printf("# scope %s: %s\n", scope_name.c_str(), scope_description(sc).c_str());
      if (load) {
        std::printf("# beside %s; last column: its share of a core during the size's iterations over "
                    "its share alone (%.3f on rank 0), median over ranks\n",
                    load->description().c_str(), alone_share);
      }
      std::fflush(stdout);
    }
    double busbw_sum = 0;
    for (const std::uint64_t bytes : plan.sizes) {
      const auto count = static_cast<std::int64_t>(bytes) / element;
      torch::Tensor buffer = torch::empty({count}, torch::TensorOptions().dtype(plan.dtype).device(plan.device));
      // Defined values even without --check: uninitialised memory may hold denormals or NaNs, which
      // slow a CPU reduction down.
      if (comm) fill_pattern(buffer, comm->rank());
      for (std::int64_t i = 0; i < o.warmup_iters; ++i) {
        timed_allreduce(world, comm, watchdog, buffer, static_cast<std::int64_t>(bytes));
      }
      std::vector<double> times;
      const double load_cpu_start = load ? load->cpu_seconds() : 0.0;
      const auto load_wall_start = std::chrono::steady_clock::now();
      for (std::int64_t i = 0; i < o.iters; ++i) {
        times.push_back(timed_allreduce(world, comm, watchdog, buffer, static_cast<std::int64_t>(bytes)));
      }
      double rate = std::numeric_limits<double>::quiet_NaN();
      if (load) {
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - load_wall_start).count();
        if (comm && wall > 0) rate = (load->cpu_seconds() - load_cpu_start) / wall / alone_share;
      }
      io::AllreduceSizeResult r;
      r.scope = scope_name;
      if (load) r.compute_rate = median_of_known(world.gather_to_root({rate}));
      r.group_size = sc.group_size;
      r.groups = sc.groups;
      r.bytes = bytes;
      r.count = static_cast<std::uint64_t>(count);
      if (o.check) {
        // One more allreduce on fresh rank-dependent input, every element verified on every rank.
        CheckResult c;
        if (comm) fill_pattern(buffer, comm->rank());
        timed_allreduce(world, comm, watchdog, buffer, static_cast<std::int64_t>(bytes));
        if (comm) c = check_mean(buffer, comm->size());
        const auto per_rank = world.gather_to_root({static_cast<double>(c.wrong)});
        const auto worst = world.max_over_ranks(std::vector<double>{static_cast<double>(c.wrong), c.max_error});
        r.wrong = 0;
        for (const double w : per_rank) r.wrong += static_cast<std::int64_t>(w);
        if (!world.is_root()) r.wrong = static_cast<std::int64_t>(worst[0]);  // > 0 iff any rank's is
        r.max_error = worst[1];
      }
      // The slowest rank taking part sets each iteration's time; the size's time is the median.
      std::vector<double> for_max = times;
      for (double& t : for_max) {
        if (std::isnan(t)) t = -1.0;  // took no part: never the slowest
      }
      r.time_s = median(world.max_over_ranks(for_max));
      r.algbw_gbps = static_cast<double>(bytes) / r.time_s / 1e9;
      r.busbw_gbps = r.algbw_gbps * bus_factor;
      const auto gathered = world.gather_to_root(times);  // rank-major
      if (world.is_root()) {
        const auto iters = static_cast<std::size_t>(o.iters);
        r.times_s.resize(gathered.size());
        for (std::size_t rank = 0; rank < static_cast<std::size_t>(n); ++rank) {
          for (std::size_t i = 0; i < iters; ++i) r.times_s[i * n + rank] = gathered[rank * iters + i];
        }
        print_row(r, plan.type_name, load != nullptr);
        if (file) file->append_size(r);
      }
      busbw_sum += r.busbw_gbps;
      if (r.wrong > 0) {
        if (file) {
          file->set_attr("status", std::string("wrong_results"));
          file->set_attr("end_time", utc_timestamp_iso());
          file->close();
        }
        if (world.is_root()) {
          log::error("allreduce (scope " + scope_name + ") gave " + std::to_string(r.wrong) +
                     " wrong element(s) at " + std::to_string(bytes) + " bytes (largest error " +
                     std::to_string(r.max_error) + ")" +
                     (file ? "; recorded sizes are in " + partial : std::string()));
        }
        return kExitFault;
      }
    }
    busbw_means.emplace_back(scope_name, busbw_sum / static_cast<double>(plan.sizes.size()));
    if (!load) {  // the average nccl-tests prints: collectives alone
      busbw_total += busbw_sum;
      rows += plan.sizes.size();
    }
  }
  if (world.is_root()) {
    std::printf("# Out of bounds values : %s\n", o.check ? "0 OK" : "not checked");
    std::printf("# Avg bus bandwidth    : %.4f\n", busbw_total / static_cast<double>(rows));
    if (busbw_means.size() > 1) {
      for (const auto& [name, mean] : busbw_means) std::printf("#   scope %-5s       : %.4f\n", name.c_str(), mean);
    }
    std::printf("#\n");
    std::fflush(stdout);
  }
  if (file) {
    file->set_attr("status", std::string("completed"));
    file->set_attr("end_time", utc_timestamp_iso());
    file->close();
    std::error_code ec;
    std::filesystem::rename(partial, output, ec);
    if (ec) throw std::runtime_error("cannot rename " + partial + " to " + output + ": " + ec.message());
    log::info("wrote " + output);
  }
  return kExitOk;
}

}  // namespace scalebench
