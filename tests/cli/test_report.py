"""Tests of results/report and the scalebench_results package, on hand-made run files.

Run: cd tests/cli && /usr/bin/python3 -m unittest test_report
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORT = os.path.join(ROOT, "results", "report")
sys.path.insert(0, os.path.join(ROOT, "results"))
sys.path.insert(0, HERE)

import fake_runs  # noqa: E402
from fake_runs import append_steps, write_run, write_run_blocks  # noqa: E402
from scalebench_results import analysis, plots  # noqa: E402
from scalebench_results import report  # noqa: E402
from scalebench_results.report import text_table  # noqa: E402
from scalebench_results.runfile import IncompleteRun, RunFileError, load_run  # noqa: E402

MIB = 1 << 20
REL = 1e-9  # the figures below are exact up to floating-point rounding
PLOTS = ("throughput_speedup", "efficiency", "breakdown", "comm", "memory", "imbalance")


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scalebench-report-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def summary(self, **kwargs):
        return analysis.analyze_run(load_run(write_run(self.path("run.h5"), **kwargs)))


class MedianCI(unittest.TestCase):
    def test_ten_values(self):
        # n=10: P(Bin(10,1/2) <= 1) = 11/1024, so [x(2), x(9)] covers 1 - 22/1024;
        # P(<= 2) = 56/1024 would leave 0.89 < 0.95.
        med, lo, hi, cov = analysis.median_ci([5, 3, 10, 1, 7, 2, 9, 4, 8, 6])
        self.assertEqual((med, lo, hi), (5.5, 2.0, 9.0))
        self.assertAlmostEqual(cov, 1 - 22 / 1024, delta=1e-12)

    def test_too_few_values_give_min_max_with_true_coverage(self):
        med, lo, hi, cov = analysis.median_ci([0.3, 0.1, 0.5, 0.2, 0.4])
        self.assertEqual((med, lo, hi), (0.3, 0.1, 0.5))
        self.assertAlmostEqual(cov, 1 - 2 / 32, delta=1e-12)

    def test_large_n_close_to_normal_approximation(self):
        n = 10000
        lo, hi, cov = analysis.median_ci_indices(n)
        # normal approximation: n/2 -+ 1.96 sqrt(n)/2 = 5000 -+ 98
        self.assertLessEqual(abs(lo - (5000 - 98)), 2)
        self.assertEqual(hi, n - 1 - lo)
        self.assertGreaterEqual(cov, 0.95)
        self.assertLess(cov, 0.955)


class RunFigures(TempDir):
    def test_median_and_ci_of_known_step_times(self):
        s = self.summary(step_s=np.array([5, 3, 10, 1, 7, 2, 9, 4, 8, 6])[:, None] * 0.01)
        self.assertAlmostEqual(s["median_step_s"], 0.055, delta=1e-12)
        self.assertAlmostEqual(s["step_ci_low_s"], 0.02, delta=1e-12)
        self.assertAlmostEqual(s["step_ci_high_s"], 0.09, delta=1e-12)
        self.assertEqual(s["measured_steps"], 10)

    def test_max_over_ranks_warmup_excluded_and_throughput(self):
        step = np.array([[9.0, 9.0],      # warm-up: would dominate every statistic
                         [8.0, 7.0],      # warm-up
                         [0.10, 0.25],
                         [0.30, 0.15],
                         [0.20, 0.20]])
        s = self.summary(step_s=step, warmup=2, samples=16)
        # slowest rank per measured step: 0.25, 0.30, 0.20 -> median 0.25
        self.assertEqual(s["measured_steps"], 3)
        self.assertAlmostEqual(s["median_step_s"], 0.25, delta=1e-12)
        self.assertAlmostEqual(s["global_samples_per_step"], 32.0)
        self.assertAlmostEqual(s["throughput_samples_per_s"], 32 / 0.25, delta=1e-9)
        # 3 steps: the interval is [min, max] of the slowest-rank times
        self.assertAlmostEqual(s["step_ci_low_s"], 0.20)
        self.assertAlmostEqual(s["step_ci_high_s"], 0.30)

    def test_warmup_flag_per_step(self):
        # warm-up need not be leading: each step's flag counts
        s = self.summary(step_s=np.array([[1.0], [0.2], [5.0], [0.4]]), warmup=[0, 0, 1, 0])
        self.assertAlmostEqual(s["median_step_s"], 0.4)

    def test_phases_and_exposed_share(self):
        s = self.summary(
            step_s=np.full((3, 2), 0.2),
            phases={"data_s": 0.01, "forward_s": 0.05, "backward_s": 0.08,
                    "optimizer_s": 0.005,
                    "comm_exposed_s": [[0.02, 0.04], [0.04, 0.06], [0.06, 0.08]]})
        # rank averages of comm_exposed: 0.03, 0.05, 0.07 -> median 0.05; share 0.05 / 0.2
        self.assertAlmostEqual(s["median_comm_exposed_s"], 0.05, delta=1e-12)
        self.assertAlmostEqual(s["exposed_comm_share"], 0.25, delta=1e-12)
        self.assertAlmostEqual(s["median_data_s"], 0.01, delta=1e-12)
        self.assertAlmostEqual(s["median_compute_s"], 0.13, delta=1e-12)
        # what the phases' medians leave of the median step time (the former median_other_s)
        self.assertAlmostEqual(s["median_unaccounted_s"], 0.2 - 0.01 - 0.13 - 0.05 - 0.005,
                               delta=1e-12)
        self.assertEqual(s["median_other_s"], 0.0)  # the other_s field: 0 in these files

    def test_memory_peaks(self):
        rss = np.array([[100, 200], [150, 180], [120, 260]]) * MIB  # VmHWM per step
        s = self.summary(step_s=np.full((3, 2), 0.1), warmup=1, peak_rss_bytes=rss)
        # warm-up rows count for memory: the peak is the peak of the whole run
        self.assertEqual(s["peak_rss_bytes_per_rank"], [150 * MIB, 260 * MIB])
        self.assertEqual(s["peak_rss_bytes"], 260 * MIB)
        self.assertIsNone(s["peak_device_allocated_bytes"])
        s = self.summary(step_s=np.full((3, 2), 0.1), device="cuda",
                         device_peak_allocated_bytes=[3 * MIB, 5 * MIB])
        self.assertEqual(s["peak_device_allocated_bytes"], 5 * MIB)

    def test_imbalance_identifies_rank(self):
        step = np.array([[0.10, 0.10, 0.13, 0.11],
                         [0.09, 0.11, 0.14, 0.11],
                         [0.11, 0.10, 0.12, 0.10]])
        exposed = [0.01, 0.0, 0.05, 0.02]
        s = self.summary(step_s=step, phases={"comm_exposed_s": exposed})
        # per-rank medians 0.10, 0.10, 0.13, 0.11; median over ranks 0.105
        self.assertEqual(s["slowest_rank"], 2)
        self.assertAlmostEqual(s["imbalance"], 0.13 / 0.105, delta=1e-12)
        np.testing.assert_allclose(s["rank_median_step_s"], [0.10, 0.10, 0.13, 0.11], rtol=REL)
        # busy (step - exposed) medians 0.09, 0.10, 0.08, 0.09: rank 1 holds the others back
        self.assertEqual(s["busy_slowest_rank"], 1)
        self.assertAlmostEqual(s["busy_imbalance"], 0.10 / 0.09, delta=1e-12)

    def test_busbw_two_ranks_factor_one(self):
        s = self.summary(step_s=np.full((4, 2), 0.1), warmup=1, bucket_bytes=[MIB, 4 * MIB],
                         bucket_duration_s=np.broadcast_to([0.001, 0.008], (4, 2, 2)).copy())
        bw = s["allreduce_bandwidth"]
        self.assertEqual([e["bytes"] for e in bw], [MIB, 4 * MIB])
        self.assertEqual(s["busbw_factor"], 1.0)
        self.assertAlmostEqual(bw[0]["algbw_bytes_per_s"], MIB / 0.001, delta=1e-3)
        self.assertAlmostEqual(bw[0]["busbw_bytes_per_s"], MIB / 0.001, delta=1e-3)
        self.assertAlmostEqual(bw[1]["busbw_bytes_per_s"], 4 * MIB / 0.008, delta=1e-3)
        self.assertEqual(bw[0]["samples"], 3)  # measured steps: one collective each
        self.assertEqual(bw[0]["median_arrival_skew_s"], 0.0)  # the ranks agree
        self.assertEqual(s["busbw_peak_message_bytes"], MIB)

    def test_busbw_four_ranks_factor_one_and_a_half_grouped_by_size(self):
        dur = np.empty((3, 4, 3))
        dur[:, :, 0] = 0.001  # two buckets of 1 MiB: pooled median (0.001 + 0.002) / 2
        dur[:, :, 1] = 0.002
        dur[:, :, 2] = 0.004
        s = self.summary(step_s=np.full((3, 4), 0.1), bucket_bytes=[MIB, MIB, 4 * MIB],
                         bucket_duration_s=dur)
        bw = {e["bytes"]: e for e in s["allreduce_bandwidth"]}
        self.assertEqual(sorted(bw), [MIB, 4 * MIB])
        self.assertEqual(s["busbw_factor"], 1.5)
        self.assertEqual(bw[MIB]["samples"], 6)  # 3 steps x 2 buckets of 1 MiB
        self.assertAlmostEqual(bw[MIB]["median_duration_s"], 0.0015, delta=1e-15)
        self.assertAlmostEqual(bw[MIB]["algbw_bytes_per_s"], MIB / 0.0015, delta=1e-3)
        self.assertAlmostEqual(bw[MIB]["busbw_bytes_per_s"], 1.5 * MIB / 0.0015, delta=1e-3)
        self.assertAlmostEqual(bw[4 * MIB]["busbw_bytes_per_s"], 1.5 * 4 * MIB / 0.004,
                               delta=1e-3)

    def test_no_busbw_for_one_rank(self):
        s = self.summary(step_s=np.full((3, 1), 0.1), bucket_bytes=[MIB],
                         bucket_duration_s=0.001)
        self.assertEqual(s["allreduce_bandwidth"], [])
        self.assertIsNone(s["busbw_factor"])


class Groups(TempDir):
    def write_scaling_group(self, mode="weak", prefix="w"):
        # weak: 32 samples per rank; strong: a global batch of 64 split over the ranks
        common = {"warmup": 1, "mode": mode}
        samples = (lambda n: 32) if mode == "weak" else (lambda n: 64 // n)
        # weak throughputs 32*1/0.100 = 320, 32*2/0.125 = 512, 32*4/0.160 = 800 samples/s
        write_run(self.path(f"{prefix}-np1.h5"), step_s=np.full((4, 1), 0.100),
                  samples=samples(1), **common)
        # two repeats at N=2: medians 0.12 and 0.125 alone, 0.125 pooled
        write_run(self.path(f"{prefix}-np2-a.h5"), samples=samples(2), **common,
                  step_s=np.array([[1.0] * 2, [0.12] * 2, [0.12] * 2, [0.13] * 2]))
        write_run(self.path(f"{prefix}-np2-b.h5"), samples=samples(2), **common,
                  step_s=np.array([[1.0] * 2, [0.125] * 2, [0.13] * 2, [0.125] * 2]))
        write_run(self.path(f"{prefix}-np4.h5"), step_s=np.full((4, 4), 0.160),
                  samples=samples(4), **common)

    def load_groups(self):
        runs = [load_run(os.path.join(self.dir, n)) for n in sorted(os.listdir(self.dir))]
        return analysis.analyze_groups(analysis.group_runs(runs))

    def test_speedup_efficiency_weak(self):
        self.write_scaling_group()
        (g,) = self.load_groups()
        self.assertEqual(g["group"], "mlp weak cpu-t1")
        pts = {p["world_size"]: p for p in g["points"]}
        self.assertEqual(sorted(pts), [1, 2, 4])
        self.assertEqual(pts[2]["repeats"], 2)
        self.assertEqual(pts[2]["measured_steps"], 6)
        self.assertAlmostEqual(pts[2]["median_step_s"], 0.125, delta=1e-12)
        for n, x, s, e, t in ((1, 320, 1.0, 1.0, 1.0), (2, 512, 1.6, 0.8, 1.25),
                              (4, 800, 2.5, 0.625, 1.6)):
            self.assertAlmostEqual(pts[n]["throughput_samples_per_s"], x, delta=x * REL)
            self.assertAlmostEqual(pts[n]["speedup"], s, delta=REL)
            self.assertAlmostEqual(pts[n]["efficiency"], e, delta=REL)
            self.assertAlmostEqual(pts[n]["step_time_ratio"], t, delta=REL)
        self.assertEqual(pts[2]["label"], "cpu-t1-np2")

    def test_strong_has_no_step_time_ratio_and_groups_split(self):
        self.write_scaling_group(mode="weak", prefix="w")
        self.write_scaling_group(mode="strong", prefix="s")
        groups = self.load_groups()
        self.assertEqual([g["mode"] for g in groups], ["strong", "weak"])
        strong = {p["world_size"]: p for p in groups[0]["points"]}
        self.assertIsNone(strong[2]["step_time_ratio"])
        # 64 samples per step throughout: 640, 512, 400 samples/s
        self.assertAlmostEqual(strong[4]["speedup"], 400 / 640, delta=REL)
        self.assertAlmostEqual(strong[4]["efficiency"], 400 / 640 / 4, delta=REL)

    def test_different_fixed_batch_is_not_a_repeat(self):
        write_run(self.path("a.h5"), samples=32)
        write_run(self.path("b.h5"), samples=64)
        groups = self.load_groups()
        self.assertEqual(sorted(g["group"] for g in groups),
                         ["mlp weak cpu-t1-batch32", "mlp weak cpu-t1-batch64"])

    def test_mode_from_config_when_attribute_missing(self):
        path = write_run(self.path("x.h5"), attrs={"scaling_mode": ""},
                         config={"global_batch": 64})
        self.assertEqual(load_run(path).mode, "strong")
        path = write_run(self.path("run-weak-np1.h5"), attrs={"scaling_mode": ""},
                         config={"global_batch": None, "batch_size": None})
        self.assertEqual(load_run(path).mode, "weak")

    def test_hardware_comparison_and_cost(self):
        write_run(self.path("c1.h5"), step_s=np.full((3, 1), 0.2), threads=1)      # 160/s
        write_run(self.path("c4.h5"), step_s=np.full((3, 1), 0.1), threads=4)      # 320/s
        write_run(self.path("c4-np2.h5"), step_s=np.full((3, 2), 0.1), threads=4)  # 640/s
        write_run(self.path("g.h5"), step_s=np.full((3, 1), 0.02), threads=1,      # 1600/s
                  device="cuda", steps_per_epoch=0)
        groups = self.load_groups()
        comps = analysis.compare_hardware(groups, None, {"cpu-t4-np1": 3.6, "cpu-t4": 1.8,
                                                         "cuda-t1": 7.2})
        (c,) = comps
        self.assertEqual(c["baseline_label"], "cpu-t1-np1")  # cpu, fewest threads and ranks
        e = {x["label"]: x for x in c["entries"]}
        self.assertAlmostEqual(e["cpu-t4-np1"]["speedup_vs_baseline"], 2.0, delta=REL)
        self.assertAlmostEqual(e["cuda-t1-np1"]["speedup_vs_baseline"], 10.0, delta=REL)
        # epoch = 100 steps x 32 samples = 3200 samples; at 320/s 10 s; 3.6 USD/h -> 0.01 USD
        self.assertAlmostEqual(e["cpu-t4-np1"]["cost_per_epoch_usd"], 0.01, delta=1e-12)
        self.assertAlmostEqual(e["cpu-t4-np1"]["cost_per_1e6_samples_usd"],
                               1e6 / 320 / 3600 * 3.6, delta=1e-12)
        # hardware-label price is per rank: 2 x 1.8 USD/h; epoch 100 x 64 samples at 640/s
        self.assertAlmostEqual(e["cpu-t4-np2"]["price_usd_per_hour"], 3.6, delta=1e-12)
        self.assertAlmostEqual(e["cpu-t4-np2"]["cost_per_epoch_usd"], 0.01, delta=1e-12)
        # epoch size unknown: per 1e6 samples only
        self.assertIsNone(e["cuda-t1-np1"]["cost_per_epoch_usd"])
        self.assertAlmostEqual(e["cuda-t1-np1"]["cost_per_1e6_samples_usd"],
                               1e6 / 1600 / 3600 * 7.2, delta=1e-12)
        self.assertIsNone(e["cpu-t1-np1"]["price_usd_per_hour"])

        comps = analysis.compare_hardware(self.load_groups(), "cpu-t4", {})
        e = {x["label"]: x for x in comps[0]["entries"]}
        self.assertEqual(comps[0]["baseline_label"], "cpu-t4-np1")
        self.assertAlmostEqual(e["cpu-t1-np1"]["speedup_vs_baseline"], 0.5, delta=REL)
        with self.assertRaises(analysis.BadOption):
            analysis.compare_hardware(self.load_groups(), "tpu-t1", {})

    def test_parse_price(self):
        self.assertEqual(analysis.parse_price("cpu-t8=0.40"), ("cpu-t8", 0.4))
        for bad in ("cpu-t8", "=1", "cpu-t8=abc", "cpu-t8=-1", "x=nan"):
            with self.assertRaises(analysis.BadOption, msg=bad):
                analysis.parse_price(bad)


# weak scaling at 2 ranks per node, 32 samples per rank: throughputs 64/0.100 = 640,
# 128/0.125 = 1024, 256/0.160 = 1600 samples/s; speedups 1, 1.6, 2.5; efficiencies 1, 0.8, 0.625
NODE_STEP_S = {1: 0.100, 2: 0.125, 4: 0.160}


def write_node_study(study, nodes=(1, 2, 4), per_node=2, **kwargs):
    """STUDY/nodes-<K>/ as slurm/study-nodes.sh lays it out: one run per node count."""
    paths = []
    for k in nodes:
        n = k * per_node
        name = f"{kwargs.get('model', 'mlp')}-cpu-weak-np{n}-t1-r1.h5"
        os.makedirs(os.path.join(study, f"nodes-{k}"), exist_ok=True)
        paths.append(write_run(
            os.path.join(study, f"nodes-{k}", name),
            step_s=np.full((4, n), NODE_STEP_S.get(k, 0.1)), warmup=1, nodes=k,
            ranks_per_node=per_node, bucket_bytes=[MIB, 4 * MIB],
            bucket_duration_s=0.002 if n > 1 else 0.0, **kwargs))
    return paths


def groups_of(paths):
    return analysis.analyze_groups(analysis.group_runs([load_run(p) for p in paths]))


class Nodes(TempDir):
    def test_node_study_is_one_group_against_nodes(self):
        (g,) = groups_of(write_node_study(self.dir))
        self.assertEqual(g["group"], "mlp weak cpu-t1")
        self.assertEqual(g["x_axis"], "nodes")
        self.assertEqual((g["baseline_nodes"], g["baseline_world_size"]), (1, 2))
        pts = g["points"]
        self.assertEqual([(p["nodes"], p["world_size"], p["ranks_per_node"]) for p in pts],
                         [(1, 2, 2), (2, 4, 2), (4, 8, 2)])
        self.assertEqual([p["hosts"] for p in pts],
                         [["node0"], ["node0", "node1"], [f"node{i}" for i in range(4)]])
        self.assertEqual([p["crosses_nodes"] for p in pts], [False, True, True])
        self.assertEqual([p["buckets_crossing_nodes"] for p in pts], [0, 2, 2])
        self.assertEqual([p["label"] for p in pts],
                         ["cpu-t1-np2", "cpu-t1-nodes2-np4", "cpu-t1-nodes4-np8"])
        for p, x, s, e in zip(pts, (640, 1024, 1600), (1.0, 1.6, 2.5), (1.0, 0.8, 0.625)):
            self.assertAlmostEqual(p["throughput_samples_per_s"], x, delta=x * REL)
            self.assertAlmostEqual(p["speedup"], s, delta=REL)
            self.assertAlmostEqual(p["efficiency"], e, delta=REL)
            self.assertEqual(p["baseline_nodes"], 1)

    def test_single_node_study_keeps_the_ranks_axis(self):
        paths = [write_run(self.path(f"np{n}.h5"), step_s=np.full((3, n), 0.1))
                 for n in (1, 2, 4)]
        (g,) = groups_of(paths)
        self.assertEqual(g["x_axis"], "ranks")
        self.assertEqual([(p["nodes"], p["ranks_per_node"], p["hosts"], p["crosses_nodes"])
                          for p in g["points"]],
                         [(1, n, ["node0"], False) for n in (1, 2, 4)])
        self.assertEqual([p["label"] for p in g["points"]],
                         ["cpu-t1-np1", "cpu-t1-np2", "cpu-t1-np4"])
        table = text_table([g], [])
        self.assertNotIn("x-node", table)
        self.assertIn("(speedup over N=1)", table)

    def test_older_files_without_node_datasets(self):
        paths = write_node_study(self.dir, node_datasets=False)
        run = load_run(paths[1])
        self.assertIsNone(run.bucket_spans_nodes)
        self.assertNotIn("node_index", run.ranks)
        (g,) = groups_of(paths)
        self.assertEqual(g["x_axis"], "nodes")
        self.assertEqual([p["crosses_nodes"] for p in g["points"]], [False, True, True])
        self.assertEqual([p["buckets_crossing_nodes"] for p in g["points"]], [None] * 3)

    def test_nodes_counted_from_ranks_where_attributes_are_missing(self):
        a = write_run(self.path("a.h5"), step_s=np.full((3, 6), 0.1), nodes=2, ranks_per_node=4)
        b = write_run(self.path("b.h5"), step_s=np.full((3, 6), 0.1), nodes=2, ranks_per_node=4,
                      node_datasets=False)
        for path in (a, b):
            with h5py.File(path, "a") as f:
                del f.attrs["nodes"]
                del f.attrs["ranks_per_node"]
        for path in (a, b):  # node_index (newer files), else hostnames: ranks 0-3, 4-5
            top = analysis.run_topology(load_run(path))
            self.assertEqual((top["nodes"], top["ranks_per_node"]), (2, 4), path)
            self.assertEqual(top["hosts"], ["node0", "node1"])
            self.assertTrue(top["crosses_nodes"])

    def test_spans_nodes_decides_crossing(self):
        run = lambda name, spans: load_run(write_run(  # noqa: E731
            self.path(name), step_s=np.full((3, 4), 0.1), nodes=2, bucket_bytes=[MIB, MIB],
            bucket_duration_s=0.001, spans_nodes=spans))
        self.assertEqual(analysis.crosses_nodes(run("a.h5", [0, 1])), (True, 1))
        # e.g. a hierarchical allreduce whose buckets all stayed within a node
        self.assertEqual(analysis.crosses_nodes(run("b.h5", [0, 0])), (False, 0))

    def test_same_ranks_spread_over_more_nodes_is_a_node_series(self):
        paths = [write_run(self.path("n1.h5"), step_s=np.full((3, 4), 0.10), nodes=1),
                 write_run(self.path("n2.h5"), step_s=np.full((3, 4), 0.125), nodes=2)]
        (g,) = groups_of(paths)
        self.assertEqual(g["x_axis"], "nodes")
        self.assertEqual([(p["nodes"], p["world_size"], p["repeats"]) for p in g["points"]],
                         [(1, 4, 1), (2, 4, 1)])  # not pooled as repeats
        self.assertAlmostEqual(g["points"][1]["speedup"], 0.8, delta=REL)
        self.assertAlmostEqual(g["points"][1]["efficiency"], 0.8, delta=REL)

    def test_single_node_sweep_and_nodes_beyond_it_stay_on_the_ranks_axis(self):
        paths = [write_run(self.path(f"np{n}.h5"), step_s=np.full((3, n), 0.1))
                 for n in (1, 2, 4)]
        paths += write_node_study(os.path.join(self.dir, "s"), nodes=(2, 4), per_node=4)
        (g,) = groups_of(paths)
        self.assertEqual(g["x_axis"], "ranks")
        self.assertEqual([(p["nodes"], p["world_size"]) for p in g["points"]],
                         [(1, 1), (1, 2), (1, 4), (2, 8), (4, 16)])
        self.assertIn("x-node", text_table([g], []))

    def test_two_ranks_per_node_series_split(self):
        paths = write_node_study(os.path.join(self.dir, "a"), per_node=2)
        paths += write_node_study(os.path.join(self.dir, "b"), per_node=4)
        groups = groups_of(paths)
        self.assertEqual([g["group"] for g in groups],
                         ["mlp weak cpu-t1-rpn2", "mlp weak cpu-t1-rpn4"])
        for g, per_node in zip(groups, (2, 4)):
            self.assertEqual(g["x_axis"], "nodes")
            self.assertEqual([(p["nodes"], p["world_size"]) for p in g["points"]],
                             [(k, k * per_node) for k in (1, 2, 4)])

    def test_throughput_plot_x_axis(self):
        fig = plots.throughput_speedup_figure(groups_of(write_node_study(self.dir)))
        ax = fig.axes[0]
        self.assertEqual(ax.get_xlabel(), "nodes (ranks below)")
        self.assertEqual(list(ax.get_xticks()), [1, 2, 4])
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()],
                         ["1 node\n2 ranks", "2 nodes\n4 ranks", "4 nodes\n8 ranks"])
        plt.close(fig)
        single = [write_run(self.path(f"np{n}.h5"), step_s=np.full((3, n), 0.1))
                  for n in (1, 2, 4)]
        fig = plots.throughput_speedup_figure(groups_of(single))
        self.assertEqual(len(fig.axes), 2)
        self.assertEqual(fig.axes[0].get_xlabel(), "ranks N")
        self.assertEqual(list(fig.axes[0].get_xticks()), [1, 2, 4])
        plt.close(fig)
        # both kinds in one study: a row of panels each, ranks first
        fig = plots.throughput_speedup_figure(groups_of(
            single + write_node_study(os.path.join(self.dir, "s"), model="cnn")))
        self.assertEqual([ax.get_xlabel() for ax in fig.axes],
                         ["ranks N", "ranks N", "nodes (ranks below)", "nodes (ranks below)"])
        plt.close(fig)


def by_hand_busbw(dur, bytes_, rows, world):
    """Bus bandwidth per size computed directly: per row and bucket the fastest rank's
    duration > 0 (rows and buckets without one left out), then the median over the rows and
    buckets of that size: (collectives counted, busbw)."""
    out = {}
    for nbytes in sorted(set(bytes_)):
        cols = [b for b, x in enumerate(bytes_) if x == nbytes]
        d = np.where(dur[rows][:, :, cols] > 0, dur[rows][:, :, cols], np.inf).min(axis=1)
        d = d[np.isfinite(d)].ravel()
        out[nbytes] = (d.size, nbytes / np.median(d) * 2 * (world - 1) / world)
    return out


class BucketSubset(TempDir):
    """--record-buckets every:K: bucket rows only for steps s % K == 0, named by /buckets/step."""

    def write(self, name, every=1, old_layout=False, warmup=3, n=22, world=4):
        rng = np.random.default_rng(7)
        self.dur = rng.random((n, world, 3)) * 0.01
        self.dur[rng.random(self.dur.shape) < 0.1] = 0.0  # not recorded: left out
        self.bytes = [MIB, MIB, 4 * MIB]
        return write_run(self.path(name), step_s=0.1 + 0.01 * rng.random((n, world)),
                         warmup=warmup, bucket_bytes=self.bytes, bucket_duration_s=self.dur,
                         bucket_every=every, bucket_step_dataset=not old_layout)

    def test_every_four_matches_the_sampled_rows_by_hand(self):
        run = load_run(self.write("k4.h5", every=4))
        self.assertEqual(run.bucket_every, 4)
        np.testing.assert_array_equal(run.bucket_step, [0, 4, 8, 12, 16, 20])
        self.assertEqual(run.bucket_duration_s.shape, (6, 4, 3))
        s = analysis.analyze_run(run)
        # steps 0..2 are warm-up: of the sampled steps 0, 4, ..., 20, step 0 is left out
        expected = by_hand_busbw(self.dur, self.bytes, [4, 8, 12, 16, 20], 4)
        bw = {e["bytes"]: e for e in s["allreduce_bandwidth"]}
        self.assertEqual(sorted(bw), sorted(expected))
        for nbytes, (count, busbw) in expected.items():
            self.assertEqual(bw[nbytes]["samples"], count)
            self.assertAlmostEqual(bw[nbytes]["busbw_bytes_per_s"], busbw, delta=busbw * REL)
        self.assertEqual(s["measured_steps"], 19)  # the step figures use every step
        self.assertEqual(s["bucket_every"], 4)

    def test_warmup_flags_follow_the_bucket_rows_step(self):
        # warm-up flags not leading: step 8 (sampled) is a warm-up step, step 9 (not sampled) too
        flags = [0] * 22
        flags[8] = flags[9] = 1
        s = analysis.analyze_run(load_run(self.write("k4.h5", every=4, warmup=flags)))
        expected = by_hand_busbw(self.dur, self.bytes, [0, 4, 12, 16, 20], 4)
        for e in s["allreduce_bandwidth"]:
            count, busbw = expected[e["bytes"]]
            self.assertEqual(e["samples"], count)
            self.assertAlmostEqual(e["busbw_bytes_per_s"], busbw, delta=busbw * REL)

    def test_older_layout_and_every_one_agree(self):
        new = analysis.analyze_run(load_run(self.write("new.h5")))
        old_run = load_run(self.write("old.h5", old_layout=True))
        self.assertIsNone(old_run.bucket_every)
        old = analysis.analyze_run(old_run)
        np.testing.assert_array_equal(old_run.bucket_step, np.arange(22))
        self.assertEqual(old["allreduce_bandwidth"], new["allreduce_bandwidth"])
        expected = by_hand_busbw(self.dur, self.bytes, list(range(3, 22)), 4)
        for e in new["allreduce_bandwidth"]:
            self.assertEqual((e["samples"], e["busbw_bytes_per_s"]), expected[e["bytes"]])

    def test_bucket_rows_must_match_their_steps(self):
        path = self.write("bad.h5", every=4)
        with h5py.File(path, "a") as f:
            f["buckets/step"].resize(5, axis=0)  # 6 rows of durations, 5 steps named
        with self.assertRaisesRegex(RunFileError, "/buckets/start_s has shape"):
            load_run(path)


class Sketches(TempDir):
    """Beyond EXACT_RANK_STEPS / EXACT_BUCKET_VALUES the per-rank medians and the bucket
    medians come from sketches, made exact again by re-reading slices (without that: within
    the sketches' accuracy)."""
    SAVED = ("EXACT_RANK_STEPS", "EXACT_BUCKET_VALUES", "REFINE_RANK_MEDIANS",
             "REFINE_BUCKET_MEDIANS", "REFINE_COLLECT")

    def setUp(self):
        super().setUp()
        self.saved = {name: getattr(analysis, name) for name in self.SAVED}

    def tearDown(self):
        for name, value in self.saved.items():
            setattr(analysis, name, value)
        super().tearDown()

    def test_refined_rank_medians_are_exact(self):
        paths = [self.write("a.h5", 1), self.write("b.h5", 2)]
        rng = np.random.default_rng(5)
        constant = np.full((40, 3), 0.25)      # every value in one bin, all equal
        tight = 0.2 + 1e-9 * rng.integers(0, 5, (41, 3))  # a few distinct values in one bin
        paths += [write_run(self.path("c.h5"), step_s=constant, model="c"),
                  write_run(self.path("t.h5"), step_s=tight, model="t",
                            phases={"comm_exposed_s": 0.0})]
        exact = {(g["model"], p["world_size"]): p for g in groups_of(paths) for p in g["points"]}
        analysis.EXACT_RANK_STEPS = analysis.EXACT_BUCKET_VALUES = 0
        for collect in (1 << 20, 4):  # collected at once; binned over several reads first
            analysis.REFINE_COLLECT = collect
            got = groups_of(paths)
            for g in got:
                for p in g["points"]:
                    e = exact[(g["model"], p["world_size"])]
                    self.assertTrue(p["rank_medians_exact"], (g["model"], collect))
                    self.assertTrue(p["bucket_durations_exact"], (g["model"], collect))
                    for key in ("rank_median_step_s", "imbalance", "slowest_rank",
                                "busy_imbalance", "busy_slowest_rank", "allreduce_bandwidth",
                                "busbw_peak_message_bytes"):
                        self.assertEqual(p[key], e[key], (g["model"], key, collect))

    def write(self, name, seed):
        rng = np.random.default_rng(seed)
        step = 0.1 * (1 + rng.random((301, 6)) * np.arange(1, 7) / 10)
        return write_run(self.path(name), step_s=step, warmup=2,
                         phases={"comm_exposed_s": step * rng.random(step.shape) * 0.3},
                         bucket_bytes=[MIB, 2 * MIB],
                         bucket_duration_s=rng.lognormal(-6, 0.5, (301, 6, 2)))

    def test_sketched_figures_close_to_exact(self):
        paths = [self.write("a.h5", 1), self.write("b.h5", 2)]
        exact = groups_of(paths)[0]["points"][0]
        analysis.EXACT_RANK_STEPS = analysis.EXACT_BUCKET_VALUES = 0
        analysis.REFINE_RANK_MEDIANS = analysis.REFINE_BUCKET_MEDIANS = False
        runs = [load_run(p) for p in paths]
        self.assertFalse(analysis.analyze_run(runs[0])["rank_medians_exact"])
        approx = analysis.analyze_groups(analysis.group_runs(runs))[0]["points"][0]
        self.assertEqual(approx["repeats"], 2)
        self.assertFalse(approx["rank_medians_exact"])
        self.assertFalse(approx["bucket_durations_exact"])
        for key in ("median_step_s", "step_ci_low_s", "step_ci_high_s", "median_data_s",
                    "throughput_samples_per_s", "measured_steps"):
            self.assertEqual(approx[key], exact[key], key)  # per-step figures stay exact
        self.assertAlmostEqual(approx["comm_concurrent_share"], exact["comm_concurrent_share"],
                               delta=1e-12)
        np.testing.assert_allclose(approx["rank_median_step_s"], exact["rank_median_step_s"],
                                   rtol=analysis.RANK_SKETCH_ALPHA)
        self.assertEqual(approx["slowest_rank"], exact["slowest_rank"])
        self.assertAlmostEqual(approx["imbalance"], exact["imbalance"],
                               delta=2.5 * analysis.RANK_SKETCH_ALPHA)
        for a, e in zip(approx["allreduce_bandwidth"], exact["allreduce_bandwidth"]):
            self.assertEqual((a["bytes"], a["samples"]), (e["bytes"], e["samples"]))
            self.assertAlmostEqual(a["busbw_bytes_per_s"] / e["busbw_bytes_per_s"], 1.0,
                                   delta=analysis.BUCKET_SKETCH_ALPHA)

    def test_log_sketch_medians_zeros_and_merge(self):
        rng = np.random.default_rng(3)
        a = rng.lognormal(0, 1, (1001, 5))
        a[:300, 0] = 0.0  # values <= 0 count as 0
        b = rng.lognormal(3, 1, (600, 5))  # centred elsewhere: merged with a shift
        sa = analysis.LogSketch(5, 1e-3, 4096, positive_only=False)
        sa.add_columns(a)
        sb = analysis.LogSketch(5, 1e-3, 4096, positive_only=False)
        sb.add_columns(b)
        np.testing.assert_allclose(sa.medians(), np.median(a, axis=0), rtol=1e-3)
        sa.merge(sb)
        both = np.concatenate([a, b])
        np.testing.assert_array_equal(sa.count(), [1601] * 5)
        np.testing.assert_allclose(sa.medians(), np.median(both, axis=0), rtol=1e-3)


class LargeRun(TempDir):
    """The report reads a large run in slices: its memory stays well under the file's."""
    WORLD, STEPS, SIZES = 64, 40000, (MIB, 2 * MIB, 4 * MIB, 8 * MIB)

    def block(self, start, stop):
        rng = np.random.default_rng(start)
        rows = stop - start
        step = 0.1 + 0.02 * rng.random((rows, self.WORLD))
        step[:, 5] *= 1.01  # a slow rank
        return {"step_s": step, "warmup": 5 if start == 0 else 0,
                "phases": {"comm_exposed_s": step * (0.05 + 0.1 * rng.random(step.shape))},
                "bucket_duration_s": (0.001 * (1 + rng.random((rows, self.WORLD, 4)))
                                      * np.array([1, 2, 4, 8]))}

    def test_large_run_in_bounded_memory(self):
        study = self.path("study")
        os.makedirs(study)
        path = write_run_blocks(os.path.join(study, "big.h5"), self.STEPS, 4096, self.block,
                                bucket_bytes=list(self.SIZES), bucket_every=2)
        with h5py.File(path, "r") as f:
            dense = (sum(ds.size * ds.dtype.itemsize for ds in f["steps"].values())
                     + sum(f["buckets"][n].size * 8 for n in ("start_s", "duration_s")))
        out = self.path("out")
        # a child of its own, so that RUSAGE_CHILDREN sees the report (and the wrapper's
        # Python probes) only
        probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
                 "sys.exit(r.returncode)")
        r = subprocess.run([sys.executable, "-c", probe, REPORT, study, "--out", out,
                            "--format", "png"], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        peak = int(r.stdout.strip().splitlines()[-1]) * 1024  # KiB on Linux
        allowance = 160 * MIB  # Python, numpy, h5py and matplotlib themselves
        self.assertLess(peak, dense / 4 + allowance,
                        f"peak RSS {peak / MIB:.0f} MiB; dense data {dense / MIB:.0f} MiB")
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            (got,) = json.load(f)["runs"]

        # the same figures straight from the file with numpy
        with h5py.File(path, "r") as f:
            measured = f["steps/warmup"][:, 0] == 0
            step = f["steps/step_s"][()][measured]
            exposed = f["steps/comm_exposed_s"][()][measured]
            busy_total = f["steps/comm_busy_s"][()][measured].sum()
            bstep = f["buckets/step"][()]
            dur = f["buckets/duration_s"][()]
        slowest = step.max(axis=1)
        med, lo, hi, _ = analysis.median_ci(slowest)
        self.assertEqual(got["measured_steps"], self.STEPS - 5)
        self.assertAlmostEqual(got["median_step_s"], med, delta=1e-15)
        self.assertAlmostEqual(got["step_ci_low_s"], lo, delta=1e-15)
        self.assertAlmostEqual(got["step_ci_high_s"], hi, delta=1e-15)
        self.assertAlmostEqual(got["median_comm_exposed_s"], np.median(exposed.mean(axis=1)),
                               delta=1e-15)
        self.assertAlmostEqual(got["comm_concurrent_share"], 1 - exposed.sum() / busy_total,
                               delta=1e-12)
        # beyond EXACT_RANK_STEPS: sketched, then made exact by re-reading
        self.assertGreater(self.STEPS * self.WORLD, analysis.EXACT_RANK_STEPS)
        rank_medians = np.median(step, axis=0)
        self.assertEqual(got["rank_median_step_s"], rank_medians.tolist())
        self.assertEqual(got["slowest_rank"], 5)
        self.assertEqual(got["imbalance"], rank_medians.max() / np.median(rank_medians))
        busy = np.median(step - exposed, axis=0)
        self.assertEqual(got["busy_imbalance"], busy.max() / np.median(busy))
        self.assertTrue(got["rank_medians_exact"])
        self.assertTrue(got["bucket_durations_exact"])
        self.assertEqual(got["bucket_every"], 2)
        # beyond EXACT_BUCKET_VALUES: sketched, then made exact by re-reading
        self.assertGreater(dur.size, analysis.EXACT_BUCKET_VALUES)
        expected = by_hand_busbw(dur, list(self.SIZES), bstep >= 5, self.WORLD)
        for e in got["allreduce_bandwidth"]:
            count, busbw = expected[e["bytes"]]
            self.assertEqual(e["samples"], count)
            self.assertAlmostEqual(e["busbw_bytes_per_s"], busbw, delta=busbw * REL)


class Loading(TempDir):
    def test_refuses_foreign_format(self):
        path = write_run(self.path("x.h5"), format_name="other-tool")
        with self.assertRaisesRegex(RunFileError, "not a scalebench run file"):
            load_run(path)

    def test_refuses_newer_schema(self):
        path = write_run(self.path("x.h5"), schema_version=4)
        with self.assertRaisesRegex(RunFileError, "schema_version 4 is newer"):
            load_run(path)

    def test_incomplete_runs(self):
        with self.assertRaisesRegex(IncompleteRun, "partial"):
            load_run(write_run(self.path("x.h5.partial"), status="running"))
        with self.assertRaisesRegex(IncompleteRun, "failed"):
            load_run(write_run(self.path("y.h5"), status="failed"))
        run = load_run(self.path("y.h5"), allow_incomplete=True)
        self.assertEqual(run.status, "failed")

    def test_reads_layout(self):
        run = load_run(write_run(self.path("x.h5"), step_s=np.full((5, 3), 0.1), warmup=2,
                                 bucket_bytes=[10, 20], bucket_duration_s=0.5, threads=4))
        self.assertEqual((run.world_size, run.n_steps, run.threads), (3, 5, 4))
        self.assertEqual(run.steps["warmup"].dtype, np.int64)
        self.assertEqual(run.bucket_duration_s.shape, (5, 3, 2))
        self.assertEqual(list(run.ranks["hostname"]), ["node0"] * 3)
        self.assertIsInstance(run.attrs["world_size"], int)
        self.assertEqual(run.config["threads"], 4)
        self.assertEqual(run.epoch_samples(), 100 * 96)


class Cli(TempDir):
    def report(self, *args, env=None):
        return subprocess.run([REPORT, *args], capture_output=True, text=True,
                              env=env or os.environ.copy(), timeout=300)

    def test_end_to_end(self):
        MB = MIB
        for n in (1, 2, 4):
            steps = np.full((6, n), 0.1 + 0.01 * n)
            steps[:, n - 1] += 0.005  # last rank a bit slower
            write_run(self.path(f"mlp-weak-np{n}.h5"), step_s=steps, warmup=2,
                      bucket_bytes=[MB, 4 * MB], bucket_duration_s=0.002 if n > 1 else 0.0)
        write_run(self.path("mlp-weak-np8.h5.partial"), step_s=np.full((2, 8), 0.1),
                  status="interrupted")
        out = self.path("out")
        r = self.report(self.dir, "--out", out, "--price", "cpu-t1=0.5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("skipped", r.stderr)
        self.assertIn("mlp-weak-np8.h5.partial", r.stderr)
        self.assertIn("median step ms", r.stdout)
        self.assertIn("mlp weak cpu-t1", r.stdout)
        for name in PLOTS:
            with open(os.path.join(out, name + ".png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)
            with open(os.path.join(out, name + ".svg"), encoding="utf-8") as f:
                self.assertIn("<svg", f.read(), name)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(len(doc["runs"]), 3)
        self.assertEqual(len(doc["skipped"]), 1)
        (g,) = doc["groups"]
        pts = {p["world_size"]: p for p in g["points"]}
        # slowest rank 0.1 + 0.01 n + 0.005; 32 samples per rank
        for n in (1, 2, 4):
            self.assertAlmostEqual(pts[n]["median_step_s"], 0.105 + 0.01 * n, delta=1e-12)
            self.assertAlmostEqual(pts[n]["throughput_samples_per_s"],
                                   32 * n / (0.105 + 0.01 * n), delta=1e-6)
            self.assertEqual(pts[n]["slowest_rank"], n - 1)
            self.assertAlmostEqual(pts[n]["price_usd_per_hour"], 0.5 * n)
        self.assertAlmostEqual(pts[4]["speedup"], (128 / 0.145) / (32 / 0.115), delta=1e-9)
        self.assertAlmostEqual(pts[4]["allreduce_bandwidth"][0]["busbw_bytes_per_s"],
                               1.5 * MB / 0.002, delta=1e-3)
        with open(os.path.join(out, "summary.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(sorted(r["kind"] for r in rows), ["group"] * 3 + ["run"] * 3)
        row = next(r for r in rows if r["kind"] == "group" and r["world_size"] == "2")
        self.assertAlmostEqual(float(row["median_step_s"]), 0.125, delta=1e-12)
        self.assertEqual(row["label"], "cpu-t1-np2")

    def test_node_study_end_to_end(self):
        write_node_study(self.dir)
        out = self.path("out")
        r = self.report(self.dir, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("against nodes; speedup over 1 node, N=2", r.stdout)
        self.assertIn("x-node", r.stdout)
        for name in PLOTS:
            self.assertTrue(os.path.getsize(os.path.join(out, name + ".png")) > 0, name)
            self.assertTrue(os.path.getsize(os.path.join(out, name + ".svg")) > 0, name)
        with open(os.path.join(out, "summary.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            for column in ("nodes", "ranks_per_node", "world_size", "hosts", "crosses_nodes"):
                self.assertNotEqual(row[column], "", (column, row["kind"], row["file"]))
        groups = [r for r in rows if r["kind"] == "group"]
        self.assertEqual([(int(r["nodes"]), int(r["world_size"]), int(r["ranks_per_node"]))
                          for r in groups], [(1, 2, 2), (2, 4, 2), (4, 8, 2)])
        self.assertEqual([r["hosts"] for r in groups],
                         ["node0", "node0;node1", "node0;node1;node2;node3"])
        self.assertEqual([r["crosses_nodes"] for r in groups], ["0", "1", "1"])
        self.assertEqual({r["x_axis"] for r in groups}, {"nodes"})
        self.assertEqual(sorted(int(r["nodes"]) for r in rows if r["kind"] == "run"), [1, 2, 4])
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            doc = json.load(f)
        (g,) = doc["groups"]
        self.assertEqual(g["x_axis"], "nodes")
        self.assertEqual([p["nodes"] for p in g["points"]], [1, 2, 4])
        self.assertEqual([p["speedup"] for p in g["points"]][0], 1.0)
        self.assertEqual(sorted(r["crosses_nodes"] for r in doc["runs"]), [False, True, True])
        self.assertEqual(sorted(len(r["hosts"]) for r in doc["runs"]), [1, 2, 4])

    def test_single_node_table_unchanged(self):
        for n in (1, 2):
            write_run(self.path(f"np{n}.h5"), step_s=np.full((3, n), 0.1))
        r = self.report(self.dir, "--no-plots")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "mlp weak cpu-t1  (speedup over N=1)")
        self.assertTrue(lines[1].startswith("   N  median step ms [95% CI]"), lines[1])
        self.assertTrue(lines[2].startswith("   1  100.00 [100.00, 100.00]"), lines[2])

    def test_out_of_memory_runs_are_results_and_other_modes_are_not_scaling_points(self):
        write_run(self.path("mlp-np1.h5"), world_size=1)
        write_run(self.path("mlp-np2.h5"), world_size=2)
        write_run(self.path("mlp-np4.h5.partial"), world_size=4, n_steps=3, status="oom",
                  attrs={"oom_step": 3, "oom_ranks": "1,3", "oom_batch_per_rank": 32,
                         "oom_peak_rss_bytes": 5 * MIB, "oom_device_peak_allocated_bytes": -1})
        write_run(self.path("search.h5"), world_size=2, attrs={"mode": "find_max_batch"})
        out = self.path("out")
        r = self.report(self.dir, "--out", out, "--no-plots")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("out of memory: mlp on 4 rank(s), batch 32/rank, at step 3 on rank(s) 1,3", r.stdout)
        self.assertIn("mode find_max_batch, not a training run", r.stderr)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(len(doc["runs"]), 2)
        (oom,) = doc["out_of_memory"]
        self.assertEqual((oom["world_size"], oom["step"], oom["ranks"]), (4, 3, "1,3"))

    def test_files_as_arguments_and_svg_only(self):
        a = write_run(self.path("a.h5"), world_size=1)
        b = write_run(self.path("b.h5"), world_size=2)
        r = self.report(a, b, "--format", "svg")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.path("summary.json")))
        self.assertTrue(os.path.exists(self.path("comm.svg")))
        self.assertFalse(os.path.exists(self.path("comm.png")))

    def assert_bad_input(self, r, text):
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(text, lines[0])

    def test_refuses_foreign_format_and_newer_schema(self):
        write_run(self.path("ok.h5"))
        write_run(self.path("foreign.h5"), format_name="something-else")
        self.assert_bad_input(self.report(self.dir), "not a scalebench run file")
        os.remove(self.path("foreign.h5"))
        write_run(self.path("future.h5"), schema_version=4)
        self.assert_bad_input(self.report(self.dir), "schema_version 4")

    def test_unreadable_file(self):
        with open(self.path("junk.h5"), "w") as f:
            f.write("not hdf5")
        self.assert_bad_input(self.report(self.dir), "cannot be read as HDF5")

    def test_empty_directory(self):
        self.assert_bad_input(self.report(self.dir), "no run files")

    def test_only_incomplete_runs(self):
        write_run(self.path("a.h5.partial"), status="running")
        r = self.report(self.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no completed runs", r.stderr)
        self.assertIn("a.h5.partial", r.stderr)

    def test_bad_price_and_unknown_label(self):
        write_run(self.path("a.h5"))
        self.assert_bad_input(self.report(self.dir, "--price", "cpu-t1:3"), "bad --price")
        self.assert_bad_input(self.report(self.dir, "--price", "tpu=3"), "unknown label 'tpu'")

    def test_wrapper_without_usable_python(self):
        # The wrapper's last resort is /usr/bin/python3; point it nowhere to see the message.
        with open(REPORT, encoding="utf-8") as f:
            script = f.read().replace("/usr/bin/python3", "/nonexistent/python3")
        fake = self.path("report")
        with open(fake, "w", encoding="utf-8") as f:
            f.write(script)
        os.chmod(fake, 0o755)
        env = dict(os.environ, PATH="/nonexistent", SCALEBENCH_PYTHON="/nonexistent/py")
        r = subprocess.run(["/bin/bash", fake, self.dir], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("python3-h5py python3-numpy python3-matplotlib", r.stderr)

    def test_wrapper_prefers_scalebench_python(self):
        write_run(self.path("a.h5"))
        env = dict(os.environ, SCALEBENCH_PYTHON=sys.executable)
        r = self.report(self.dir, "--no-plots", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.path("summary.csv")))


class SchemaV3(TempDir):
    """Schema version 3: control_s, buffer_sync_s, buffer_sync_bytes, wall_s, other_s,
    start_time_s."""
    NEW = ("control_s", "buffer_sync_s", "buffer_sync_bytes", "wall_s", "other_s",
           "start_time_s")

    def v3(self, name="v3.h5", **kwargs):
        rng = np.random.default_rng(11)
        step = 0.1 + 0.01 * rng.random((6, 2))
        phases = {"buffer_sync_s": 0.004, "control_s": 0.001 + 0.001 * rng.random((6, 2)),
                  "other_s": 0.02 + 0.01 * rng.random((6, 2))}
        return write_run(self.path(name), step_s=step, phases=phases, buffer_sync_bytes=4096,
                         bucket_bytes=[MIB], bucket_duration_s=0.001, **kwargs)

    def test_fake_files_are_version_3_and_consistent(self):
        path = self.v3()
        run = load_run(path)
        self.assertEqual(run.schema_version, 3)
        self.assertTrue(run.has_wall)
        with h5py.File(path, "r") as f:
            st = {k: f["steps"][k][()] for k in f["steps"]}
            for name in self.NEW:
                self.assertIn(name, f["steps"])
            self.assertEqual(f["steps/wall_s"].attrs["unit"], "s")
            self.assertEqual(f["steps/buffer_sync_bytes"].dtype, np.int64)
            self.assertEqual(f.attrs["blas"], "OpenBLAS 0.3.21 (openmp)")
            self.assertIn("summary_comm_concurrent_share", f.attrs)
            self.assertNotIn("summary_comm_overlap", f.attrs)
        phases = sum(st[p] for p in fake_runs.PHASES_V3)
        np.testing.assert_allclose(phases, st["step_s"], rtol=1e-12)
        np.testing.assert_allclose(st["wall_s"], phases + st["control_s"] + st["other_s"],
                                   rtol=1e-12)
        # the order of the fields: those of version 3 after end_time_s
        names = [row[0] for row in fake_runs.STEP_FIELDS]
        self.assertEqual(names[names.index("end_time_s") + 1:], list(self.NEW))

    def test_older_versions_are_written_as_before(self):
        for version in (1, 2):
            mode = None if version == 1 else "stats"
            path = write_run(self.path(f"v{version}.h5"), step_s=np.full((3, 2), 0.1),
                             schema_version=version, record_ranks=mode)
            run = load_run(path)
            self.assertEqual((run.schema_version, run.has_wall), (version, False))
            with h5py.File(path, "r") as f:
                for name in ("buffer_sync_s", "buffer_sync_bytes", "wall_s", "other_s",
                             "start_time_s"):
                    self.assertNotIn(name, f["steps"])
                self.assertIn("control_s", f["steps"])  # current files of 1-2 have it
                self.assertIn("summary_comm_overlap", f.attrs)
                self.assertNotIn("blas", f.attrs)
        self.assertEqual((fake_runs.legacy_version(None), fake_runs.legacy_version("stats")),
                         (1, 2))

    def test_version_3_requires_the_new_fields(self):
        for name in self.NEW:
            path = self.v3(f"{name}.h5")
            with h5py.File(path, "a") as f:
                del f["steps"][name]
            with self.assertRaisesRegex(RunFileError, rf"missing /steps datasets: {name} "
                                                      r"\(required by schema_version 3\)"):
                load_run(path)

    def test_older_versions_read_without_them_and_control_s_where_present(self):
        path = write_run(self.path("v1.h5"), step_s=np.full((3, 2), 0.1), schema_version=1,
                         phases={"control_s": 0.003})
        s = analysis.analyze_run(load_run(path))
        self.assertAlmostEqual(s["median_control_s"], 0.003, delta=1e-15)
        with h5py.File(path, "a") as f:
            del f["steps/control_s"]
        s = analysis.analyze_run(load_run(path))  # older files without control_s
        self.assertIsNone(s["median_control_s"])
        self.assertIsNone(s["median_wall_s"])

    def test_appended_steps_follow_the_files_layout(self):
        for version in (3, 1):
            path = write_run(self.path(f"a{version}.h5"), step_s=np.full((3, 2), 0.1),
                             schema_version=version)
            append_steps(path, step_s=np.full((2, 2), 0.2), phases={"other_s": 0.05})
            run = load_run(path)
            self.assertEqual(run.n_steps, 5)
            if version == 3:
                np.testing.assert_allclose(run.steps["wall_s"][:, 0],
                                           [0.1, 0.1, 0.1, 0.25, 0.25])
            else:
                self.assertFalse(run.has_wall)

    def test_math_attributes_in_the_run_metadata(self):
        s = analysis.analyze_run(load_run(self.v3(attrs={"blas": "reference BLAS (netlib)"})))
        self.assertEqual(s["math"]["blas"], "reference BLAS (netlib)")
        self.assertEqual(s["math"]["onednn"], 1)
        self.assertEqual(s["math"]["autocast"], "none")
        self.assertEqual(s["schema_version"], 3)
        old = analysis.analyze_run(load_run(write_run(self.path("old.h5"), schema_version=1)))
        self.assertIsNone(old["math"])

    def test_file_summary_under_either_name(self):
        new = load_run(self.v3(attrs={"summary_comm_concurrent_share": 0.4}))
        self.assertEqual(new.file_comm_concurrent_share, 0.4)
        old = load_run(write_run(self.path("old.h5"), schema_version=1,
                                 attrs={"summary_comm_overlap": 0.3}))
        self.assertEqual(old.file_comm_concurrent_share, 0.3)


class WallTime(TempDir):
    def test_throughput_from_wall_time_and_step_time_kept(self):
        step = np.array([[0.10, 0.12], [0.11, 0.10], [0.10, 0.10], [0.13, 0.12]])
        other = np.array([[0.05, 0.01], [0.02, 0.06], [0.03, 0.03], [0.01, 0.01]])
        s = self.summary(step_s=step, phases={"other_s": other, "control_s": 0.001},
                         samples=16)
        wall = (step + other + 0.001).max(axis=1)
        med, lo, hi, _ = analysis.median_ci(wall)
        self.assertEqual(s["throughput_time_source"], "wall_s")
        self.assertIsNone(s["throughput_time_note"])
        self.assertAlmostEqual(s["median_wall_s"], med, delta=1e-15)
        self.assertAlmostEqual(s["median_step_s"], float(np.median(step.max(axis=1))),
                               delta=1e-15)
        self.assertAlmostEqual(s["throughput_samples_per_s"], 32 / med, delta=1e-9)
        self.assertAlmostEqual(s["throughput_ci_low"], 32 / hi, delta=1e-9)
        self.assertAlmostEqual(s["throughput_ci_high"], 32 / lo, delta=1e-9)
        self.assertAlmostEqual(s["median_other_s"], float(np.median(other.mean(axis=1))),
                               delta=1e-15)
        self.assertAlmostEqual(s["median_control_s"], 0.001, delta=1e-15)

    def test_older_files_fall_back_to_step_time_and_say_so(self):
        step = np.full((4, 2), 0.2)
        s = self.summary(step_s=step, schema_version=1, samples=16)
        self.assertEqual(s["throughput_time_source"], "step_s")
        self.assertIn("no wall_s", s["throughput_time_note"])
        self.assertIsNone(s["median_wall_s"])
        self.assertAlmostEqual(s["throughput_samples_per_s"], 32 / 0.2, delta=1e-9)
        self.assertIn("forward_s includes the broadcast", s["breakdown_note"])
        self.assertIsNone(s["median_buffer_sync_s"])

    def test_breakdown_shows_the_time_after_the_step(self):
        old = write_run(self.path("old.h5"), model="a", step_s=np.full((3, 1), 0.1),
                        schema_version=1)
        new = write_run(self.path("new.h5"), model="b", step_s=np.full((3, 1), 0.1),
                        phases={"other_s": 0.02, "control_s": 0.001, "buffer_sync_s": 0.01})
        fig = plots.breakdown_figure(groups_of([old, new]))
        (legend,) = fig.legends
        labels = [t.get_text() for t in legend.get_texts()]
        # the first panel (an old file) has no wall time: the legend takes every panel's
        for label in ("median wall time per step", "buffer broadcast",
                      "control agreement (after the step)",
                      "other: recording, probes (after the step)",
                      "unaccounted (within the step)"):
            self.assertIn(label, labels)
        bars = [p.get_height() for p in fig.axes[1].patches]
        self.assertAlmostEqual(sum(bars), 121.0, delta=1e-9)  # ms: the wall time
        plt.close(fig)

    def test_repeats_of_old_and_new_files_use_step_time_together(self):
        a = write_run(self.path("a.h5"), step_s=np.full((4, 1), 0.1), schema_version=1)
        b = write_run(self.path("b.h5"), step_s=np.full((4, 1), 0.1),
                      phases={"other_s": 0.1})
        (g,) = groups_of([a, b])
        (p,) = g["points"]
        self.assertEqual(p["throughput_time_source"], "step_s")
        self.assertEqual(p["repeat_median_wall_s"], [None, 0.2])
        self.assertAlmostEqual(p["throughput_samples_per_s"], 320.0, delta=1e-9)

    def test_breakdown_with_buffer_sync_control_and_other(self):
        step = np.full((3, 2), 0.2)
        s = self.summary(step_s=step, phases={"buffer_sync_s": 0.02, "control_s": 0.004,
                                              "other_s": 0.03},
                         buffer_sync_bytes=[1000, 3000], bucket_bytes=[MIB, MIB])
        self.assertAlmostEqual(s["median_buffer_sync_s"], 0.02, delta=1e-15)
        # the other phases split step - buffer_sync: the step's phases account for it all
        self.assertAlmostEqual(s["median_forward_s"], 0.3 * 0.18, delta=1e-15)
        self.assertAlmostEqual(s["median_unaccounted_s"], 0.0, delta=1e-12)
        self.assertGreaterEqual(s["median_unaccounted_s"], 0.0)
        self.assertAlmostEqual(s["median_other_s"], 0.03, delta=1e-15)
        self.assertAlmostEqual(s["median_wall_s"], 0.234, delta=1e-12)
        self.assertIsNone(s["breakdown_note"])
        # bytes per rank and step: the gradient buckets and the buffers broadcast
        self.assertEqual(s["median_gradient_bytes"], 2 * MIB)
        self.assertEqual(s["median_buffer_sync_bytes"], 2000)
        self.assertEqual(s["median_comm_bytes"], 2 * MIB + 2000)
        # where the phases' medians exceed the step's, the remainder stays 0, not negative
        s = self.summary(step_s=step, phases={"buffer_sync_s": 0.02, "forward_s": 0.5})
        self.assertEqual(s["median_unaccounted_s"], 0.0)


class CollectiveTime(TempDir):
    """busbw from the fastest rank's duration per bucket and step; arrival skew beside it."""

    def durations(self):
        # 4 ranks, 2 buckets of different sizes; rank 3 arrives last each step: its duration is
        # the collective, the others waited for it
        dur = np.empty((5, 4, 2))
        collective = np.array([[0.002, 0.008], [0.003, 0.009], [0.002, 0.007],
                               [0.004, 0.008], [0.002, 0.010]])
        wait = np.array([0.003, 0.002, 0.001, 0.0])
        for r in range(4):
            dur[:, r, :] = collective + wait[r] * (1 + np.arange(5))[:, None]
        return dur, collective

    def test_fastest_rank_and_skew(self):
        dur, collective = self.durations()
        s = self.summary(step_s=np.full((5, 4), 0.1), warmup=1, bucket_bytes=[MIB, 4 * MIB],
                         bucket_duration_s=dur)
        bw = {e["bytes"]: e for e in s["allreduce_bandwidth"]}
        for b, nbytes in enumerate((MIB, 4 * MIB)):
            med = float(np.median(collective[1:, b]))
            self.assertEqual(bw[nbytes]["samples"], 4)
            self.assertAlmostEqual(bw[nbytes]["median_duration_s"], med, delta=1e-15)
            self.assertAlmostEqual(bw[nbytes]["busbw_bytes_per_s"], nbytes / med * 1.5,
                                   delta=1e-3)
            skew = float(np.median(0.003 * np.arange(2, 6)))
            self.assertAlmostEqual(bw[nbytes]["median_arrival_skew_s"], skew, delta=1e-15)
        self.assertIsNone(s["bandwidth_note"])
        # the old definition (median over every rank's duration) would be much slower
        old = float(np.median(dur[1:, :, 1]))
        self.assertLess(bw[4 * MIB]["median_duration_s"], old * 0.8)

    def test_collective_times_ignore_unrecorded_zeros(self):
        dur = np.array([[[0.0, 0.004], [0.002, 0.0], [0.003, 0.0]]])  # [1 row, 3 ranks, 2]
        coll, skew = analysis.collective_times(dur)
        np.testing.assert_allclose(coll, [[0.002, 0.004]])
        np.testing.assert_allclose(skew, [[0.001, 0.0]])
        coll, _ = analysis.collective_times(np.zeros((1, 2, 1)))
        self.assertTrue(np.isnan(coll[0, 0]))

    def test_bench_uses_the_reports_figures(self):
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        try:
            import busbw_compare
        finally:
            sys.path.remove(os.path.join(ROOT, "bench"))
        dur, _ = self.durations()
        path = write_run(self.path("b.h5"), step_s=np.full((5, 4), 0.1), warmup=1,
                         bucket_bytes=[MIB, 4 * MIB], bucket_duration_s=dur, bucket_every=2)
        world, figures = busbw_compare.bucket_figures(path)
        report = analysis.analyze_run(load_run(path))["allreduce_bandwidth"]
        self.assertEqual(world, 4)
        self.assertEqual(sorted(figures), [MIB, 4 * MIB])
        for e in report:
            self.assertEqual(figures[e["bytes"]], (e["busbw_bytes_per_s"] / 1e9,
                                                   e["median_arrival_skew_s"]))

    def test_skew_panel_beside_the_bandwidth(self):
        dur, _ = self.durations()
        paths = [write_run(self.path("np4.h5"), step_s=np.full((5, 4), 0.1),
                           bucket_bytes=[MIB, 4 * MIB], bucket_duration_s=dur)]
        fig = plots.comm_figure(groups_of(paths))
        self.assertEqual(len(fig.axes), 3)
        ax = fig.axes[2]
        self.assertIn("Arrival skew", ax.get_title())
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_ydata(), [9.0, 9.0])  # ms: median of 3..15 ms
        plt.close(fig)

    def test_bandwidth_table_in_the_text(self):
        dur, _ = self.durations()
        paths = [write_run(self.path("np4.h5"), step_s=np.full((5, 4), 0.1),
                           bucket_bytes=[MIB, 4 * MIB], bucket_duration_s=dur)]
        table = text_table(groups_of(paths), [])
        self.assertIn("allreduce bandwidth (per bucket and step the collective time is the "
                      "fastest recorded rank's duration", table)
        self.assertIn("skew ms", table)


class Overlap(TempDir):
    def write_twins(self, repeats=1):
        paths = []
        for n, on, off in ((1, 0.10, 0.10), (2, 0.12, 0.15)):
            for r in range(repeats):
                rng = np.random.default_rng(10 * n + r)
                jitter = 0.002 * rng.random((12, n))
                paths.append(write_run(self.path(f"ov-np{n}-r{r}.h5"), step_s=on + jitter))
                paths.append(write_run(self.path(f"no-np{n}-r{r}.h5"), step_s=off + jitter,
                                       attrs={"overlap": np.int64(0)}))
        return paths

    def test_auto_runs_are_one_series_whatever_each_chose(self):
        # --overlap auto picks per run; its runs (and repeats) must stay one group, and an
        # --overlap off twin still gives what the default saved.
        paths = []
        for n in (1, 2, 4):
            for r, chose in enumerate((1, 0)):
                rng = np.random.default_rng(10 * n + r)
                paths.append(write_run(self.path(f"auto-np{n}-r{r}.h5"),
                                       step_s=0.1 + 0.002 * rng.random((12, n)),
                                       attrs={"overlap": np.int64(chose), "overlap_mode": "auto"}))
                paths.append(write_run(self.path(f"off-np{n}-r{r}.h5"),
                                       step_s=0.13 + 0.002 * rng.random((12, n)),
                                       attrs={"overlap": np.int64(0), "overlap_mode": "off"}))
        groups = groups_of(paths)
        self.assertEqual(sorted(g["variant"]["overlap"] for g in groups), ["auto", "off"])
        for g in groups:
            self.assertEqual([p["repeats"] for p in g["points"]], [2, 2, 2])
        savings = analysis.overlap_savings(groups)
        self.assertEqual([e["world_size"] for e in savings], [1, 2, 4])
        self.assertTrue(all(0.02 < e["step_saved_s"] < 0.04 for e in savings), savings)

    def test_concurrent_share_renamed(self):
        s = self.summary(step_s=np.full((3, 2), 0.1), bucket_bytes=[MIB],
                         bucket_duration_s=0.05, phases={"comm_exposed_s": 0.01})
        self.assertNotIn("comm_overlap", s)
        self.assertAlmostEqual(s["comm_concurrent_share"], 1 - 0.01 / 0.05, delta=1e-12)

    def test_what_overlap_saved(self):
        groups = groups_of(self.write_twins())
        self.assertEqual(len(groups), 2)
        savings = analysis.overlap_savings(groups)
        self.assertEqual([e["world_size"] for e in savings], [1, 2])
        by_label = {(g["variant"]["overlap"], p["world_size"]): p
                    for g in groups for p in g["points"]}
        for e in savings:
            p, q = by_label[(1, e["world_size"])], by_label[(0, e["world_size"])]
            self.assertAlmostEqual(e["step_saved_s"], q["median_step_s"] - p["median_step_s"],
                                   delta=1e-15)
            self.assertAlmostEqual(e["step_saved_ci_low_s"],
                                   q["step_ci_low_s"] - p["step_ci_high_s"], delta=1e-15)
            self.assertAlmostEqual(e["step_saved_ci_high_s"],
                                   q["step_ci_high_s"] - p["step_ci_low_s"], delta=1e-15)
            self.assertAlmostEqual(e["throughput_ratio"], p["throughput_samples_per_s"]
                                   / q["throughput_samples_per_s"], delta=1e-12)
            self.assertLessEqual(e["throughput_ratio_ci_low"], e["throughput_ratio"])
            self.assertGreaterEqual(e["throughput_ratio_ci_high"], e["throughput_ratio"])
        two = savings[1]
        self.assertAlmostEqual(two["step_saved_s"], 0.03, delta=0.002)
        self.assertGreater(two["step_saved_ci_low_s"], 0.02)
        self.assertAlmostEqual(two["step_saved_share"], 0.03 / 0.15, delta=0.02)
        table = text_table(groups, [], savings)
        self.assertIn("what overlap saved", table)

    def test_no_twin_no_savings(self):
        paths = [write_run(self.path("a.h5"), step_s=np.full((3, 2), 0.1)),
                 write_run(self.path("b.h5"), step_s=np.full((3, 2), 0.1), samples=64,
                           attrs={"overlap": np.int64(0)})]  # another batch: not a twin
        self.assertEqual(analysis.overlap_savings(groups_of(paths)), [])

    def test_cli_writes_the_savings(self):
        self.write_twins(repeats=2)
        out = self.path("out")
        r = subprocess.run([REPORT, self.dir, "--out", out, "--format", "png"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("what overlap saved", r.stdout)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual([e["world_size"] for e in doc["overlap_savings"]], [1, 2])
        self.assertEqual(doc["overlap_savings"][1]["repeats"], 2)
        self.assertIn("overlap_savings", doc["definitions"])
        self.assertIn("comm_concurrent_share", doc["definitions"])
        self.assertEqual(doc["runs"][0]["math"]["blas"], "OpenBLAS 0.3.21 (openmp)")
        with open(os.path.join(out, "summary.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual({r["blas"] for r in rows if r["kind"] == "run"},
                         {"OpenBLAS 0.3.21 (openmp)"})
        self.assertEqual({r["throughput_time_source"] for r in rows}, {"wall_s"})
        self.assertNotIn("comm_overlap", rows[0])


class RepeatIntervals(TempDir):
    def test_t_quantiles(self):
        self.assertAlmostEqual(analysis.t975(1), 12.7062, delta=1e-4)
        self.assertAlmostEqual(analysis.t975(30), 2.0423, delta=1e-4)
        self.assertAlmostEqual(analysis.t975(60), 2.0003, delta=1e-4)
        self.assertAlmostEqual(analysis.t975(10 ** 6), 1.96, delta=1e-4)
        try:
            from scipy import stats
        except ImportError:
            return
        for df in (1, 2, 5, 29, 31, 45, 120, 1000):
            self.assertAlmostEqual(analysis.t975(df), stats.t.ppf(0.975, df), delta=1e-4)

    def write_repeats(self, medians, n=50, world=1, prefix="r", **kwargs):
        paths = []
        for i, m in enumerate(medians):
            rng = np.random.default_rng(i)
            step = m + 0.0005 * rng.standard_normal((n, world))
            paths.append(write_run(self.path(f"{prefix}{i}.h5"), step_s=step,
                                   phases={"other_s": 0.01}, **kwargs))
        return paths

    def test_systematic_differences_widen_the_interval(self):
        (g,) = groups_of(self.write_repeats([0.10, 0.11, 0.12]))
        (p,) = g["points"]
        meds = p["repeat_median_step_s"]
        half = 4.3027 * np.std(meds, ddof=1) / np.sqrt(3)
        lo, hi = np.mean(meds) - half, np.mean(meds) + half
        self.assertAlmostEqual(p["step_ci_low_s"], min(lo, p["median_step_s"]), delta=1e-12)
        self.assertAlmostEqual(p["step_ci_high_s"], max(hi, p["median_step_s"]), delta=1e-12)
        pooled = p["pooled_step_ci_high_s"] - p["pooled_step_ci_low_s"]
        width = p["step_ci_high_s"] - p["step_ci_low_s"]
        self.assertGreater(width, 10 * pooled)
        self.assertIn("3 repeats", p["step_ci_method"])
        self.assertEqual(p["step_ci_coverage"], 0.95)
        # the throughput interval from the repeats' median wall times (other_s: + 0.01)
        walls = p["repeat_median_wall_s"]
        np.testing.assert_allclose(walls, np.asarray(meds) + 0.01, rtol=1e-9)
        half = 4.3027 * np.std(walls, ddof=1) / np.sqrt(3)
        self.assertAlmostEqual(p["throughput_ci_low"], 32 / (np.mean(walls) + half),
                               delta=1e-9)
        self.assertAlmostEqual(p["throughput_ci_high"], 32 / (np.mean(walls) - half),
                               delta=1e-9)

    def test_two_repeats_far_apart_leave_throughput_unbounded(self):
        (g,) = groups_of(self.write_repeats([0.10, 0.20]))
        (p,) = g["points"]
        self.assertEqual(p["step_ci_low_s"], 0.0)  # clamped: a time is > 0
        self.assertEqual(p["throughput_ci_high"], float("inf"))
        self.assertIsNone(report._clean(p)["throughput_ci_high"])  # null in summary.json
        out = self.path("plots")
        os.makedirs(out)
        self.assertEqual(len(plots.make_all([g], [], out, ["png"])), len(PLOTS))
        self.assertIn("   1  ", text_table([g], []))

    def test_one_run_keeps_the_step_interval_and_says_so(self):
        (g,) = groups_of(self.write_repeats([0.10]))
        (p,) = g["points"]
        self.assertIn("ignores run-to-run variance", p["step_ci_method"])
        self.assertEqual((p["step_ci_low_s"], p["step_ci_high_s"]),
                         (p["pooled_step_ci_low_s"], p["pooled_step_ci_high_s"]))

    def test_speedup_and_efficiency_intervals(self):
        paths = self.write_repeats([0.10, 0.104], prefix="a")
        paths += self.write_repeats([0.12, 0.13, 0.125], world=2, prefix="b")
        (g,) = groups_of(paths)
        base, p = g["points"]
        self.assertEqual((base["speedup_ci_low"], base["speedup_ci_high"]), (1.0, 1.0))
        self.assertAlmostEqual(p["speedup_ci_low"],
                               p["throughput_ci_low"] / base["throughput_ci_high"], delta=1e-12)
        self.assertAlmostEqual(p["speedup_ci_high"],
                               p["throughput_ci_high"] / base["throughput_ci_low"], delta=1e-12)
        self.assertLess(p["speedup_ci_low"], p["speedup"])
        self.assertGreater(p["speedup_ci_high"], p["speedup"])
        self.assertAlmostEqual(p["efficiency_ci_low"], p["speedup_ci_low"] / 2, delta=1e-12)
        self.assertAlmostEqual(p["efficiency_ci_high"], p["speedup_ci_high"] / 2, delta=1e-12)
        self.assertAlmostEqual(p["step_time_ratio_ci_low"],
                               p["step_ci_low_s"] / base["step_ci_high_s"], delta=1e-12)
        fig = plots.throughput_speedup_figure([g])
        plt.close(fig)


if __name__ == "__main__":
    unittest.main()
