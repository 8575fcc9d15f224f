#pragma once
// The end-of-run summary rank 0 prints and stores: what a user wants to see before opening the file.
// Computed from every rank's records, warm-up steps excluded. A step's time is its slowest rank's
// (that rank sets the pace of the synchronous step). Rank 0 accumulates it as records are
// flushed, in memory bounded by the ranks (not the steps): medians are exact up to
// QuantileSketch::kDefaultExactCapacity measured steps, within 0.1 % beyond.
#include <string>
#include <vector>

#include "metrics/quantile_sketch.hpp"
#include "metrics/step_record.hpp"

namespace scalebench {

// The median of `values` (the mean of the middle two for an even count); 0 when empty.
double median(std::vector<double> values);

struct RunSummary {
  std::int64_t measured_steps = 0;
  double median_step_s = 0.0;         // median over steps of the slowest rank's step time
  double median_wall_s = 0.0;         // median over steps of the slowest rank's wall_s (0: not recorded)
  // global samples per step / median wall time: what the run really delivers, between-step work
  // included (the median step time where wall_s is not recorded)
  double throughput_samples_s = 0.0;
  double exposed_comm_share = 0.0;    // median over steps of mean over ranks of exposed / step
  // 1 - exposed / busy, summed over measured steps and ranks: the share of allreduce time that ran
  // concurrently with compute. Not time saved: a communicator thread that shares a core with
  // backward slows backward down (compare a --no-overlap run for what overlap saves).
  double comm_concurrent_share = 0.0;
  double peak_rss_bytes = 0.0;        // max over ranks
  double peak_device_allocated_bytes = -1.0;
  double fastest_rank_median_s = 0.0; // per-rank median step time: min and max over ranks
  double slowest_rank_median_s = 0.0;
  int slowest_rank = 0;
  double median_data_s = 0.0, median_forward_s = 0.0, median_backward_s = 0.0;
  double median_comm_exposed_s = 0.0, median_optimizer_s = 0.0;
  double median_buffer_sync_s = 0.0, median_control_s = 0.0, median_other_s = 0.0;
};

double median(std::vector<double> values);

// The summary of a stream of steps, fed a flush at a time.
class SummaryAccumulator {
 public:
  explicit SummaryAccumulator(int world_size);
  // records[s * world_size + r]: rank r's record of the s-th step of this batch.
  void add_steps(const std::vector<StepRecord>& records);
  RunSummary summary() const;
  // Bytes held by the sketches (bounded-memory tests and bench).
  std::size_t memory_bytes() const;

 private:
  std::size_t ranks_;
  std::int64_t measured_ = 0;
  double peak_rss_ = 0.0, peak_device_ = -1.0;
  double busy_total_ = 0.0, exposed_total_ = 0.0;
  QuantileSketch slowest_, slowest_wall_, samples_, exposed_share_, data_, forward_, backward_, exposed_, optimizer_,
      buffer_sync_, control_, other_;
  std::vector<QuantileSketch> per_rank_;
};

// records[s * world_size + r]: rank r's record of step s.
RunSummary summarize(const std::vector<StepRecord>& records, int world_size);

// A short human table, one line per figure.
std::string format_summary(const RunSummary& s, int world_size, std::int64_t global_batch);

}  // namespace scalebench
