// The data-parallel path against references, at whatever world size mpiexec gave (1, 2 or 4).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "comm/mpi_communicator.hpp"
#include "datasets/synthetic.hpp"
#include "ddp/checksum.hpp"
#include "ddp/reducer.hpp"
#include "metrics/phase_clock.hpp"
#include "models/registry.hpp"
#include "runtime/world.hpp"
#include "train/optimizers.hpp"
#include "train/trainer.hpp"

namespace scalebench {
namespace {

struct Replica {
  std::shared_ptr<models::Network> model;
  std::unique_ptr<datasets::BatchSource> data;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<Reducer> reducer;
  std::unique_ptr<PhaseClock> clock;
};

struct ReplicaSpec {
  std::string model = "fcn_r";
  std::int64_t batch_per_rank = 4;
  double bucket_mb = 1.0;
  bool overlap = true;
  std::uint64_t init_seed = 7;
};

// One replica on `comm`, seeing rank comm.rank()'s shard of world comm.size().
Replica make_replica(Communicator& comm, const ReplicaSpec& spec) {
  Replica r;
  torch::manual_seed(spec.init_seed);
  const models::ModelEntry* entry = models::find(spec.model);
  r.model = entry->make();
  r.model->train();
  datasets::SourceSpec src;
  src.input_shape = entry->input_shape;
  src.num_classes = entry->num_classes;
  src.batch_per_rank = spec.batch_per_rank;
  src.rank = comm.rank();
  src.world_size = comm.size();
  src.seed = 1234;
  src.synthetic_batches = 3;
  r.data = std::make_unique<datasets::SyntheticSource>(src);
  broadcast_initial_state(comm, *r.model);
  r.optimizer = std::make_unique<Optimizer>(OptimizerSpec{"sgd", 0.05, 0.0, 0.0}, r.model->parameters());
  r.reducer = std::make_unique<Reducer>(
      r.model->parameters(), comm,
      ReducerOptions{static_cast<std::int64_t>(spec.bucket_mb * 1024 * 1024), spec.overlap});
  r.clock = make_host_phase_clock();
  return r;
}

std::vector<StepRecord> train(Replica& r, Communicator& comm, int steps) {
  Trainer trainer(TrainerParts{r.model, r.data.get(), r.optimizer.get(), r.clock.get(), torch::kCPU,
                               &comm, r.reducer.get(), nullptr});
  std::vector<StepRecord> records;
  for (int s = 0; s < steps; ++s) records.push_back(trainer.step(s, false, 0));
  return records;
}

// ||a - b||_2 / ||b||_2 over all parameters.
double relative_difference(torch::nn::Module& a, torch::nn::Module& b) {
  double diff = 0, norm = 0;
  auto pa = a.parameters();
  auto pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    diff += (pa[i] - pb[i]).pow(2).sum().item<double>();
    norm += pb[i].pow(2).sum().item<double>();
  }
  return std::sqrt(diff / norm);
}

// N ranks x batch b must end where 1 rank x batch N*b ends on the same samples (SGD, no dropout):
// gradient averaging over ranks equals the gradient of the mean over the global batch. The
// reference runs on MPI_COMM_SELF, the same code path at world size 1.
constexpr double kEquivalenceTolerance = 1e-5;  // relative L2 of final parameters
constexpr double kUpdateTolerance = 1e-4;       // relative L2 of (final - initial) parameters
constexpr int kEquivalenceSteps = 4;

void check_equivalence(bool overlap, double bucket_mb,
                       std::int64_t mpi_chunk_bytes = CommOptions{}.mpi_chunk_bytes) {
  const World& world = World::get();
  ReplicaSpec spec;
  spec.overlap = overlap;
  spec.bucket_mb = bucket_mb;

  MpiCommunicator self(MPI_COMM_SELF);
  ReplicaSpec ref_spec = spec;
  ref_spec.batch_per_rank = spec.batch_per_rank * world.size();
  Replica reference = make_replica(self, ref_spec);
  const auto ref_records = train(reference, self, kEquivalenceSteps);

  MpiCommunicator comm(MPI_COMM_WORLD, mpi_chunk_bytes);
  Replica replica = make_replica(comm, spec);
  if (bucket_mb < 10) {
    ASSERT_GE(replica.reducer->plan().buckets.size(), 3u) << "test needs several buckets";
  }
  Replica untrained = make_replica(self, ref_spec);
  // Replicas start from the reference's initial state.
  EXPECT_EQ(relative_difference(*replica.model, *untrained.model), 0.0);
  const auto records = train(replica, comm, kEquivalenceSteps);

  const double rel = relative_difference(*replica.model, *reference.model);
  EXPECT_LE(rel, kEquivalenceTolerance) << "overlap=" << overlap << " bucket_mb=" << bucket_mb;
  // Sharper: the difference measured against how far training moved the parameters. It also
  // guards against a vacuous pass (parameters that did not move would agree trivially).
  const double moved = relative_difference(*reference.model, *untrained.model);
  EXPECT_GT(moved, 1e-4) << "training did not move the parameters";
  const double update_rel = rel / moved;
  EXPECT_LE(update_rel, kUpdateTolerance) << "overlap=" << overlap << " bucket_mb=" << bucket_mb;
  if (world.is_root()) {
    std::printf("    final params rel diff %.3g, update rel diff %.3g (moved %.3g)\n", rel, update_rel, moved);
  }
  // Losses agree too: the mean of per-rank losses is the reference's loss on the global batch.
  for (int s = 0; s < kEquivalenceSteps; ++s) {
    std::vector<double> mine{records[static_cast<std::size_t>(s)][StepField::kLoss]};
    double sum = 0;
    MPI_Allreduce(&mine[0], &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_NEAR(sum / world.size(), ref_records[static_cast<std::size_t>(s)][StepField::kLoss], 1e-5);
  }
}

TEST(DataParallel, NRanksEqualOneRankWithNTimesTheBatchOverlapped) { check_equivalence(true, 1.0); }
TEST(DataParallel, NRanksEqualOneRankWithNTimesTheBatchNoOverlap) { check_equivalence(false, 1.0); }
TEST(DataParallel, NRanksEqualOneRankWithOneBigBucket) { check_equivalence(true, 100.0); }
// The MPI backend's slicing of a bucket (--mpi-chunk-mb): one call per bucket, and slices of an
// odd 1000 bytes (250 floats: many slices per tensor, a short last one, slices across tensors).
TEST(DataParallel, NRanksEqualOneRankWithUnslicedBuckets) { check_equivalence(true, 1.0, 0); }
TEST(DataParallel, NRanksEqualOneRankWithTinyOddSlices) { check_equivalence(true, 1.0, 1000); }

// The mean itself, exactly: small integers are exact in float32 and float64, and so is their
// sum and its division by a world size of 1, 2 or 4, whatever the slicing or MPI's algorithm.
TEST(MpiAllreduce, SlicedMeanIsExactForEverySlicing) {
  const World& world = World::get();
  const int n = world.size();
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (const std::int64_t chunk : {std::int64_t{0}, std::int64_t{4}, std::int64_t{12}, std::int64_t{1000},
                                     std::int64_t{4} << 20}) {
      MpiCommunicator comm(MPI_COMM_WORLD, chunk);
      const std::int64_t count = 10007;  // prime: no slicing divides it
      auto index = torch::arange(count, torch::TensorOptions().dtype(torch::kInt64));
      torch::Tensor t = (index.remainder(13) + world.rank()).to(dtype).reshape({1, count});
      comm.allreduce_mean_async(t, MeanInputs::kRaw)->wait();
      torch::Tensor expected = (index.remainder(13).to(torch::kFloat64) + (n - 1) / 2.0).reshape({1, count});
      EXPECT_TRUE(torch::equal(t.to(torch::kFloat64), expected))
          << "dtype " << dtype << " chunk " << chunk << ": max error "
          << (t.to(torch::kFloat64) - expected).abs().max().item<double>();
    }
  }
}

// The reducer folds the mean's division into its copy of each gradient into the bucket where the
// world is a power of two (Communicator::mean_prescale): prescaled-then-summed must be bit for bit
// the sum divided after, on values that are not small integers (every float32 exponent in use
// by gradients, random mantissas), with the slicing and algorithm training uses.
TEST(MpiAllreduce, PrescaledSumHasTheBitsOfTheDividedSum) {
  const World& world = World::get();
  MpiCommunicator comm(MPI_COMM_WORLD);
  if (world.size() == 1) {
    EXPECT_EQ(comm.mean_prescale(), 1.0);
    GTEST_SKIP() << "a world of one divides nothing";
  }
  ASSERT_EQ(comm.mean_prescale(), 1.0 / world.size()) << "2 and 4 ranks are powers of two";
  torch::manual_seed(100 + world.rank());
  const std::int64_t count = (3 << 20) + 7;  // 12 MiB: several of the default 4 MiB slices
  // Magnitudes from 1e-30 to 1e+3, signs mixed: what gradients hold, far from subnormal.
  torch::Tensor raw = torch::randn({count}) * torch::pow(10.0, torch::randint(-30, 4, {count}).to(torch::kFloat32));
  torch::Tensor prescaled = raw * comm.mean_prescale();
  comm.allreduce_mean_async(raw, MeanInputs::kRaw)->wait();
  comm.allreduce_mean_async(prescaled, MeanInputs::kPrescaled)->wait();
  EXPECT_TRUE(torch::equal(raw, prescaled))
      << (raw != prescaled).sum().item<std::int64_t>() << " of " << count << " elements differ";
}

TEST(MpiAllreduce, PrescaledInputsRefusedWhereTheScaleIsNotExact) {
  const World& world = World::get();
  if (world.size() != 4) GTEST_SKIP() << "needs 4 ranks to form a group of 3";
  MPI_Comm three = MPI_COMM_NULL;
  ASSERT_EQ(MPI_Comm_split(MPI_COMM_WORLD, world.rank() < 3 ? 0 : 1, world.rank(), &three), MPI_SUCCESS);
  {
    MpiCommunicator comm(three);
    if (world.rank() < 3) {
      EXPECT_EQ(comm.mean_prescale(), 1.0) << "1/3 is not exact";
      torch::Tensor t = torch::ones({8});
      EXPECT_THROW(comm.allreduce_mean_async(t, MeanInputs::kPrescaled), std::invalid_argument);
      comm.allreduce_mean_async(t, MeanInputs::kRaw)->wait();  // the divided mean still works
      EXPECT_TRUE(torch::equal(t, torch::ones({8})));
    }
  }
  MPI_Comm_free(&three);
}

// The reducer takes the prescaled path exactly where the backend offers it.
TEST(DataParallel, ReducerPrescalesGradientsOnPowerOfTwoWorlds) {
  const World& world = World::get();
  MpiCommunicator comm(MPI_COMM_WORLD);
  Replica r = make_replica(comm, ReplicaSpec{});
  EXPECT_EQ(r.reducer->gradient_prescale(), world.size() == 1 ? 1.0 : 1.0 / world.size());
  const std::string how = gradient_mean_description(comm);
  EXPECT_EQ(how.rfind(world.size() == 1 ? "none" : "prescaled", 0), 0u) << how;
}

// A fixed global batch of `inputs`, split contiguously over the ranks as the real-data sampler
// splits an epoch's last, smaller batch: shares differ by one sample, and a rank may get none.
class FixedShardSource final : public datasets::BatchSource {
 public:
  FixedShardSource(torch::Tensor inputs, torch::Tensor targets, int rank, int world)
      : inputs_(std::move(inputs)), targets_(std::move(targets)), rank_(rank), world_(world) {}
  std::string name() const override { return "fixed"; }
  std::int64_t steps_per_epoch() const override { return 1; }
  datasets::Batch batch(std::int64_t) override {
    const std::int64_t n = inputs_.size(0);
    const std::int64_t lo = n * rank_ / world_, hi = n * (rank_ + 1) / world_;
    return datasets::Batch{inputs_.slice(0, lo, hi), targets_.slice(0, lo, hi), n};
  }

 private:
  torch::Tensor inputs_, targets_;
  int rank_, world_;
};

// A fixed global batch of `global` random samples for `model`, the same on every rank (seeded).
struct GlobalBatch {
  torch::Tensor inputs, targets;
};
GlobalBatch random_global_batch(const std::string& model, std::int64_t global, std::uint64_t seed) {
  const models::ModelEntry* entry = models::find(model);
  torch::manual_seed(seed);
  std::vector<std::int64_t> shape{global};
  shape.insert(shape.end(), entry->input_shape.begin(), entry->input_shape.end());
  GlobalBatch b;
  b.inputs = torch::rand(shape);
  b.targets = torch::randint(0, entry->num_classes, {global}, torch::kLong);
  return b;
}

// Uneven shards, weighted by the trainer, must still equal one rank with the whole global batch.
void check_uneven_equivalence(std::int64_t global) {
  const World& world = World::get();
  const auto [inputs, targets] = random_global_batch("fcn_r", global, 99);

  MpiCommunicator self(MPI_COMM_SELF);
  Replica reference = make_replica(self, ReplicaSpec{});
  reference.data = std::make_unique<FixedShardSource>(inputs, targets, 0, 1);
  Replica untrained = make_replica(self, ReplicaSpec{});
  train(reference, self, kEquivalenceSteps);

  MpiCommunicator comm(MPI_COMM_WORLD);
  Replica replica = make_replica(comm, ReplicaSpec{});
  replica.data = std::make_unique<FixedShardSource>(inputs, targets, world.rank(), world.size());
  const auto records = train(replica, comm, kEquivalenceSteps);

  const double rel = relative_difference(*replica.model, *reference.model);
  const double moved = relative_difference(*reference.model, *untrained.model);
  EXPECT_GT(moved, 1e-4) << "training did not move the parameters";
  EXPECT_LE(rel / moved, kUpdateTolerance) << "global batch " << global << " over " << world.size() << " ranks";
  for (const auto& rec : records) EXPECT_TRUE(std::isfinite(rec[StepField::kLoss]));
}

TEST(DataParallel, UnevenShardsEqualOneRankWithTheWholeBatch) {
  check_uneven_equivalence(2 * World::get().size() + 1);
}

TEST(DataParallel, EmptyShardStillTakesPartAndChangesNothing) {
  const int world = World::get().size();
  if (world < 2) GTEST_SKIP() << "an empty shard needs more ranks than samples";
  check_uneven_equivalence(world - 1);  // rank 0 gets no sample
}

// A BatchNorm model whose rank 0 has an empty shard: rank 0 skips its forward, so its integer
// num_batches_tracked falls behind the others'. The per-step broadcast (floating-point buffers)
// leaves that difference; the final one (every buffer) must make the states agree, or the run
// reports "parameters differ" for replicas that are identical where it matters.
TEST(DataParallel, BatchNormWithAnEmptyShardEndsWithAgreeingState) {
  const World& world = World::get();
  if (world.size() < 2) GTEST_SKIP() << "an empty shard needs more ranks than samples";
  const std::int64_t global = world.size() - 1;  // rank 0 gets no sample
  const auto [inputs, targets] = random_global_batch("cifar10_resnet", global, 5);
  MpiCommunicator comm(MPI_COMM_WORLD);
  ReplicaSpec spec;
  spec.model = "cifar10_resnet";
  spec.batch_per_rank = 1;
  Replica replica = make_replica(comm, spec);
  replica.data = std::make_unique<FixedShardSource>(inputs, targets, world.rank(), world.size());
  train(replica, comm, 2);

  broadcast_tensors(comm, floating_point_buffers(*replica.model), 0);
  EXPECT_FALSE(world.all_equal(state_checksum(*replica.model)))
      << "rank 0 skipped BatchNorm's counter: floating-point buffers alone cannot make it agree";
  broadcast_tensors(comm, model_buffers(*replica.model), 0);
  EXPECT_TRUE(world.all_equal(state_checksum(*replica.model)));
}

TEST(DataParallel, ParametersBitIdenticalAcrossRanksAfterSteps) {
  // cifar10_cnn has dropout: every rank draws its own masks, yet averaged gradients keep replicas
  // identical to the bit.
  MpiCommunicator comm(MPI_COMM_WORLD);
  ReplicaSpec spec;
  spec.model = "cifar10_cnn";
  spec.bucket_mb = 0.25;
  spec.init_seed = 100 + static_cast<std::uint64_t>(World::get().rank());  // differ before broadcast
  Replica r = make_replica(comm, spec);
  torch::manual_seed(500 + static_cast<std::uint64_t>(World::get().rank()));
  EXPECT_TRUE(World::get().all_equal(state_checksum(*r.model))) << "broadcast of the initial state";
  const auto records = train(r, comm, 3);
  EXPECT_TRUE(World::get().all_equal(state_checksum(*r.model))) << "after training";
  for (const auto& rec : records) {
    EXPECT_EQ(rec[StepField::kBytesReduced], static_cast<double>(r.reducer->plan().total_bytes()));
    EXPECT_EQ(rec.bucket_duration_s.size(), r.reducer->plan().buckets.size());
    EXPECT_GE(rec[StepField::kCommBusyS], 0.0);
    EXPECT_TRUE(std::isfinite(rec[StepField::kLoss]));
  }
}

TEST(DataParallel, ADestroyedReducerLeavesNoHookBehind) {
  // Its hooks captured it: after it is gone, the model's next backward must not reach it (it
  // would run on freed memory; typically it throws "gradient produced outside a step").
  torch::manual_seed(3);
  torch::nn::Linear model(4, 2);
  MpiCommunicator self(MPI_COMM_SELF);
  {
    Reducer reducer(model->parameters(), self, ReducerOptions{});
    reducer.prepare_for_backward();
    model(torch::ones({2, 4})).sum().backward();
    reducer.finish();
  }
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  EXPECT_NO_THROW(model(torch::ones({2, 4})).sum().backward());
  // Plain autograd again: the bias gradient of a sum over 2 samples is 2 per output.
  EXPECT_TRUE(torch::allclose(model->bias.grad(), torch::full({2}, 2.0)));
}

TEST(DataParallel, BucketLayoutMismatchIsSeenByEveryRank) {
  const World& world = World::get();
  const double cap = world.rank() == world.size() - 1 ? 0.5 : 1.0;
  const auto numels = std::vector<std::int64_t>{100000, 200000, 300000};
  const auto plan = make_bucket_plan(numels, 4, static_cast<std::int64_t>(cap * 1024 * 1024));
  // With one rank there is nothing to disagree with.
  EXPECT_EQ(world.all_equal(plan.fingerprint()), world.size() == 1);
}

TEST(DataParallel, AgreeOnErrorPicksTheLowestFailingRank) {
  const World& world = World::get();
  const std::string mine = world.rank() == world.size() - 1 ? "last rank failed" : "";
  EXPECT_EQ(world.agree_on_error(mine), "last rank failed");
  EXPECT_EQ(world.agree_on_error(""), "");
}

}  // namespace
}  // namespace scalebench
