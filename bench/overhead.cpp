// What scalebench's own machinery costs, measured side by side in one process on one rank:
//   plain  : forward, backward, optimizer step; no timers, no communicator (what a user would write)
//   timed  : the Trainer with its phase timers and probes, no communicator
//   dp     : + the data-parallel path at world size 1 (buckets, hooks, allreduce on the MPI thread)
//   full   : + recording (gather to rank 0, HDF5 append and flush every --flush-every steps)
// The variants run in interleaved rounds (ABCD, BCDA, ...) so that drift of the machine hits all
// alike; each round's figure is the mean step time over --steps steps. Ratios are taken within a
// round (the variants ran back to back, so they saw the same machine state) and the median over
// rounds is reported with its min and max. Run it as a single process (no mpirun): it is the
// 1-rank case by design. Targets (what we hold the tool to) are printed with whether they were met.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>
#include <unistd.h>  // getpid

#include "comm/mpi_communicator.hpp"
#include "datasets/synthetic.hpp"
#include "ddp/reducer.hpp"
#include "metrics/phase_clock.hpp"
#include "metrics/summary.hpp"
#include "models/registry.hpp"
#include "runtime/world.hpp"
#include "train/optimizers.hpp"
#include "train/run_recorder.hpp"
#include "train/trainer.hpp"

using namespace scalebench;

namespace {

struct Args {
  std::string model = "cifar10_cnn";
  std::int64_t batch = 32;
  int threads = 1;
  int steps = 20;
  int rounds = 7;
  std::int64_t flush_every = 20;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--model") a.model = v;
    else if (k == "--batch-size") a.batch = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--steps") a.steps = std::stoi(v);
    else if (k == "--rounds") a.rounds = std::stoi(v);
    else if (k == "--flush-every") a.flush_every = std::stoll(v);
    else throw std::invalid_argument("unknown option " + k +
                                     "; allowed: --model --batch-size --threads --steps --rounds --flush-every");
  }
  return a;
}

struct Variant {
  std::string name;
  std::function<void(int)> run_steps;  // runs n steps
  std::vector<double> round_means;      // wall clock, seconds per step
  std::vector<double> round_cpu_means;  // process CPU time (all threads), seconds per step
};

// CPU time of the whole process. On a shared VM a round's wall time also holds the time the
// vCPU did not run (steal, other tenants): CPU time shows what the code itself costs.
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Parts {
  std::shared_ptr<models::Network> model;
  std::unique_ptr<datasets::BatchSource> data;
  std::unique_ptr<Optimizer> optimizer;
};

Parts make_parts(const models::ModelEntry& entry, const Args& a) {
  Parts p;
  torch::manual_seed(1);
  p.model = entry.make();
  p.model->train();
  datasets::SourceSpec spec;
  spec.input_shape = entry.input_shape;
  spec.num_classes = entry.num_classes;
  spec.batch_per_rank = a.batch;
  spec.seed = 3;
  p.data = std::make_unique<datasets::SyntheticSource>(spec);
  p.optimizer = std::make_unique<Optimizer>(
      OptimizerSpec{entry.default_optimizer, entry.default_lr, 0.0, 0.0}, p.model->parameters());
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  World& world = World::init(&argc, &argv);
  if (world.size() != 1) {
    std::fprintf(stderr, "bench_overhead measures the 1-rank path: run it without mpirun\n");
    return 2;
  }
  const Args a = parse(argc, argv);
  torch::set_num_threads(a.threads);
  const models::ModelEntry* entry = models::find(a.model);
  if (!entry) throw std::invalid_argument("unknown model " + a.model);

  // plain
  Parts plain = make_parts(*entry, a);
  std::int64_t plain_step = 0;
  auto run_plain = [&](int n) {
    for (int i = 0; i < n; ++i, ++plain_step) {
      auto batch = plain.data->batch(plain_step);
      for (auto& p : plain.model->parameters()) p.mutable_grad() = torch::Tensor();
      auto loss = torch::nn::functional::cross_entropy(plain.model->forward(batch.inputs), batch.targets);
      loss.backward();
      plain.optimizer->step(plain_step);
      (void)loss.item<double>();
    }
  };

  // timed
  Parts timed = make_parts(*entry, a);
  auto timed_clock = make_host_phase_clock();
  Trainer timed_trainer(TrainerParts{timed.model, timed.data.get(), timed.optimizer.get(),
                                     timed_clock.get(), torch::kCPU, nullptr, nullptr, nullptr});
  std::int64_t timed_step = 0;
  auto run_timed = [&](int n) {
    for (int i = 0; i < n; ++i) timed_trainer.step(timed_step++, false, 0);
  };

  // dp
  MpiCommunicator comm(MPI_COMM_WORLD);
  Parts dp = make_parts(*entry, a);
  Reducer dp_reducer(dp.model->parameters(), comm, ReducerOptions{});
  auto dp_clock = make_host_phase_clock();
  Trainer dp_trainer(TrainerParts{dp.model, dp.data.get(), dp.optimizer.get(), dp_clock.get(),
                                  torch::kCPU, &comm, &dp_reducer, nullptr});
  std::int64_t dp_step = 0;
  auto run_dp = [&](int n) {
    for (int i = 0; i < n; ++i) dp_trainer.step(dp_step++, false, 0);
  };

  // full
  Parts full = make_parts(*entry, a);
  Reducer full_reducer(full.model->parameters(), comm, ReducerOptions{});
  auto full_clock = make_host_phase_clock();
  Trainer full_trainer(TrainerParts{full.model, full.data.get(), full.optimizer.get(),
                                    full_clock.get(), torch::kCPU, &comm, &full_reducer, nullptr});
  const auto out = std::filesystem::temp_directory_path() /
                   ("bench_overhead_" + std::to_string(getpid()) + ".h5");
  RunRecorder recorder(world, out.string(), static_cast<int>(full_reducer.plan().buckets.size()),
                       a.flush_every, nullptr);
  std::int64_t full_step = 0;
  auto run_full = [&](int n) {
    for (int i = 0; i < n; ++i) recorder.record(full_trainer.step(full_step++, false, 0));
  };

  std::vector<Variant> variants = {{"plain", run_plain, {}}, {"timed", run_timed, {}},
                                   {"dp", run_dp, {}}, {"full", run_full, {}}};
  for (auto& v : variants) v.run_steps(3);  // warm-up: allocator, thread pools, first HDF5 chunk
  for (int round = 0; round < a.rounds; ++round) {
    for (std::size_t k = 0; k < variants.size(); ++k) {
      Variant& v = variants[(k + static_cast<std::size_t>(round)) % variants.size()];
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = process_cpu_s();
      v.run_steps(a.steps);
      const double c = process_cpu_s() - c0;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      v.round_means.push_back(s / a.steps);
      v.round_cpu_means.push_back(c / a.steps);
    }
  }
  recorder.finish("completed", "bench");
  std::filesystem::remove(out);

  nlohmann::json j;
  j["model"] = a.model;
  j["batch"] = a.batch;
  j["threads"] = a.threads;
  j["steps_per_round"] = a.steps;
  j["rounds"] = a.rounds;
  std::map<std::string, double> med;
  for (auto& v : variants) {
    med[v.name] = median(v.round_means);
    j["median_step_s"][v.name] = med[v.name];
    j["median_step_cpu_s"][v.name] = median(v.round_cpu_means);
    j["round_means_s"][v.name] = v.round_means;
    j["round_cpu_means_s"][v.name] = v.round_cpu_means;
  }
  auto by_name = [&](const std::string& n, bool cpu) -> const std::vector<double>& {
    for (const auto& v : variants) if (v.name == n) return cpu ? v.round_cpu_means : v.round_means;
    throw std::logic_error(n);
  };
  // Paired per-round ratio a/b: median, min, max over rounds (wall clock, or CPU time).
  auto paired = [&](const std::string& a_name, const std::string& b_name, bool cpu = false) {
    const auto& x = by_name(a_name, cpu);
    const auto& y = by_name(b_name, cpu);
    std::vector<double> r;
    for (std::size_t i = 0; i < x.size(); ++i) r.push_back(x[i] / y[i]);
    nlohmann::json out;
    out["median"] = median(r);
    out["min"] = *std::min_element(r.begin(), r.end());
    out["max"] = *std::max_element(r.begin(), r.end());
    return out;
  };
  j["ratio_timers"] = paired("timed", "plain");                 // phase timers and probes
  j["ratio_dp_path"] = paired("dp", "timed");                   // buckets, hooks, 1-rank allreduce
  j["ratio_dp_vs_plain"] = paired("dp", "plain");               // the whole engine at 1 rank, unrecorded
  j["ratio_hdf5_recording"] = paired("full", "dp");             // gather + HDF5 append + flush
  j["ratio_full_vs_plain"] = paired("full", "plain");           // everything scalebench adds
  // Targets (issue 8): recording (timers + HDF5) and the 1-rank data-parallel path each within 1% of
  // a step. On a shared 2-core VM the round-to-round spread is far wider; see docs/performance.md.
  const double recording = j["ratio_timers"]["median"].get<double>() *
                           j["ratio_hdf5_recording"]["median"].get<double>() - 1.0;
  const double dp_path = j["ratio_dp_path"]["median"].get<double>() - 1.0;
  j["recording_overhead_share"] = recording;
  j["dp_path_overhead_share"] = dp_path;
  j["target_recording_overhead_share"] = 0.01;
  j["target_dp_path_overhead_share"] = 0.01;
  j["targets_met"] = recording <= 0.01 && dp_path <= 0.01;
  // The same in process CPU time, which the VM's steal and scheduling do not inflate.
  j["cpu_ratio_timers"] = paired("timed", "plain", true);
  j["cpu_ratio_dp_path"] = paired("dp", "timed", true);
  j["cpu_ratio_hdf5_recording"] = paired("full", "dp", true);
  j["cpu_ratio_full_vs_plain"] = paired("full", "plain", true);
  const double cpu_recording = j["cpu_ratio_timers"]["median"].get<double>() *
                               j["cpu_ratio_hdf5_recording"]["median"].get<double>() - 1.0;
  const double cpu_dp_path = j["cpu_ratio_dp_path"]["median"].get<double>() - 1.0;
  j["cpu_recording_overhead_share"] = cpu_recording;
  j["cpu_dp_path_overhead_share"] = cpu_dp_path;
  j["cpu_targets_met"] = cpu_recording <= 0.01 && cpu_dp_path <= 0.01;
  std::cout << j.dump(2) << std::endl;
  world.finalize();
  return 0;
}
