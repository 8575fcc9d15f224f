// What rank 0's recording costs at a scale this machine cannot run: fabricated per-rank step
// records of thousands of ranks, in the form MPI_Gather hands them to rank 0 at each flush, driven
// through the same RecordSink the real recorder uses (unpack, summary, /steps and /buckets rows of
// the recorded ranks, /rank_stats, HDF5 chunked compression and flush). No training, no MPI ranks:
// it runs in one process what rank 0 runs. bench/scale_sim.py runs it per --record-ranks mode and
// then the report on each file, and writes the table for docs/scale.md.
//
//   bench_record_sim --ranks 4096 --steps 10000 --buckets 20 --record-ranks auto --output f.h5
//
// Prints one JSON line: wall seconds, peak RSS (VmHWM) of the process, file bytes, summary figures.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "metrics/process_stats.hpp"
#include "train/record_sink.hpp"

namespace {

using scalebench::StepField;

struct Args {
  int ranks = 4096;
  std::int64_t steps = 10000;
  int buckets = 20;
  std::int64_t flush_every = 20;
  std::int64_t warmup = 2;
  std::string record_ranks = "auto";
  std::string record_buckets = "every:1";
  std::string output;
  std::uint64_t seed = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(k + ": needs a value");
    const std::string v = argv[++i];
    if (k == "--ranks") a.ranks = std::stoi(v);
    else if (k == "--steps") a.steps = std::stoll(v);
    else if (k == "--buckets") a.buckets = std::stoi(v);
    else if (k == "--flush-every") a.flush_every = std::stoll(v);
    else if (k == "--warmup") a.warmup = std::stoll(v);
    else if (k == "--record-ranks") a.record_ranks = v;
    else if (k == "--record-buckets") a.record_buckets = v;
    else if (k == "--output") a.output = v;
    else if (k == "--seed") a.seed = std::stoull(v);
    else throw std::invalid_argument("unknown option " + k);
  }
  if (a.output.empty()) throw std::invalid_argument("--output is required");
  if (a.ranks < 1 || a.steps < 1 || a.buckets < 0 || a.flush_every < 1) {
    throw std::invalid_argument("--ranks, --steps and --flush-every must be >= 1, --buckets >= 0");
  }
  return a;
}

// Plausible timings, so that compression sees what a real run gives it: each rank has its own
// speed (a few percent apart, one rank in 64 slower), every step jitters, phases split the step,
// bucket allreduces overlap the backward pass. Integer fields are whole numbers, as recorded.
class Fabricator {
 public:
  Fabricator(const Args& a) : a_(a), rng_(a.seed), speed_(static_cast<std::size_t>(a.ranks)) {
    std::normal_distribution<double> spread(1.0, 0.03);
    for (int r = 0; r < a.ranks; ++r) speed_[static_cast<std::size_t>(r)] = spread(rng_) * (r % 64 == 63 ? 1.2 : 1.0);
  }

  // Packed records of steps [first, first + n) of every rank, rank after rank (the gather's order).
  void fill(std::int64_t first, std::int64_t n, std::vector<double>& out) {
    const std::size_t per = scalebench::packed_record_size(a_.buckets);
    out.assign(static_cast<std::size_t>(a_.ranks) * static_cast<std::size_t>(n) * per, 0.0);
    std::normal_distribution<double> jitter(1.0, 0.02);
    const auto nb = static_cast<std::size_t>(a_.buckets);
    for (int r = 0; r < a_.ranks; ++r) {
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t step = first + i;
        double* v = &out[(static_cast<std::size_t>(r) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)) * per];
        const double s = 0.1 * speed_[static_cast<std::size_t>(r)] * jitter(rng_);
        auto set = [v](StepField f, double x) { v[static_cast<std::size_t>(f)] = x; };
        set(StepField::kStep, static_cast<double>(step));
        set(StepField::kWarmup, step < a_.warmup ? 1.0 : 0.0);
        set(StepField::kEpoch, static_cast<double>(step / 1000));
        set(StepField::kSamples, 32.0);
        set(StepField::kLoss, 2.3 * std::exp(-static_cast<double>(step) / 5000.0) * jitter(rng_));
        set(StepField::kStepS, s);
        set(StepField::kDataS, 0.02 * s);
        set(StepField::kForwardS, 0.30 * s);
        set(StepField::kBackwardS, 0.55 * s);
        set(StepField::kCommExposedS, 0.08 * s);
        set(StepField::kOptimizerS, 0.05 * s);
        set(StepField::kCommBusyS, 0.4 * s);
        set(StepField::kBytesReduced, 4.0 * 11'000'000);
        set(StepField::kCpuS, 0.95 * s);
        set(StepField::kPeakRssBytes, std::round(6.0e8 + 1.0e6 * (r % 7)));
        set(StepField::kDevicePeakAllocatedBytes, -1.0);
        set(StepField::kDevicePeakReservedBytes, -1.0);
        set(StepField::kDeviceUsedBytes, -1.0);
        set(StepField::kEndTimeS, 1.0 + 0.1 * static_cast<double>(step + 1));
        for (std::size_t b = 0; b < nb; ++b) {
          v[scalebench::kNumStepFields + b] = 0.3 * s + 0.5 * s * static_cast<double>(b) / static_cast<double>(nb);
          v[scalebench::kNumStepFields + nb + b] = 0.4 * s / static_cast<double>(nb) * jitter(rng_);
        }
      }
    }
  }

 private:
  const Args& a_;
  std::mt19937_64 rng_;
  std::vector<double> speed_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    const scalebench::RankSelection sel = scalebench::record_ranks_selection(a.record_ranks, a.ranks);
    const std::int64_t every = scalebench::record_buckets_every(a.record_buckets);
    std::filesystem::remove(a.output);
    const auto start = std::chrono::steady_clock::now();
    double fabricate_s = 0.0;
    std::size_t summary_bytes = 0;
    std::size_t metadata_cache_bytes = 0;  // HDF5's, at the end of the run
    scalebench::RunSummary summary;
    {
      scalebench::RecordSink sink(a.output, a.ranks, a.buckets, every, sel);
      // What the report groups and labels runs by (train_command writes many more).
      scalebench::io::RunFile& f = sink.file();
      f.set_attr("model", std::string("record_sim"));
      f.set_attr("dataset", std::string("synthetic"));
      f.set_attr("device", std::string("cpu"));
      f.set_attr("backend", std::string("mpi"));
      f.set_attr("scaling_mode", std::string("weak"));
      f.set_attr("world_size", a.ranks);
      f.set_attr("nodes", 1);
      f.set_attr("batch_per_rank", 32);
      f.set_attr("global_batch", static_cast<std::int64_t>(32) * a.ranks);
      f.set_attr("threads", 1);
      f.set_attr("n_buckets", a.buckets);
      f.set_attr("record_buckets", a.record_buckets);
      const std::vector<std::int64_t> bytes(static_cast<std::size_t>(a.buckets), 44'000'000 / std::max(1, a.buckets));
      f.write_bucket_layout(bytes, std::vector<std::int64_t>(bytes.size(), 4), std::vector<std::int64_t>(bytes.size(), 1));
      Fabricator fab(a);
      std::vector<double> gathered;
      for (std::int64_t first = 0; first < a.steps; first += a.flush_every) {
        const std::int64_t n = std::min(a.flush_every, a.steps - first);
        const auto t0 = std::chrono::steady_clock::now();
        fab.fill(first, n, gathered);
        fabricate_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        sink.append_gathered(gathered, static_cast<std::size_t>(n));
      }
      summary = sink.summary();
      summary_bytes = sink.summary_memory_bytes();
      metadata_cache_bytes = f.metadata_cache_bytes();
      f.set_attr("status", std::string("completed"));
      f.close();
    }
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json out;
    out["ranks"] = a.ranks;
    out["steps"] = a.steps;
    out["buckets"] = a.buckets;
    out["flush_every"] = a.flush_every;
    out["record_ranks"] = sel.mode;
    out["recorded_ranks"] = sel.ranks.size();
    out["record_buckets"] = a.record_buckets;
    out["wall_s"] = wall_s;
    out["fabricate_s"] = fabricate_s;  // making the records: not rank 0's cost
    out["rank0_s"] = wall_s - fabricate_s;
    out["peak_rss_bytes"] = scalebench::peak_rss_bytes();
    out["summary_bytes"] = summary_bytes;
    out["h5_metadata_cache_bytes"] = metadata_cache_bytes;
    out["file_bytes"] = std::filesystem::file_size(a.output);
    out["median_step_s"] = summary.median_step_s;
    out["slowest_rank"] = summary.slowest_rank;
    out["measured_steps"] = summary.measured_steps;
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_record_sim: " << e.what() << std::endl;
    return 2;
  }
}
