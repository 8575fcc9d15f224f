"""results/predict (scalebench_results/predict.py, commmodel.py, docs/prediction.md): predicted
scaling from measured runs.

From hand cases and fake files (fake_runs.write_run, and write_allreduce below):
- the ring allreduce formula, the MPI backend's slicing and the hierarchical two-level cost on
  hand-computed cases; link specs parsed, bad ones refused with one message;
- the fit of (alpha, beta) recovers the parameters of a synthetic allreduce file exactly
  (within 1e-9 relative), slices included, and reports its quality (residuals; a noisy file
  has non-zero ones);
- the overlap schedule on a hand-made 3-bucket case, with and without overlap; lists and
  doubling ranges of points;
- a fake 1-rank run + --link: the points at 2 and 4 ranks equal a hand computation; a fake
  2-rank run appears as a measured point with its error; the buffer broadcast; both levels
  from one allreduce file and the hierarchical cost across nodes; CPU oversubscription; a
  device not measured (--step-time); strong scaling
  interpolated between per-rank batches, and extrapolation only with --extrapolate (marked);
- rows beside compute (`scalebench allreduce --beside-compute`, scope `S+compute` with
  /sizes/compute_rate): fitted as the plain rows (exactly, with their quality), into the plain
  scope's fit without changing it; compute_rate piecewise linear in log(bytes), clamped; rows
  without rates or without plain rows not used; per-bucket rates of simulate_shared (alike:
  the scalar case; by hand); --comm-contention measured's per-bucket rates (plain / beside
  time, compute_idle x compute_rate), without the cores too; auto falls back to share without
  such rows (the same figures), measured refused then; a beside fit 10x slower than plain
  lengthens backward beyond share's;
- refusals: exit 2, one line `predict: error: ...`, no output directory;
- the tree (NCCL double binary tree) and recursive doubling (Open MPI) costs and the choice per
  message size (Open MPI below 10000 B, NCCL's crossover across nodes) on hand-computed values;
  a fitted level gives back its file's times under any algorithm;
- results/report's predicted curve: with an allreduce file in the study its values are
  predict.predict's for the same files (table columns, report.html, the plots' lines); without,
  one line says why and nothing is drawn; --no-predict; a refused prediction never fails it.

From real runs (skipped without the binary: set SCALEBENCH_BIN): cifar10_cnn at 1 and 2 ranks
and `scalebench allreduce` at 2 ranks; the 2-rank prediction from the 1-rank run and the
allreduce file is within a loose bound of the measured one (the test proves the pipeline).

Run: cd tests/cli && /usr/bin/python3 -m unittest -v test_predict
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

try:
    import h5py
except ImportError:  # a python3 without Debian's packages
    h5py = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(ROOT, "results")
PREDICT = os.path.join(RESULTS, "predict")
sys.path.insert(0, RESULTS)

import scalebench_cli  # noqa: E402

if h5py is not None:
    import fake_runs  # noqa: E402
    from scalebench_results import commmodel, predict  # noqa: E402

MIB = 1048576
OUTPUTS = ("prediction.csv", "prediction.json", "prediction.png", "prediction.svg")


def write_allreduce(path, rows, nodes=1, ranks_per_node=None, mpi_chunk_mb=0.0,
                    status="completed", dtype="float32", compute_threads=1):
    """A fake `scalebench allreduce -o` file (docs/hdf5-layout.md, "Allreduce files"): rows
    of (scope, group_size, bytes, time_s) or, for `S+compute` rows (`--beside-compute`),
    (scope, group_size, bytes, time_s, compute_rate); the root attributes predict reads. With
    any 5-element row the file has /sizes/compute_rate (NaN on the others) and the
    beside_compute attributes, as `scalebench allreduce --beside-compute` writes them;
    without, neither (files written before that flag)."""
    s = h5py.string_dtype("utf-8")
    world = max(r[1] for r in rows)
    beside = any(len(r) == 5 for r in rows)
    with h5py.File(path, "w") as f:
        for k, v in {"format": "scalebench-allreduce", "schema_version": np.int64(2),
                     "status": status, "backend": "mpi", "device": "cpu", "dtype": dtype,
                     "world_size": np.int64(world), "nodes": np.int64(nodes),
                     "ranks_per_node": np.int64(ranks_per_node or world),
                     "mpi_chunk_mb": np.float64(mpi_chunk_mb)}.items():
            f.attrs[k] = v
        if beside:
            f.attrs["beside_compute"] = np.int64(1)
            f.attrs["compute_threads"] = np.int64(compute_threads)
            f.attrs["compute_load"] = "float32 matmul 256x256 (fake)"
        g = f.create_group("sizes")
        g.create_dataset("scope", data=np.array([r[0] for r in rows], dtype=object), dtype=s)
        g.create_dataset("group_size", data=np.array([r[1] for r in rows], np.int64))
        g.create_dataset("bytes", data=np.array([r[2] for r in rows], np.int64))
        g.create_dataset("time_s", data=np.array([r[3] for r in rows], np.float64))
        if beside:
            g.create_dataset("compute_rate", data=np.array(
                [r[4] if len(r) == 5 else np.nan for r in rows], np.float64))
    return path


# A sweep of 1 KiB .. 16 MiB (x4) at 2 ranks, its rows beside compute, and the rates there.
SWEEP = [1024 * 4 ** i for i in range(8)]
SWEEP_RATES = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.55, 0.5]


def beside_rows(n, alpha, beta, alpha_c, beta_c, rates=SWEEP_RATES, scope="all"):
    """Rows of scope `scope` (the collective alone: ring(alpha, beta)) and `scope+compute`
    (beside compute: ring(alpha_c, beta_c), with the load's rate beside it)."""
    return ([(scope, n, b, ring(b, n, alpha, beta)) for b in SWEEP]
            + [(scope + "+compute", n, b, ring(b, n, alpha_c, beta_c), r)
               for b, r in zip(SWEEP, rates)])


def rate_by_hand(nbytes, sizes=SWEEP, rates=SWEEP_RATES):
    """compute_rate(bytes) written out here: linear in log(bytes) between measured sizes,
    the end values outside."""
    x = math.log(nbytes)
    if x <= math.log(sizes[0]):
        return rates[0]
    for (s0, r0), (s1, r1) in zip(zip(sizes, rates), zip(sizes[1:], rates[1:])):
        if x <= math.log(s1):
            w = (x - math.log(s0)) / (math.log(s1) - math.log(s0))
            return r0 + w * (r1 - r0)
    return rates[-1]


def ring(nbytes, n, alpha, beta):
    """The ring allreduce time, written out here independently of commmodel."""
    return 0.0 if n == 1 else 2 * (n - 1) * alpha + 2 * (n - 1) / n * nbytes * beta


def run_cli(*args):
    return subprocess.run([sys.executable, PREDICT] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120)


# The fake 1-rank run: phases per step, buckets in plan order with their ready times.
DATA, FWD, BWD, OPT, CONTROL = 0.01, 0.10, 0.20, 0.02, 0.003
BUCKETS = [4_000_000, 2_000_000, 1_000_000]
READY_IN_BWD = [0.04, 0.14, 0.20]  # seconds after backward started
STEP = DATA + FWD + BWD + OPT


def fake_run(path, world=1, n_steps=6, step_extra=0.0, batch=32, mode="weak", nodes=1,
             load=0.5, scale=1.0, cpu_affinity="0-1"):
    """A run whose every step has the phases above (compute x scale), rank-for-rank."""
    fwd, bwd, opt = FWD * scale, BWD * scale, OPT * scale
    start = DATA + fwd
    ready = np.tile(np.array([start + r * scale for r in READY_IN_BWD]), (n_steps, world, 1))
    step = DATA + fwd + bwd + opt + step_extra
    return fake_runs.write_run(
        path, step_s=np.full((n_steps, world), step), warmup=1, samples=batch, mode=mode,
        world_size=world, nodes=nodes, bucket_bytes=BUCKETS, bucket_ready_s=ready,
        phases={"data_s": DATA, "forward_s": fwd, "backward_s": bwd, "optimizer_s": opt,
                "comm_exposed_s": step_extra, "control_s": CONTROL},
        cpu_affinity=cpu_affinity,
        attrs={"mpi_chunk_mb": np.float64(0.0), "cpu_threads_per_cpu_max": np.float64(load),
               "intra_op_threads": np.int64(1)})


def exposed_by_hand(durations, overlap=True):
    end = 0.0
    for ready, d in zip(READY_IN_BWD, durations):
        end = max(ready if overlap else BWD, end) + d
    return max(0.0, end - BWD)


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class CommunicationModel(unittest.TestCase):
    def test_ring_formula_and_one_rank(self):
        self.assertAlmostEqual(commmodel.ring_allreduce_s(1000, 4, 1e-6, 1e-9),
                               6e-6 + 1.5e-6, delta=1e-18)
        self.assertEqual(commmodel.ring_allreduce_s(1e9, 1, 1.0, 1.0), 0.0)
        self.assertAlmostEqual(commmodel.ring_allreduce_s(8e6, 2, 5e-6, 1e-10),
                               2 * 5e-6 + 8e6 * 1e-10, delta=1e-15)

    def test_slicing_adds_one_latency_per_slice(self):
        self.assertEqual(commmodel.slice_count(10 * MIB, 4 * MIB), 3)
        self.assertEqual(commmodel.slice_count(8 * MIB, 4 * MIB), 2)
        self.assertEqual(commmodel.slice_count(10 * MIB, 0), 1)
        self.assertEqual(commmodel.chunk_bytes_of(4.0, "mpi"), 4 * MIB)
        self.assertEqual(commmodel.chunk_bytes_of(4.0, "nccl"), 0)
        lv = commmodel.Level(1e-6, 1e-9, "test")
        topo = commmodel.Topology(1, 4, lv, None)
        s = 10 * MIB
        self.assertAlmostEqual(topo.bucket_s(s, 4 * MIB), 3 * 6e-6 + 1.5 * s * 1e-9,
                               delta=1e-15)
        self.assertAlmostEqual(topo.bucket_s(s, 0), 6e-6 + 1.5 * s * 1e-9, delta=1e-15)
        # the sum of the slices' ring times, as the backend runs them
        sliced = 2 * ring(4 * MIB, 4, 1e-6, 1e-9) + ring(2 * MIB, 4, 1e-6, 1e-9)
        self.assertAlmostEqual(topo.bucket_s(s, 4 * MIB), sliced, delta=1e-15)

    def test_hierarchical_two_levels(self):
        intra = commmodel.Level(2e-6, 1e-11, "intra")
        inter = commmodel.Level(5e-6, 8e-11, "inter")
        s, p, n = 1e8, 4, 8
        expected = (2 * (p - 1) * 2e-6 + 2 * (p - 1) / p * s * 1e-11
                    + 2 * (n - 1) * 5e-6 + 2 * (n - 1) / n * (s / p) * 8e-11)
        topo = commmodel.Topology(n, p, intra, inter)
        self.assertAlmostEqual(topo.allreduce_call_s(s), expected, delta=1e-15)
        shared = commmodel.Topology(n, p, intra, inter, shared_link=True)
        self.assertAlmostEqual(shared.allreduce_call_s(s) - topo.allreduce_call_s(s),
                               2 * (n - 1) / n * (s / p) * 8e-11 * (p - 1), delta=1e-15)
        self.assertEqual(topo.needed_levels(), ["intra", "inter"])
        self.assertEqual(commmodel.Topology(1, 1, None, None).bucket_s(1000, 0), 0.0)

    def test_bucket_split_by_level_sums_to_the_bucket(self):
        intra = commmodel.Level(2e-6, 1e-11, "intra")
        inter = commmodel.Level(5e-6, 8e-11, "inter")
        topo = commmodel.Topology(8, 4, intra, inter)
        s, chunk = 10 * MIB, 4 * MIB
        parts = topo.bucket_parts(s, chunk)
        self.assertEqual([(name, size) for name, _, size, _ in parts],
                         [("intra", s), ("inter", s / 4)])
        self.assertAlmostEqual(sum(t for *_, t in parts) / topo.bucket_s(s, chunk), 1,
                               delta=1e-12)
        # each level's part by hand: 3 slices (4, 4, 2 MiB), each a ring's halves in the node
        # and a ring of a quarter of the slice across the 8 nodes
        intra_t = 3 * 2 * 3 * 2e-6 + 2 * 3 / 4 * s * 1e-11
        inter_t = 3 * 2 * 7 * 5e-6 + 2 * 7 / 8 * (s / 4) * 8e-11
        self.assertAlmostEqual(parts[0][3] / intra_t, 1, delta=1e-12)
        self.assertAlmostEqual(parts[1][3] / inter_t, 1, delta=1e-12)
        self.assertEqual(commmodel.Topology(1, 1, None, None).bucket_parts(1000, 0), [])

    def test_link_specs(self):
        self.assertEqual(commmodel.parse_link("100Gbit,5us"), (5e-6, 8 / 100e9))
        a, b = commmodel.parse_link("450GB/s,2us")
        self.assertAlmostEqual(a, 2e-6, delta=1e-20)
        self.assertAlmostEqual(b * 450e9, 1.0, delta=1e-12)
        a, b = commmodel.parse_link("1Gbit/s, 1.5ms")
        self.assertAlmostEqual(a, 1.5e-3, delta=1e-15)
        self.assertAlmostEqual(b * 1e9 / 8, 1.0, delta=1e-12)
        self.assertEqual(commmodel.parse_link("800MB/s,500ns"), (500e-9, 1 / 800e6))
        for bad in ("100Gbit", "fast,5us", "100Gbit,5", "100GiB/s,5us", "0Gbit,5us", ""):
            with self.assertRaises(ValueError) as cm:
                commmodel.parse_link(bad)
            self.assertIn(repr(bad), str(cm.exception))
            self.assertIn("100Gbit,5us", str(cm.exception))


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Algorithms(unittest.TestCase):
    """Tree and recursive doubling, and the choice per message size, against hand values."""
    A, B = 5e-6, 1e-10  # 5 us per step, 10 GB/s

    def test_tree_and_recursive_doubling_formulas(self):
        a, b = self.A, self.B
        # NCCL double binary tree, 8 ranks: 2 * 3 steps, 2 S beta: 30 us + 2 * 1e6 * 1e-10 s
        self.assertAlmostEqual(commmodel.tree_allreduce_s(1e6, 8, a, b), 30e-6 + 200e-6,
                               delta=1e-15)
        # 5 ranks: ceil(log2 5) = 3, the same latency as 8
        self.assertAlmostEqual(commmodel.tree_allreduce_s(0, 5, a, b), 30e-6, delta=1e-15)
        # Open MPI recursive doubling, 8 ranks: 3 steps of (alpha + S beta)
        self.assertAlmostEqual(commmodel.recursive_doubling_allreduce_s(1e6, 8, a, b),
                               3 * (5e-6 + 100e-6), delta=1e-15)
        # 6 ranks (not a power of two): 2 steps among 4, plus one before and one after
        self.assertEqual(commmodel.recursive_doubling_steps(6), 4)
        self.assertAlmostEqual(commmodel.recursive_doubling_allreduce_s(1000, 6, a, b),
                               4 * (5e-6 + 1e-7), delta=1e-15)
        for f in (commmodel.tree_allreduce_s, commmodel.recursive_doubling_allreduce_s):
            self.assertEqual(f(1e6, 1, a, b), 0.0)
        self.assertEqual([commmodel.ceil_log2(n) for n in (1, 2, 3, 4, 5, 8, 9)],
                         [0, 1, 2, 2, 3, 3, 4])

    def test_open_mpi_chooses_recursive_doubling_below_10000_bytes(self):
        a, b = self.A, self.B
        for n in (2, 4, 16):
            self.assertEqual(commmodel.choose_algorithm("auto", "mpi", 9999, n, a, b, True),
                             "tree")
            self.assertEqual(commmodel.choose_algorithm("auto", "mpi", 10000, n, a, b, False),
                             "ring")
        topo = commmodel.Topology(1, 4, commmodel.Level(a, b, "spec"), None)
        # 8 KiB: 2 recursive doubling steps; 1 MiB: a ring of 4
        self.assertAlmostEqual(topo.allreduce_call_s(8192), 2 * (a + 8192 * b), delta=1e-15)
        self.assertAlmostEqual(topo.allreduce_call_s(MIB), 6 * a + 1.5 * MIB * b, delta=1e-15)
        self.assertEqual(topo.algorithms_of(8192), {"intra": "recursive doubling"})
        forced = commmodel.Topology(1, 4, commmodel.Level(a, b, "spec"), None, algorithm="ring")
        self.assertAlmostEqual(forced.allreduce_call_s(8192), 6 * a + 1.5 * 8192 * b,
                               delta=1e-15)

    def test_nccl_tree_below_its_crossover_across_nodes_ring_above(self):
        a, b, n = self.A, self.B, 16
        # S* = n alpha (n - 1 - ceil(log2 n)) / beta = 16 * 5e-6 * 11 / 1e-10 = 8.8 MB
        cross = commmodel.nccl_tree_crossover_bytes(n, a, b)
        self.assertAlmostEqual(cross, 8.8e6, delta=1e-3)
        lv = commmodel.Level(a, b, "spec")
        topo = commmodel.Topology(n, 1, None, lv, backend="nccl")
        small, large = 1e6, 64e6
        self.assertEqual(topo.algorithms_of(small), {"inter": "double binary tree"})
        self.assertEqual(topo.algorithms_of(large), {"inter": "ring"})
        self.assertAlmostEqual(topo.allreduce_call_s(small), 8 * a + 2 * small * b, delta=1e-15)
        self.assertAlmostEqual(topo.allreduce_call_s(large), 30 * a + 30 / 16 * large * b,
                               delta=1e-12)
        # at the crossover the two cost the same (within rounding)
        t, r = (commmodel.tree_allreduce_s(cross, n, a, b),
                commmodel.ring_allreduce_s(cross, n, a, b))
        self.assertLess(abs(t / r - 1), 1e-12)
        # within one node NCCL's tree is a chain: a ring, whatever the size; 2 ranks: a ring
        self.assertEqual(commmodel.Topology(1, 8, lv, None, backend="nccl").algorithms_of(8),
                         {"intra": "ring"})
        self.assertEqual(commmodel.nccl_tree_crossover_bytes(2, a, b), 0.0)
        forced = commmodel.Topology(n, 1, None, lv, backend="nccl", algorithm="tree")
        self.assertAlmostEqual(forced.allreduce_call_s(large), 8 * a + 2 * large * b,
                               delta=1e-12)

    def test_sliced_bucket_chooses_per_slice(self):
        # 20000 B in 8192 B slices (MPI): two full slices and 3616 B, each below 10000 B:
        # three recursive doubling calls
        a, b = self.A, self.B
        topo = commmodel.Topology(1, 4, commmodel.Level(a, b, "spec"), None)
        got = topo.bucket_s(20000, 8192)
        self.assertAlmostEqual(got, 2 * 2 * (a + 8192 * b) + 2 * (a + 3616 * b), delta=1e-15)

    def test_a_fitted_level_gives_back_its_times_under_any_algorithm(self):
        # a file measured at 4 ranks: at 4 ranks every algorithm reproduces it; at 16 they part
        with tempfile.TemporaryDirectory() as d:
            rows = [("all", 4, s, 6 * 7e-6 + 1.5 * s * 3e-10) for s in (8, 1024, 65536, MIB)]
            (fit,) = commmodel.fit_allreduce_file(write_allreduce(os.path.join(d, "a.h5"), rows))
        for algo in ("ring", "tree"):
            lv = fit.level(algo, "mpi")
            topo = commmodel.Topology(1, 4, lv, None, algorithm=algo)
            for _, _, size, t in rows:
                self.assertLess(abs(topo.allreduce_call_s(size) / t - 1), 1e-6, (algo, size))
        auto = commmodel.Topology(1, 16, fit.level(), None)
        ring16 = commmodel.ring_allreduce_s(MIB, 16, 7e-6, 3e-10)
        self.assertLess(abs(auto.allreduce_call_s(MIB) / ring16 - 1), 1e-6)


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Fit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def synthetic(self, name, alpha, beta, n, chunk_mb, noise=None, scope="all"):
        sizes = [8 * 4 ** i for i in range(12)]  # 8 B .. 32 MiB
        rows = []
        chunk = int(chunk_mb * MIB)
        for i, s in enumerate(sizes):
            k = commmodel.slice_count(s, chunk)
            t = k * 2 * (n - 1) * alpha + 2 * (n - 1) / n * s * beta
            if noise is not None:
                t *= 1 + noise[i]
            rows.append((scope, n, s, t))
        return write_allreduce(os.path.join(self.tmp.name, name), rows, mpi_chunk_mb=chunk_mb)

    def test_recovers_alpha_and_beta_exactly_with_slices(self):
        for chunk_mb in (0.0, 1.0):
            path = self.synthetic(f"ar{chunk_mb}.h5", 3e-6, 2e-10, 4, chunk_mb)
            (fit,) = commmodel.fit_allreduce_file(path)
            self.assertLess(abs(fit.alpha / 3e-6 - 1), 1e-9)
            self.assertLess(abs(fit.beta / 2e-10 - 1), 1e-9)
            self.assertLess(fit.max_rel_residual, 1e-9)
            self.assertEqual((fit.min_bytes, fit.max_bytes, fit.sizes), (8, 8 * 4 ** 11, 12))
            self.assertEqual(fit.chunk_bytes, int(chunk_mb * MIB))
            self.assertEqual(commmodel.level_of_fit(fit), "intra")  # scope all, one node

    def test_exact_fit_reproduces_every_size_and_beyond(self):
        path = self.synthetic("ar-exact.h5", 3e-6, 2e-10, 4, 1.0)
        (fit,) = commmodel.fit_allreduce_file(path)
        topo = commmodel.Topology(1, 4, fit.level(), None)
        for size in (8, 5000, 3 * MIB, 1 << 30):  # measured, between, beyond the largest
            k = commmodel.slice_count(size, MIB)
            expected = k * 2 * 3 * 3e-6 + 1.5 * size * 2e-10
            self.assertLess(abs(topo.bucket_s(size, MIB) / expected - 1), 1e-6, size)
        # Where the latency is visible (small messages) it is recovered exactly; where it is
        # not (tens of MiB), a local fit may put it at 0 without changing the time.
        self.assertLess(abs(fit.level().at(8)[0] / 3e-6 - 1), 1e-9)
        self.assertLess(fit.local_max_rel_residual, 1e-6)

    def test_each_size_range_keeps_its_own_bandwidth(self):
        # Two regimes, as on a CPU host: messages up to 4 MiB stay in cache (fast), larger
        # ones stream from memory at a third of the bandwidth. A bucket of 48 MiB must be
        # costed at the large messages' bandwidth, which one fit over the whole range cannot.
        n, alpha = 2, 5e-6
        rows = []
        for size in [1024 * 4 ** i for i in range(9)]:  # 1 KiB .. 64 MiB
            beta = 1e-10 if size <= 4 * MIB else 3e-10
            rows.append(("all", n, size, ring(size, n, alpha, beta)))
        path = write_allreduce(os.path.join(self.tmp.name, "regimes.h5"), rows)
        (fit,) = commmodel.fit_allreduce_file(path)
        topo = commmodel.Topology(1, 2, fit.level(), None)
        bucket = 48 * MIB
        expected = ring(bucket, n, alpha, 3e-10)
        self.assertLess(abs(topo.bucket_s(bucket, 0) / expected - 1), 0.02)
        whole = commmodel.Topology(1, 2, commmodel.Level(fit.alpha, fit.beta, "whole"), None)
        self.assertGreater(abs(whole.bucket_s(bucket, 0) / expected - 1), 0.2,
                           "the whole-range fit is pulled by the fast sizes")
        # Small messages keep the small sizes' parameters (the control agreement's latency).
        self.assertLess(abs(topo.latency_s() / (2 * (n - 1) * alpha) - 1), 0.05)
        self.assertEqual([size for size, _, _ in fit.local], [r[2] for r in rows])

    def test_quality_of_a_noisy_fit(self):
        noise = [0.05 * (-1) ** i for i in range(12)]
        path = self.synthetic("noisy.h5", 3e-6, 2e-10, 2, 0.0, noise=noise, scope="inter")
        (fit,) = commmodel.fit_allreduce_file(path)
        self.assertGreater(fit.median_rel_residual, 0.01)
        self.assertLess(fit.max_rel_residual, 0.2)
        self.assertLess(abs(fit.beta / 2e-10 - 1), 0.1)
        self.assertEqual(commmodel.level_of_fit(fit), "inter")

    def test_beside_compute_rows_fitted_as_the_plain_ones(self):
        n, alpha, beta = 2, 5e-6, 2e-10
        rows = beside_rows(n, alpha, beta, 3 * alpha, 10 * beta)
        path = write_allreduce(os.path.join(self.tmp.name, "beside.h5"), rows)
        plain_only = write_allreduce(os.path.join(self.tmp.name, "plain.h5"),
                                     [r for r in rows if r[0] == "all"])
        (fit,) = commmodel.fit_allreduce_file(path)  # one fit: +compute is not a scope
        (ref,) = commmodel.fit_allreduce_file(plain_only)
        self.assertIsNone(ref.beside)
        # the plain rows' fit is untouched by the rows beside compute
        self.assertEqual(fit.scope, "all")
        for k in ("a_s", "b_s_per_byte", "alpha", "beta", "local", "median_rel_residual",
                  "max_rel_residual", "sizes"):
            self.assertEqual(getattr(fit, k), getattr(ref, k), k)
        b = fit.beside
        self.assertEqual((b.scope, b.group_size, b.sizes), ("all+compute", 2, len(SWEEP)))
        self.assertLess(abs(b.alpha / (3 * alpha) - 1), 1e-9)
        self.assertLess(abs(b.beta / (10 * beta) - 1), 1e-9)
        self.assertLess(b.max_rel_residual, 1e-9)
        self.assertLess(b.local_max_rel_residual, 1e-6)
        self.assertEqual(b.compute_rate, list(zip(SWEEP, SWEEP_RATES)))
        self.assertEqual((b.compute_threads, b.compute_load),
                         (1, "float32 matmul 256x256 (fake)"))
        d = fit.as_dict()["beside_compute"]
        self.assertEqual(d["scope"], "all+compute")
        self.assertEqual(len(d["per_size"]), len(SWEEP))
        self.assertIn("median_rel_residual", d)
        self.assertEqual(d["compute_rate"][0], {"bytes": 1024, "rate": 0.95})
        self.assertIsNone(ref.as_dict()["beside_compute"])
        # the levels: the beside level costs a bucket at its own fit, through the same path
        lv = fit.level()
        self.assertIsNotNone(lv.beside)
        topo = commmodel.Topology(1, 2, lv, None)
        beside = topo.beside_topology()
        for size in (1024, 3 * MIB, 64 * MIB):
            self.assertLess(abs(beside.bucket_s(size, 0)
                                / ring(size, n, 3 * alpha, 10 * beta) - 1), 1e-6, size)
            self.assertLess(abs(topo.bucket_s(size, 0) / ring(size, n, alpha, beta) - 1), 1e-6)
        self.assertIsNone(commmodel.Topology(1, 2, ref.level(), None).beside_topology())
        # compute_rate: piecewise linear in log(bytes), clamped at the ends
        rb = lv.beside
        for size in SWEEP:
            self.assertAlmostEqual(rb.compute_rate(size), SWEEP_RATES[SWEEP[:].index(size)],
                                   delta=1e-12)
        for size in (2048, 3 * MIB, 10 * MIB):
            self.assertAlmostEqual(rb.compute_rate(size), rate_by_hand(size), delta=1e-12)
        self.assertAlmostEqual(rb.compute_rate(2048), (0.95 + 0.9) / 2, delta=1e-12)
        self.assertEqual(rb.compute_rate(8), 0.95)
        self.assertEqual(rb.compute_rate(1 << 30), 0.5)
        self.assertEqual(rb.compute_rate(0), 0.95)

    def test_beside_rows_without_rates_or_without_plain_rows(self):
        n, alpha, beta = 2, 5e-6, 2e-10
        rows = beside_rows(n, alpha, beta, 2 * alpha, 2 * beta,
                           rates=[float("nan")] * len(SWEEP))
        path = write_allreduce(os.path.join(self.tmp.name, "nan.h5"), rows)
        (fit,) = commmodel.fit_allreduce_file(path)
        self.assertEqual(fit.beside.compute_rate, [])
        self.assertTrue(any("no finite compute_rate" in n for n in fit.beside.notes))
        self.assertIsNone(fit.level().beside)  # not used: measured mode cannot take it
        # +compute rows whose scope has no plain rows: no level takes them, with a note
        orphan = write_allreduce(os.path.join(self.tmp.name, "orphan.h5"),
                                 [r for r in beside_rows(n, alpha, beta, alpha, beta)
                                  if r[0] == "all+compute"]
                                 + [("inter", n, b, ring(b, n, alpha, beta)) for b in SWEEP],
                                 nodes=2, ranks_per_node=1)
        fits = commmodel.fit_allreduce_file(orphan)
        self.assertEqual(sorted(f.scope for f in fits), ["all+compute", "inter"])
        levels, notes = commmodel.levels_from(fits)
        self.assertEqual(sorted(levels), ["inter"])
        self.assertTrue(any("scope all+compute has no rows of scope all" in n for n in notes),
                        notes)

    def test_unusable_files(self):
        path = write_allreduce(os.path.join(self.tmp.name, "one.h5"), [("all", 2, 8, 1e-5)])
        with self.assertRaisesRegex(ValueError, "fewer than two message sizes"):
            commmodel.fit_allreduce_file(path)
        path = write_allreduce(os.path.join(self.tmp.name, "bad.h5"),
                               [("all", 2, 8, 1e-5), ("all", 2, 16, 1e-5)],
                               status="wrong_results")
        with self.assertRaisesRegex(ValueError, "not 'completed'"):
            commmodel.fit_allreduce_file(path)


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Schedule(unittest.TestCase):
    def test_three_buckets_with_and_without_overlap(self):
        ready = np.array([0.1, 0.3, 0.5])
        durations = [0.3, 0.25, 0.1]
        # overlap: b0 0.1-0.4, b1 queued behind it 0.4-0.65, b2 ready at 0.5 but waits: 0.65-0.75
        got = predict.simulate_exposed(ready, durations, np.float64(0.5), True)
        self.assertAlmostEqual(float(got), 0.25, delta=1e-12)
        # no overlap: all three after backward (0.5), back to back: 0.5 + 0.65
        got = predict.simulate_exposed(ready, durations, np.float64(0.5), False)
        self.assertAlmostEqual(float(got), 0.65, delta=1e-12)
        # fully hidden: short buckets end before backward
        got = predict.simulate_exposed(ready, [0.01, 0.01, 0.0], np.float64(0.6), True)
        self.assertEqual(float(got), 0.0)


    def test_shared_cores_schedule(self):
        ready = np.array([0.1, 0.3, 0.5])
        durations = [0.3, 0.25, 0.1]
        same = predict.CpuRates(1.0, 1.0, 1.0, 1.0)
        for overlap in (True, False):
            wall, exposed = predict.simulate_shared(ready, durations, np.float64(0.5), overlap,
                                                    same)
            self.assertAlmostEqual(float(wall), 0.5, delta=1e-12)
            self.assertAlmostEqual(float(exposed), float(predict.simulate_exposed(
                ready, durations, np.float64(0.5), overlap)), delta=1e-12)
        # one bucket ready at 0.1 of a 0.2 s backward, 0.3 s of work, both at half speed:
        # backward's last 0.1 takes 0.2 (to 0.3), the bucket did 0.1 of its work meanwhile;
        # its other 0.2 run alone at full speed: it ends at 0.5, 0.2 exposed
        half = predict.CpuRates(1.0, 0.5, 0.5, 1.0)
        wall, exposed = predict.simulate_shared(np.array([[0.1]]), [0.3], np.array([0.2]),
                                                True, half)
        self.assertAlmostEqual(float(wall[0]), 0.3, delta=1e-12)
        self.assertAlmostEqual(float(exposed[0]), 0.2, delta=1e-12)

    def test_per_bucket_rates(self):
        ready = np.array([[0.1, 0.3, 0.5], [0.0, 0.2, 0.45]])
        durations = [0.3, 0.25, 0.1]
        backward = np.array([0.5, 0.6])
        # one rate per bucket, all alike: the scalar case exactly
        for overlap in (True, False):
            scalar = predict.simulate_shared(ready, durations, backward, overlap,
                                             predict.CpuRates(0.8, 0.4, 0.3, 1.0))
            arrays = predict.simulate_shared(ready, durations, backward, overlap,
                                             predict.CpuRates(0.8, [0.4] * 3, [0.3] * 3, 1.0,
                                                              mode="measured"))
            for a, b in zip(scalar, arrays):
                np.testing.assert_array_equal(a, b)
        # by hand, rates per bucket: backward 0.2; b0 ready at 0, 0.05 of work at 0.25 while
        # backward runs at 0.5: it ends at 0.2 (backward at 0.1); b1 ready at 0.1, 0.3 of work
        # at 0.5 while backward's last 0.1 runs at 0.25 (0.4 s, to 0.6): 0.2 of b1 done, its
        # last 0.1 alone at 1: it ends at 0.7, 0.1 exposed
        rates = predict.CpuRates(1.0, [0.5, 0.25], [0.25, 0.5], 1.0, mode="measured")
        wall, exposed = predict.simulate_shared(np.array([[0.0, 0.1]]), [0.05, 0.3],
                                                np.array([0.2]), True, rates)
        self.assertAlmostEqual(float(wall[0]), 0.6, delta=1e-12)
        self.assertAlmostEqual(float(exposed[0]), 0.1, delta=1e-12)
        # the same with b0's rates for both buckets (a scalar) gives another answer
        wall, exposed = predict.simulate_shared(np.array([[0.0, 0.1]]), [0.05, 0.3],
                                                np.array([0.2]), True,
                                                predict.CpuRates(1.0, 0.5, 0.25, 1.0))
        self.assertNotAlmostEqual(float(wall[0]), 0.6, delta=1e-3)


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Lists(unittest.TestCase):
    def test_lists_and_doubling_ranges(self):
        self.assertEqual(predict.parse_counts("1,2,4", "--ranks"), [1, 2, 4])
        self.assertEqual(predict.parse_counts("1..512", "--ranks"),
                         [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
        self.assertEqual(predict.parse_counts("1,2,4,...,32", "--ranks"), [1, 2, 4, 8, 16, 32])
        self.assertEqual(predict.parse_counts("3..12,5", "--nodes"), [3, 5, 6, 12])
        for bad in ("", "0", "4..2", "a", "...,4", "1..100000000000000000000000"):
            with self.assertRaises(predict.PredictError):
                predict.parse_counts(bad, "--ranks")


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class PredictFromFakeRuns(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "pred")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_ok(self, *args):
        res = run_cli(*args, "--out", self.out)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(sorted(os.listdir(self.out)), sorted(OUTPUTS))
        with open(os.path.join(self.out, "prediction.json")) as f:
            return json.load(f), res

    def point(self, result, world):
        (p,) = [p for p in result["points"] if p["world_size"] == world]
        return p

    def test_points_at_2_and_4_ranks_equal_a_hand_computation(self):
        run = fake_run(self.path("r1.h5"))
        result, _ = self.run_ok(run, "--link", "10Gbit,10us", "--ranks", "1,2,4")
        alpha, beta = 10e-6, 8 / 10e9
        self.assertEqual([p["world_size"] for p in result["points"]], [1, 2, 4])
        p1 = self.point(result, 1)
        self.assertAlmostEqual(p1["step_s"]["median"], STEP, delta=1e-12)
        self.assertAlmostEqual(p1["wall_s"]["median"], STEP + CONTROL, delta=1e-12)
        for n in (2, 4):
            durations = [ring(b, n, alpha, beta) for b in BUCKETS]
            exposed = exposed_by_hand(durations)
            p = self.point(result, n)
            self.assertEqual((p["nodes"], p["ranks_per_node"]), (n, 1))  # --link: one per node
            self.assertAlmostEqual(p["exposed_comm_s"]["median"], exposed, delta=1e-12)
            self.assertAlmostEqual(p["step_s"]["median"], STEP + exposed, delta=1e-12)
            self.assertAlmostEqual(p["step_s"]["p10"], STEP + exposed, delta=1e-12)
            # control: the measured 1-rank agreement plus one tiny allreduce's latency, which
            # Open MPI runs as recursive doubling (below 10000 B): log2 n steps; no buffers
            rd_steps = {2: 1, 4: 2}[n]
            self.assertAlmostEqual(p["wall_s"]["median"],
                                   STEP + exposed + CONTROL + rd_steps * alpha, delta=1e-12)
            self.assertAlmostEqual(p["comm_busy_s"], sum(durations), delta=1e-12)
            self.assertAlmostEqual(p["throughput_samples_per_s"], 32 * n / p["wall_s"]["median"],
                                   delta=1e-9)
            self.assertAlmostEqual(p["speedup"], p["throughput_samples_per_s"]
                                   / p1["throughput_samples_per_s"], delta=1e-12)
            self.assertAlmostEqual(p["efficiency"], p["speedup"] / n, delta=1e-12)
        self.assertEqual(result["levels"]["inter"]["alpha_s"], alpha)
        self.assertTrue(any("own network link" in n for n in result["notes"]))
        with open(os.path.join(self.out, "prediction.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0].split(",")[:3], ["nodes", "ranks_per_node", "world_size"])
        self.assertEqual(len(lines), 4)

    def test_without_overlap_every_bucket_waits_for_backward(self):
        run = fake_run(self.path("r1.h5"))
        with h5py.File(run, "a") as f:
            f.attrs["overlap"] = np.int64(0)
        result, _ = self.run_ok(run, "--link", "10Gbit,10us", "--ranks", "2")
        durations = [ring(b, 2, 10e-6, 8 / 10e9) for b in BUCKETS]
        self.assertAlmostEqual(self.point(result, 2)["exposed_comm_s"]["median"],
                               sum(durations), delta=1e-12)

    def test_buffer_broadcast_adds_the_model_to_the_measured_local_cost(self):
        run = fake_runs.write_run(
            self.path("bn.h5"), step_s=np.full((4, 1), 0.2), warmup=1, buffer_sync_bytes=10**6,
            phases={"buffer_sync_s": 0.001, "control_s": 0.0, "data_s": 0.02,
                    "forward_s": 0.06, "backward_s": 0.1, "comm_exposed_s": 0.0,
                    "optimizer_s": 0.019},
            attrs={"mpi_chunk_mb": np.float64(0.0)})
        result, _ = self.run_ok(run, "--intra", "1GB/s,10us", "--ranks", "1,2,4")
        for n in (1, 2, 4):
            self.assertAlmostEqual(self.point(result, n)["buffer_sync_s"]["median"],
                                   0.001 + ring(10**6, n, 10e-6, 1e-9), delta=1e-12)
            self.assertAlmostEqual(self.point(result, n)["step_s"]["median"],
                                   0.2 + ring(10**6, n, 10e-6, 1e-9), delta=1e-12)

    def test_measured_point_with_its_error(self):
        fake_run(self.path("r1.h5"))
        fake_run(self.path("r2.h5"), world=2, step_extra=0.004)
        result, res = self.run_ok(self.dir, "--intra", "2GB/s,20us")
        alpha, beta = 20e-6, 1 / 2e9
        exposed = exposed_by_hand([ring(b, 2, alpha, beta) for b in BUCKETS])
        (c,) = [c for c in result["comparisons"] if not c["is_profile"]]
        self.assertEqual(c["world_size"], 2)
        self.assertAlmostEqual(c["measured_step_s"], STEP + 0.004, delta=1e-12)
        self.assertAlmostEqual(c["predicted_step_s"], STEP + exposed, delta=1e-12)
        self.assertAlmostEqual(c["step_rel_error"], (STEP + exposed) / (STEP + 0.004) - 1,
                               delta=1e-12)
        self.assertAlmostEqual(c["measured_wall_s"], STEP + 0.004 + CONTROL, delta=1e-12)
        p2 = self.point(result, 2)
        self.assertTrue(p2["comm_measured"] is False)  # predicted from the 1-rank profile
        # the control agreement: one recursive doubling step at 2 ranks (Open MPI, < 10000 B)
        self.assertAlmostEqual(p2["wall_s"]["median"], STEP + exposed + CONTROL + alpha,
                               delta=1e-12)
        self.assertEqual(p2["measured"]["path"], self.path("r2.h5"))
        self.assertIn("2 ranks: measured step", res.stdout)
        roles = sorted(i["role"] for i in result["inputs"])
        self.assertEqual(roles, ["measured", "profile"])
        with open(os.path.join(self.out, "prediction.csv")) as f:
            rows = [r.split(",") for r in f.read().splitlines()]
        col = rows[0].index("step_rel_error")
        self.assertAlmostEqual(float(rows[2][col]), c["step_rel_error"], delta=1e-12)
        self.assertEqual(rows[1][col], "")

    def test_allreduce_file_gives_the_level(self):
        fake_run(self.path("r1.h5"))
        rows = [("all", 2, s, 2 * 7e-6 + s * 3e-10) for s in (8, 1024, 65536, 4 * MIB)]
        ar = write_allreduce(self.path("ar.json.h5"), rows)
        result, _ = self.run_ok(self.path("r1.h5"), "--allreduce", ar, "--ranks", "2")
        (fit,) = result["allreduce_fits"]
        self.assertEqual(fit["level"], "intra")
        self.assertAlmostEqual(fit["alpha_s"] / 7e-6, 1, delta=1e-9)
        self.assertAlmostEqual(fit["beta_s_per_byte"] / 3e-10, 1, delta=1e-9)
        exposed = exposed_by_hand([ring(b, 2, 7e-6, 3e-10) for b in BUCKETS])
        self.assertAlmostEqual(self.point(result, 2)["step_s"]["median"], STEP + exposed,
                               delta=1e-9)

    def test_two_levels_from_one_file_hierarchical_across_nodes(self):
        run = fake_run(self.path("r1.h5"))
        ai, bi, ae, be = 2e-6, 1e-10, 20e-6, 1e-9
        rows = ([("intra", 2, s, 2 * ai + s * bi) for s in (8, 4096, MIB)]
                + [("inter", 2, s, 2 * ae + s * be) for s in (8, 4096, MIB)]
                + [("all", 4, 8, 1e-4), ("all", 4, MIB, 1e-2)])
        ar = write_allreduce(self.path("ar.h5"), rows, nodes=2, ranks_per_node=2)
        result, res = self.run_ok(run, "--allreduce", ar, "--nodes", "1,4",
                                  "--ranks-per-node", "2")
        self.assertEqual(sorted(f["level"] or "-" for f in result["allreduce_fits"]),
                         ["-", "inter", "intra"])
        self.assertIn("mixes both levels", res.stderr)
        self.assertAlmostEqual(result["levels"]["inter"]["alpha_s"] / ae, 1, delta=1e-9)
        p, n = 2, 4
        durations = [2 * (p - 1) * ai + 2 * (p - 1) / p * b * bi
                     + 2 * (n - 1) * ae + 2 * (n - 1) / n * (b / p) * be for b in BUCKETS]
        p8 = self.point(result, 8)
        self.assertEqual((p8["nodes"], p8["ranks_per_node"]), (4, 2))
        self.assertAlmostEqual(p8["comm_busy_s"], sum(durations), delta=1e-12)
        self.assertAlmostEqual(p8["step_s"]["median"], STEP + exposed_by_hand(durations),
                               delta=1e-12)
        self.assertEqual(self.point(result, 2)["nodes"], 1)  # --nodes 1: one node of 2

    def test_oversubscribed_cpu_scales_compute(self):
        run = fake_run(self.path("r1.h5"))  # 1 rank x 1 thread on 2 CPUs: load 0.5
        # --comm-contention off: the oversubscription factor alone (the model before the
        # communication thread shared the cores; test_compute_and_communication_share_cores)
        result, res = self.run_ok(run, "--intra", "2GB/s,20us", "--ranks", "2,4",
                                  "--cores-per-node", "2", "--comm-contention", "off")
        self.assertEqual(self.point(result, 2)["compute_factor"], 1.0)
        p4 = self.point(result, 4)
        self.assertEqual(p4["compute_factor"], 2.0)  # 4 threads on 2 cores
        self.assertIn("cores per node: 2 (--cores-per-node)", res.stderr)
        # without --cores-per-node: not modelled, and said so
        result, res = self.run_ok(run, "--intra", "2GB/s,20us", "--ranks", "4")
        self.assertEqual(self.point(result, 4)["compute_factor"], 1.0)
        self.assertIn("oversubscription is not modelled", res.stderr)
        self.assertIn("could run on 2 CPU(s), a lower bound", res.stderr)
        durations = [ring(b, 4, 20e-6, 1 / 2e9) for b in BUCKETS]
        end = 0.0
        for r, d in zip(READY_IN_BWD, durations):
            end = max(2 * r, end) + d
        exposed = max(0.0, end - 2 * BWD)
        self.assertAlmostEqual(p4["step_s"]["median"],
                               DATA + 2 * (FWD + BWD + OPT) + exposed, delta=1e-12)

    def test_compute_and_communication_share_cores(self):
        run = fake_run(self.path("r1.h5"))  # 1 rank x 1 thread on 2 CPUs: load 0.5
        result, _ = self.run_ok(run, "--intra", "2GB/s,20us", "--ranks", "2,4",
                                "--cores-per-node", "2")
        d = [ring(b, 2, 20e-6, 1 / 2e9) for b in BUCKETS]
        p2 = self.point(result, 2)
        # 2 compute + 2 communication threads on 2 cores while a bucket is in flight: each at
        # half speed. Buckets 0 and 1 are in flight within backward (each ends before the
        # next is ready): each takes 2 d of wall, in which backward advances d, so backward
        # ends d0 + d1 late; bucket 2 is ready at the end of backward and runs alone (d2).
        self.assertEqual(p2["cpu_rates"], {"compute_idle": 1.0, "compute_busy": 0.5,
                                           "comm_busy": 0.5, "comm_alone": 1.0})
        self.assertAlmostEqual(p2["backward_s"]["median"], BWD + d[0] + d[1], delta=1e-12)
        self.assertAlmostEqual(p2["exposed_comm_s"]["median"], d[2], delta=1e-12)
        self.assertAlmostEqual(p2["step_s"]["median"], STEP + d[0] + d[1] + d[2], delta=1e-12)
        # 4 ranks on 2 cores: compute at half speed alone, a quarter beside communication;
        # communication at 0.25 / 0.5 (its sweep's 4 threads on 2 cores)
        self.assertEqual(self.point(result, 4)["cpu_rates"], {
            "compute_idle": 0.5, "compute_busy": 0.25, "comm_busy": 0.5, "comm_alone": 1.0})
        self.assertTrue(any("--comm-contention share" in n for n in result["assumptions"]))
        # off: the bucket takes no core; only the last one shows
        result, _ = self.run_ok(run, "--intra", "2GB/s,20us", "--ranks", "2",
                                "--cores-per-node", "2", "--comm-contention", "off")
        p2 = self.point(result, 2)
        self.assertIsNone(p2["cpu_rates"])
        self.assertAlmostEqual(p2["step_s"]["median"], STEP + d[2], delta=1e-12)
        self.assertTrue(any("communication does not slow compute" in n
                            for n in result["assumptions"]))
        # cores not known: no contention either
        result, _ = self.run_ok(run, "--intra", "2GB/s,20us", "--ranks", "2")
        self.assertIsNone(self.point(result, 2)["cpu_rates"])

    def test_measured_contention_per_bucket(self):
        run = fake_run(self.path("r1.h5"))  # 1 rank x 1 thread on 2 CPUs: load 0.5
        n, alpha, beta, alpha_c, beta_c = 2, 20e-6, 1 / 2e9, 50e-6, 4 / 2e9
        ar = write_allreduce(self.path("ar.h5"), beside_rows(n, alpha, beta, alpha_c, beta_c))
        plain = [ring(b, n, alpha, beta) for b in BUCKETS]
        beside = [ring(b, n, alpha_c, beta_c) for b in BUCKETS]
        rates = [rate_by_hand(b) for b in BUCKETS]
        for cores in (("--cores-per-node", "2"), ()):  # measured needs no cores
            result, res = self.run_ok(run, "--allreduce", ar, "--ranks", "2", *cores)
            p2 = self.point(result, 2)
            self.assertEqual(p2["comm_contention"], "measured")
            self.assertEqual(result["comm_contention"], "auto")
            r = p2["cpu_rates"]
            self.assertEqual(r["compute_idle"], 1.0)  # 2 threads on 2 cores: no oversubscription
            self.assertEqual(r["comm_alone"], 1.0)
            for got, want in ((r["comm_busy"], [a / b for a, b in zip(plain, beside)]),
                              (r["compute_busy"], rates), (r["compute_rate"], rates),
                              (r["beside_s"], beside)):
                self.assertEqual(len(got), len(BUCKETS))
                for g, w in zip(got, want):
                    self.assertAlmostEqual(g / w, 1, delta=1e-6)
            self.assertTrue(all(0 < x < 1 for x in r["comm_busy"]))
            self.assertEqual(len(r["sources"]), 1)
            self.assertIn(f"{ar} scope all+compute", r["sources"][0])
            self.assertEqual(p2["comm_contention_sources"], r["sources"])
            # backward and the exposed tail: the schedule with these rates per bucket
            wall, exposed = predict.simulate_shared(
                np.array([READY_IN_BWD]), plain, np.array([BWD]), True,
                predict.CpuRates(1.0, rates, [a / b for a, b in zip(plain, beside)], 1.0))
            self.assertAlmostEqual(p2["backward_s"]["median"], float(wall[0]), delta=1e-9)
            self.assertAlmostEqual(p2["exposed_comm_s"]["median"], float(exposed[0]),
                                   delta=1e-9)
            self.assertGreater(p2["backward_s"]["median"], BWD + 1e-4)
            self.assertAlmostEqual(p2["step_s"]["median"],
                                   STEP - BWD + float(wall[0]) + float(exposed[0]), delta=1e-9)
            note = [x for x in result["notes"] if x.startswith("comm contention")]
            self.assertEqual(len(note), 1, result["notes"])
            self.assertIn("measured at 2 ranks", note[0])
            self.assertIn(ar, note[0])
            self.assertIn("needs no --cores-per-node or --shared-cores", note[0])
            self.assertIn("(--cores-per-node given)" if cores else "(not given", note[0])
            self.assertIn("comm contention", res.stderr)
            self.assertTrue(any("--comm-contention measured" in x
                                for x in result["assumptions"]))
            self.assertEqual(self.point(result, 1)["comm_contention"], "off")
        # 4 ranks on the 2 cores: compute_idle from --cores-per-node as before (1/2), the
        # compute beside a bucket at half of that times its rate
        result, _ = self.run_ok(run, "--allreduce", ar, "--ranks", "4", "--cores-per-node", "2")
        r4 = self.point(result, 4)["cpu_rates"]
        self.assertEqual(r4["compute_idle"], 0.5)
        for g, w in zip(r4["compute_busy"], rates):
            self.assertAlmostEqual(g, 0.5 * w, delta=1e-9)
        # a load of another thread count than the profile's: said so
        ar2 = write_allreduce(self.path("ar2.h5"), beside_rows(n, alpha, beta, alpha_c, beta_c),
                              compute_threads=2)
        result, _ = self.run_ok(run, "--allreduce", ar2, "--ranks", "2")
        self.assertTrue(any("compute load ran 2 thread(s) per rank, the profile 1" in x
                            for x in result["notes"]), result["notes"])

    def test_measured_contention_across_nodes_sums_both_levels(self):
        run = fake_run(self.path("r1.h5"))
        ai, bi, ae, be = 2e-6, 1e-10, 20e-6, 1e-9
        rows = (beside_rows(2, ai, bi, 2 * ai, 3 * bi, rates=[0.8] * len(SWEEP), scope="intra")
                + beside_rows(2, ae, be, 5 * ae, 4 * be, rates=[0.4] * len(SWEEP),
                              scope="inter")
                + [("all", 4, 8, 1e-4), ("all", 4, MIB, 1e-2),
                   ("all+compute", 4, 8, 2e-4, 0.5), ("all+compute", 4, MIB, 2e-2, 0.5)])
        ar = write_allreduce(self.path("ar.h5"), rows, nodes=2, ranks_per_node=2)
        result, res = self.run_ok(run, "--allreduce", ar, "--nodes", "4",
                                  "--ranks-per-node", "2")
        self.assertIn("mixes both levels", res.stderr)
        p8 = self.point(result, 8)
        self.assertEqual(p8["comm_contention"], "measured")
        self.assertEqual(len(p8["comm_contention_sources"]), 2)
        p, n = 2, 4

        def hier(b, a_i, b_i, a_e, b_e):  # the in-node and the cross-node parts
            return (2 * (p - 1) * a_i + 2 * (p - 1) / p * b * b_i,
                    2 * (n - 1) * a_e + 2 * (n - 1) / n * (b / p) * b_e)

        r = p8["cpu_rates"]
        for k, b in enumerate(BUCKETS):
            plain = sum(hier(b, ai, bi, ae, be))
            ti, te = hier(b, 2 * ai, 3 * bi, 5 * ae, 4 * be)
            self.assertAlmostEqual(r["beside_s"][k] / (ti + te), 1, delta=1e-6)
            self.assertAlmostEqual(r["comm_busy"][k] / (plain / (ti + te)), 1, delta=1e-6)
            self.assertAlmostEqual(r["compute_rate"][k], (0.8 * ti + 0.4 * te) / (ti + te),
                                   delta=1e-6)
        # without the inter level's beside rows: share where the cores are known (auto)
        ar2 = write_allreduce(self.path("ar2.h5"), [r_ for r_ in rows
                                                    if r_[0] != "inter+compute"],
                              nodes=2, ranks_per_node=2)
        result, _ = self.run_ok(run, "--allreduce", ar2, "--nodes", "4", "--ranks-per-node",
                                "2", "--shared-cores", "2")
        self.assertEqual(self.point(result, 8)["comm_contention"], "share")

    def test_auto_falls_back_to_share_without_beside_rows(self):
        run = fake_run(self.path("r1.h5"))
        n, alpha, beta = 2, 20e-6, 1 / 2e9
        ar = write_allreduce(self.path("ar.h5"), [("all", n, b, ring(b, n, alpha, beta))
                                                  for b in SWEEP])
        auto, res = self.run_ok(run, "--allreduce", ar, "--ranks", "2", "--cores-per-node", "2")
        p2 = self.point(auto, 2)
        self.assertEqual(p2["comm_contention"], "share")
        self.assertIsNone(p2["comm_contention_sources"])
        self.assertEqual(p2["cpu_rates"], {"compute_idle": 1.0, "compute_busy": 0.5,
                                           "comm_busy": 0.5, "comm_alone": 1.0})
        self.assertIn("share (processor sharing) at 2 ranks (a level they use has no "
                      "beside-compute rows", res.stderr)
        share, _ = self.run_ok(run, "--allreduce", ar, "--ranks", "2", "--cores-per-node", "2",
                               "--comm-contention", "share")
        for k in ("step_s", "backward_s", "exposed_comm_s", "wall_s", "cpu_rates"):
            self.assertEqual(p2[k], self.point(share, 2)[k], k)
        # a level from a link spec has no beside rows either
        spec, _ = self.run_ok(run, "--intra", "2GB/s,20us", "--ranks", "2",
                              "--cores-per-node", "2")
        self.assertEqual(self.point(spec, 2)["comm_contention"], "share")
        # auto without the cores and without beside rows: no contention, and said so
        none, res = self.run_ok(run, "--allreduce", ar, "--ranks", "2")
        self.assertEqual(self.point(none, 2)["comm_contention"], "off")
        self.assertIsNone(self.point(none, 2)["cpu_rates"])
        self.assertIn("none at 2 ranks (the cores are not known", res.stderr)
        # measured asked for without beside rows: refused, one line, nothing written
        refused = self.path("refused")
        res = run_cli(run, "--allreduce", ar, "--ranks", "2", "--comm-contention", "measured",
                      "--out", refused)
        self.assertEqual(res.returncode, 2)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)
        self.assertIn("--comm-contention measured", res.stderr)
        self.assertIn("intra level(s) without beside-compute rows", res.stderr)
        self.assertFalse(os.path.exists(refused))
        # share and off ignore beside rows
        ar_c = write_allreduce(self.path("ar-c.h5"), beside_rows(n, alpha, beta, alpha, beta))
        forced, _ = self.run_ok(run, "--allreduce", ar_c, "--ranks", "2", "--cores-per-node",
                                "2", "--comm-contention", "share")
        self.assertEqual(self.point(forced, 2)["comm_contention"], "share")
        self.assertEqual(self.point(forced, 2)["step_s"], p2["step_s"])
        off, _ = self.run_ok(run, "--allreduce", ar_c, "--ranks", "2", "--comm-contention",
                             "off")
        self.assertEqual(self.point(off, 2)["comm_contention"], "off")
        self.assertIsNone(self.point(off, 2)["cpu_rates"])

    def test_beside_ten_times_slower_lengthens_backward_beyond_share(self):
        run = fake_run(self.path("r1.h5"))
        n, alpha, beta = 2, 20e-6, 1 / 2e9
        ar = write_allreduce(self.path("ar.h5"), beside_rows(
            n, alpha, beta, 10 * alpha, 10 * beta, rates=[0.5] * len(SWEEP)))
        measured, _ = self.run_ok(run, "--allreduce", ar, "--ranks", "2",
                                  "--cores-per-node", "2")
        share, _ = self.run_ok(run, "--allreduce", ar, "--ranks", "2", "--cores-per-node", "2",
                               "--comm-contention", "share")
        pm, ps = self.point(measured, 2), self.point(share, 2)
        self.assertEqual((pm["comm_contention"], ps["comm_contention"]), ("measured", "share"))
        for x in pm["cpu_rates"]["comm_busy"]:
            self.assertAlmostEqual(x, 0.1, delta=1e-6)
        self.assertEqual(pm["cpu_rates"]["compute_busy"], [0.5] * len(BUCKETS))
        # share: buckets 0 and 1 in flight within backward at half speed, backward late by
        # d0 + d1; measured: at a tenth, so backward (at half speed beside them) is late by
        # 5 (d0 + d1) (each ends before the next is ready: 10 d < 0.1 s)
        d = [ring(b, n, alpha, beta) for b in BUCKETS]
        self.assertAlmostEqual(ps["backward_s"]["median"], BWD + d[0] + d[1], delta=1e-9)
        self.assertAlmostEqual(pm["backward_s"]["median"], BWD + 5 * (d[0] + d[1]), delta=1e-9)
        self.assertGreater(pm["backward_s"]["median"], ps["backward_s"]["median"] + 0.01)
        self.assertGreater(pm["step_s"]["median"], ps["step_s"]["median"] + 0.01)
        self.assertGreaterEqual(pm["exposed_comm_s"]["median"], ps["exposed_comm_s"]["median"])

    def test_shared_cores_count_every_rank_of_every_node(self):
        run = fake_run(self.path("r1.h5"))
        result, res = self.run_ok(run, "--link", "1Gbit,50us", "--ranks", "2,4",
                                  "--shared-cores", "2")
        p2, p4 = self.point(result, 2), self.point(result, 4)
        self.assertEqual((p4["nodes"], p4["ranks_per_node"]), (4, 1))
        self.assertEqual(p2["compute_factor"], 1.0)
        self.assertEqual(p4["compute_factor"], 2.0)  # 4 nodes' ranks on the 2 shared cores
        self.assertEqual(p4["cpu_rates"], {"compute_idle": 0.5, "compute_busy": 0.25,
                                           "comm_busy": 0.5, "comm_alone": 1.0})
        self.assertEqual(result["shared_cores"], 2)
        self.assertIn("--shared-cores 2", res.stderr)
        self.assertIn("all ranks of all nodes", res.stderr)
        # the same nodes as separate machines of 2 cores: 1 rank and its thread per node
        result, _ = self.run_ok(run, "--link", "1Gbit,50us", "--ranks", "4",
                                "--cores-per-node", "2")
        self.assertEqual(self.point(result, 4)["compute_factor"], 1.0)
        self.assertIsNone(self.point(result, 4)["cpu_rates"])
        refused = self.path("refused")
        res = run_cli(run, "--link", "1Gbit,50us", "--ranks", "4", "--shared-cores", "2",
                      "--cores-per-node", "2", "--out", refused)
        self.assertEqual(res.returncode, 2)
        self.assertIn("--shared-cores and --cores-per-node are exclusive", res.stderr)
        self.assertFalse(os.path.exists(refused))

    def test_step_time_stands_in_for_another_device(self):
        run = fake_run(self.path("r1.h5"))
        result, _ = self.run_ok(run, "--link", "10Gbit,10us", "--ranks", "1,2",
                                "--step-time", str((FWD + BWD + OPT) / 4))
        self.assertAlmostEqual(result["compute_scale"], 0.25, delta=1e-12)
        self.assertAlmostEqual(self.point(result, 1)["step_s"]["median"],
                               DATA + (FWD + BWD + OPT) / 4, delta=1e-12)
        self.assertTrue(any("a device not measured" in n for n in result["notes"]))

    def test_strong_scaling_interpolates_and_extrapolates_only_when_asked(self):
        fake_run(self.path("b16.h5"), batch=16, scale=0.5)
        fake_run(self.path("b32.h5"), batch=32, scale=1.0)
        args = (self.path("b16.h5"), self.path("b32.h5"), "--mode", "strong",
                "--intra", "2GB/s,20us", "--cores-per-node", "8")
        result, _ = self.run_ok(*args, "--global-batch", "48", "--ranks", "2")
        p2 = self.point(result, 2)
        self.assertEqual(p2["per_rank_batch"], 24)
        self.assertFalse(p2["extrapolated"])
        scale = 0.75  # halfway between 0.5 and 1.0
        durations = [ring(b, 2, 20e-6, 1 / 2e9) for b in BUCKETS]
        end = 0.0
        for r, d in zip(READY_IN_BWD, durations):
            end = max(scale * r, end) + d
        exposed = max(0.0, end - scale * BWD)
        self.assertAlmostEqual(p2["step_s"]["median"],
                               DATA + scale * (FWD + BWD + OPT) + exposed, delta=1e-12)
        # 4 ranks at global batch 48: 12 per rank, below the measured 16..32
        refused = self.path("refused")
        res = run_cli(*args, "--global-batch", "48", "--ranks", "4", "--out", refused)
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("per-rank batch 12", res.stderr)
        self.assertIn("--extrapolate", res.stderr)
        self.assertFalse(os.path.exists(refused))
        result, _ = self.run_ok(*args, "--global-batch", "48", "--ranks", "4", "--extrapolate")
        p4 = self.point(result, 4)
        self.assertTrue(p4["extrapolated"])
        self.assertAlmostEqual(p4["per_rank_batch"], 12)

    def test_refusals_exit_2_one_line_no_files(self):
        run = fake_run(self.path("r1.h5"))
        fake_run(self.path("r2.h5"), world=2)
        ar = write_allreduce(self.path("ar.h5"), [("all", 2, 8, 1e-5), ("all", 2, 64, 2e-5)])
        cases = [
            ((), "no inputs"),
            ((self.path("missing.h5"),), "no such file"),
            ((run, "--link", "100Gbit"), "link spec"),
            ((run, "--intra", "fast,1us", "--ranks", "2"), "link spec"),
            ((run, "--ranks", "1,2", "--nodes", "1,2", "--ranks-per-node", "2",
              "--link", "1Gbit,1us"), "exclusive"),
            ((run, "--nodes", "1,2", "--link", "1Gbit,1us"), "--ranks-per-node"),
            ((run, "--step-time", "0.1", "--samples-per-s", "100"), "not allowed with"),
            ((run, "--mode", "weak", "--global-batch", "64"), "--mode strong"),
            ((run, "--mode", "strong", "--ranks", "1,2", "--link", "1Gbit,1us"),
             "--global-batch"),
            ((run, "--mode", "strong", "--global-batch", "32", "--ranks", "1,2",
              "--link", "1Gbit,1us"), "--extrapolate"),
            ((run, "--ranks", "2"), "need the intra-node level"),
            ((run, "--ranks", "1,x"), "not a positive integer"),
            ((run, "--link", "1Gbit,1us", "--intra", "1GB/s,1us", "--ranks", "2"),
             "--ranks-per-node"),
            ((run, "--allreduce", ar, "--intra", "1GB/s,1us", "--ranks", "2"), "give one"),
            ((run, "--nodes", "2", "--ranks-per-node", "2", "--intra", "1GB/s,1us"),
             "inter-node level"),
            ((run, "--link", "1Gbit,1us", "--algorithm", "butterfly"), "--algorithm"),
            ((run, "--link", "1Gbit,1us", "--backend", "gloo"), "--backend"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                res = run_cli(*args, "--out", self.out)
                self.assertEqual(res.returncode, 2, res.stderr)
                lines = res.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, res.stderr)
                self.assertTrue(lines[0].startswith("predict: error: "), lines[0])
                self.assertIn(needle, lines[0])
                self.assertFalse(os.path.exists(self.out))

    def test_help_starts_with_examples(self):
        res = run_cli("--help")
        self.assertEqual(res.returncode, 0)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0], "examples:")
        self.assertTrue(lines[1].strip().startswith("results/predict "))
        self.assertTrue(lines[2].strip().startswith("results/predict "))

    def test_executable_entry_script(self):
        self.assertTrue(os.access(PREDICT, os.X_OK))
        run = fake_run(self.path("r1.h5"))
        res = subprocess.run([PREDICT, run, "--link", "1Gbit,1us", "--ranks", "1..4",
                              "--out", self.out], capture_output=True, text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(self.out, "prediction.json")) as f:
            self.assertEqual([p["world_size"] for p in json.load(f)["points"]], [1, 2, 4])


REPORT = os.path.join(RESULTS, "report")


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class PredictedCurveInTheReport(unittest.TestCase):
    """results/report draws results/predict's curve beside the measured points where the
    study has an allreduce file, and says in one line why not where it has none."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.study = os.path.join(self.tmp.name, "study")
        os.mkdir(self.study)
        self.runs = [fake_run(os.path.join(self.study, "r1.h5")),
                     fake_run(os.path.join(self.study, "r2.h5"), world=2, step_extra=0.004),
                     fake_run(os.path.join(self.study, "r4.h5"), world=4, step_extra=0.01)]

    def tearDown(self):
        self.tmp.cleanup()

    def report(self, *extra):
        out = os.path.join(self.tmp.name, "out")
        res = subprocess.run([REPORT, self.study, "--out", out, *extra], capture_output=True,
                             text=True, timeout=300)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            doc = json.load(f)
        with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
            page = f.read()
        return doc, res.stdout, page

    def test_cores_per_node_come_from_the_study(self):
        from scalebench_results import reportpredict
        from scalebench_results.runfile import load_run
        bound = fake_run(os.path.join(self.tmp.name, "bound.h5"), cpu_affinity="3")
        wide = fake_run(os.path.join(self.tmp.name, "wide.h5"), world=2, cpu_affinity=["0-1", "2-3"])
        unknown = fake_run(os.path.join(self.tmp.name, "unknown.h5"), cpu_affinity="")
        runs = [load_run(p) for p in (bound, wide)]
        self.assertEqual(reportpredict.study_cores_per_node(runs), 4)  # the largest host set
        self.assertEqual(reportpredict.study_cores_per_node(runs[:1]), 1)
        self.assertIsNone(reportpredict.study_cores_per_node([load_run(unknown)]))

    def test_predicted_values_are_results_predicts(self):
        rows = [("all", 4, s, 6 * 7e-6 + 1.5 * s * 3e-10) for s in (8, 1024, 65536, MIB, 4 * MIB)]
        ar = write_allreduce(os.path.join(self.study, "ar-np4.h5"), rows)
        doc, stdout, page = self.report()
        # what results/predict computes for the same input, in this process; the fakes' ranks
        # may run on CPUs 0-1, so the report gives predict 2 cores per node (4 ranks then share
        # them: the contention term)
        ref = predict.predict(predict.parse_args(self.runs + ["--allreduce", ar, "--out", "x",
                                                              "--cores-per-node", "2"]))
        by_n = {p["world_size"]: p for p in ref["points"]}
        (g,) = doc["groups"]
        self.assertEqual(g["prediction"]["status"], "predicted")
        self.assertEqual(g["prediction"]["cores_per_node"], 2)
        self.assertTrue(any("cores per node 2" in n for n in g["prediction"]["notes"]))
        self.assertEqual(g["prediction"]["allreduce_file"], ar)
        self.assertEqual(doc["allreduce_files"], [ar])
        self.assertEqual([p["world_size"] for p in g["points"]], [1, 2, 4])
        base = by_n[1]
        for p in g["points"]:
            r = by_n[p["world_size"]]
            self.assertAlmostEqual(p["predicted_step_s"], r["step_s"]["median"], delta=1e-12)
            self.assertAlmostEqual(p["predicted_step_s_p10"], r["step_s"]["p10"], delta=1e-12)
            self.assertAlmostEqual(p["predicted_step_s_p90"], r["step_s"]["p90"], delta=1e-12)
            self.assertAlmostEqual(p["predicted_speedup"], r["speedup"], delta=1e-12)
            self.assertAlmostEqual(p["predicted_efficiency"], r["efficiency"], delta=1e-12)
            self.assertAlmostEqual(p["predicted_throughput_samples_per_s"],
                                   r["throughput_samples_per_s"], delta=1e-9)
            self.assertAlmostEqual(p["predicted_step_error"],
                                   r["step_s"]["median"] / p["median_step_s"] - 1, delta=1e-12)
            if p["world_size"] > 1:  # the measured comparison predict itself makes
                self.assertAlmostEqual(p["predicted_step_error"],
                                       r["measured"]["step_rel_error"], delta=1e-12)
        self.assertAlmostEqual(base["speedup"], 1.0, delta=0)
        # the table: a predicted column and the error beside each measured point
        lines = stdout.splitlines()
        head = next(line for line in lines if line.startswith("   N  median step ms"))
        self.assertTrue(head.rstrip().endswith("predicted ms    error"), head)
        row4 = next(line for line in lines if line.startswith("   4  "))
        p4 = g["points"][2]
        self.assertEqual(row4.split()[-2:], [f"{p4['predicted_step_s'] * 1e3:.2f}",
                                             f"{p4['predicted_step_error'] * 100:+.1f}%"], row4)
        self.assertIn("predicted step ms [p10, p90]", page)
        self.assertIn(f"{p4['predicted_step_error'] * 100:+.1f}%", page)
        # the curve on the measured points' axes
        from scalebench_results import plots
        fig = plots.efficiency_figure(doc["groups"])
        ax_eff, ax_step = fig.axes[:2]
        (line,) = [ln for ln in ax_step.get_lines() if ln.get_label().endswith(": predicted")]
        self.assertEqual(list(line.get_ydata()),
                         [p["predicted_step_s"] * 1e3 for p in g["points"]])
        (line,) = [ln for ln in ax_eff.get_lines() if ln.get_label().endswith(": predicted")]
        self.assertEqual(list(line.get_ydata()),
                         [p["predicted_efficiency"] * 100 for p in g["points"]])
        import matplotlib.pyplot as plt
        plt.close(fig)

    def test_without_an_allreduce_file_one_line_why_and_no_curve(self):
        doc, stdout, page = self.report()
        (g,) = doc["groups"]
        self.assertEqual(g["prediction"]["status"], "not predicted")
        self.assertIn("no `scalebench allreduce` file", g["prediction"]["reason"])
        why = [line for line in stdout.splitlines() if line.startswith("predicted scaling:")]
        self.assertEqual(why, [f"predicted scaling: {g['group']}: not predicted: "
                               f"{g['prediction']['reason']}"])
        self.assertNotIn("predicted ms", stdout)
        self.assertFalse(any("predicted_step_s" in p for p in g["points"]))
        self.assertIn("not predicted: no `scalebench allreduce` file", page)
        self.assertNotIn("predicted step ms", page)
        from scalebench_results import plots
        fig = plots.efficiency_figure(doc["groups"])
        self.assertFalse([ln for ax in fig.axes for ln in ax.get_lines()
                          if "predicted" in ln.get_label()])
        import matplotlib.pyplot as plt
        plt.close(fig)

    def test_no_predict_and_a_refused_prediction_never_fail_the_report(self):
        rows = [("all", 4, s, 6 * 7e-6 + 1.5 * s * 3e-10) for s in (8, 1024, 65536, MIB)]
        write_allreduce(os.path.join(self.study, "ar.h5"), rows)
        doc, stdout, _ = self.report("--no-predict")
        self.assertNotIn("prediction", doc["groups"][0])
        self.assertNotIn("predicted scaling:", stdout)
        # a profile without bucket ready times: predict refuses, the report says so and goes on
        with h5py.File(self.runs[0], "a") as f:
            del f["buckets/ready_s"]
        doc, stdout, _ = self.report()
        (g,) = doc["groups"]
        self.assertEqual(g["prediction"]["status"], "not predicted")
        self.assertIn("results/predict refused", g["prediction"]["reason"])
        self.assertIn("ready_s", g["prediction"]["reason"])


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
@scalebench_cli.require_binary
class PredictARealRun(unittest.TestCase):
    """cifar10_cnn measured at 1 and 2 ranks, the allreduce sweep at 2: predict 2 from 1."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.runs = os.path.join(cls.tmp.name, "runs")
        os.mkdir(cls.runs)
        for n in (1, 2):
            res = scalebench_cli.run_scalebench(
                ["train", "--model", "cifar10_cnn", "--steps", "12", "--warmup-steps", "2",
                 "--batch-size", "8", "--threads", "1", "--device", "cpu", "--quiet",
                 "--output", os.path.join(cls.runs, f"c-np{n}.h5")], ranks=n, timeout=300)
            if res.returncode != 0:
                raise AssertionError(f"train at {n} ranks failed: {res.stdout}{res.stderr}")
        cls.ar = os.path.join(cls.tmp.name, "ar.h5")
        res = scalebench_cli.run_scalebench(
            ["allreduce", "-b", "1K", "-e", "4M", "-f", "4", "-w", "2", "-n", "5", "--device",
             "cpu", "-o", cls.ar], ranks=2, timeout=300)
        if res.returncode != 0:
            raise AssertionError(f"allreduce failed: {res.stdout}{res.stderr}")
        cls.out = os.path.join(cls.tmp.name, "pred")
        cls.res = run_cli(cls.runs, "--allreduce", cls.ar, "--out", cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_two_rank_prediction_within_a_loose_bound(self):
        self.assertEqual(self.res.returncode, 0, self.res.stderr)
        print(f"\n{self.res.stdout.strip()}", file=sys.stderr)
        with open(os.path.join(self.out, "prediction.json")) as f:
            result = json.load(f)
        self.assertEqual(result["profile_world_size"], 1)
        (fit,) = result["allreduce_fits"]
        self.assertEqual(fit["level"], "intra")
        self.assertGreater(fit["alpha_s"], 0)
        (c,) = [c for c in result["comparisons"] if not c["is_profile"]]
        self.assertEqual(c["world_size"], 2)
        self.assertTrue(math.isfinite(c["step_rel_error"]))
        (own,) = [c for c in result["comparisons"] if c["is_profile"]]
        print(f"1 rank measured step {own['measured_step_s']:.6g} s; 2 ranks measured "
              f"{c['measured_step_s']:.6g} s, predicted {c['predicted_step_s']:.6g} s",
              file=sys.stderr)
        # The measured figure is the file's own: the median over measured steps of the slowest
        # rank's step_s, read here independently of the tool.
        with h5py.File(c["path"], "r") as f:
            measured = f["steps/warmup"][:, 0] == 0
            slowest = np.max(f["steps/step_s"][:][measured], axis=1)
        self.assertAlmostEqual(c["measured_step_s"], float(np.median(slowest)), places=12)
        self.assertAlmostEqual(c["step_rel_error"],
                               c["predicted_step_s"] / c["measured_step_s"] - 1.0, places=12)
        # Accuracy is the bench's job (docs/prediction.md); on 2 shared cores a 2-rank step
        # varies by 2x between runs. Within a factor of 3 catches a broken pipeline (a unit,
        # a missing term, a wrong level) without failing on the machine's noise.
        for key in ("step", "wall"):
            ratio = c[f"predicted_{key}_s"] / c[f"measured_{key}_s"]
            self.assertTrue(1 / 3 < ratio < 3, (key, c))
        self.assertEqual(sorted(os.listdir(self.out)), sorted(OUTPUTS))


if __name__ == "__main__":
    unittest.main()
