"""--record-ranks end to end: the rows a reduced file keeps are exactly those of an `all` run of
the same seed, its /rank_stats are the statistics of every rank's values, and the report reads
every mode. And 16 ranks (oversubscribed, tiny batch) through the whole path: train, file,
report.

Two runs of one seed on 1 thread per rank compute the same losses bit for bit (the CPU kernels
are deterministic for a fixed thread count), so deterministic fields compare exactly across runs;
timings do not, and are checked for consistency within a file.

Needs h5py: CTest runs this with Debian's /usr/bin/python3."""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

try:
    import h5py
except ImportError:  # a python3 without Debian's packages
    h5py = None

from scalebench_cli import require_binary, run_scalebench

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "..", "..", "results", "report")
RANKS, STEPS = 5, 6
DETERMINISTIC = ("step", "warmup", "epoch", "samples", "loss", "bytes_reduced")
COLUMNS = ["min", "median", "max", "mean", "max_rank"]


def run_mode(tmp, mode, ranks=RANKS, steps=STEPS, extra=()):
    path = os.path.join(tmp, f"{mode.replace(':', '-')}-np{ranks}.h5")
    args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", str(steps), "--warmup-steps", "1",
            "--batch-size", "2", "--bucket-mb", "1", "--flush-every", "4", "--threads", "1",
            "--seed", "7", "--quiet", "--record-ranks", mode, "--output", path, *extra]
    return path, run_scalebench(args, ranks=ranks, timeout=600)


def report(paths, out):
    return subprocess.run([REPORT, "--out", out, "--no-plots", *paths], capture_output=True,
                          text=True, timeout=600)


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class RecordRanksModes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.runs = {m: run_mode(cls.tmp.name, m) for m in ("all", "sample:2", "stats")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def open(self, mode):
        path, res = self.runs[mode]
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        return h5py.File(path, "r")

    def test_all_is_schema_3_without_statistics(self):
        with self.open("all") as f:
            self.assertEqual(f.attrs["schema_version"], 3)
            self.assertEqual(f.attrs["record_ranks"], "all")
            self.assertNotIn("ranks", f["steps"].attrs)
            self.assertNotIn("rank_stats", f)
            self.assertEqual(f["steps/loss"].shape, (STEPS, RANKS))

    def test_reduced_files_keep_the_same_rows_as_all(self):
        with self.open("all") as full:
            for mode, ranks in (("sample:2", [0, 2]), ("stats", [0])):
                with self.subTest(mode=mode), self.open(mode) as f:
                    self.assertEqual(f.attrs["schema_version"], 3)  # every mode since version 3
                    self.assertEqual(f.attrs["record_ranks"], mode)
                    self.assertEqual(f.attrs["record_ranks_requested"], mode)
                    self.assertEqual(list(f["steps"].attrs["ranks"]), ranks)
                    self.assertEqual(int(f.attrs["world_size"]), RANKS)
                    for name in DETERMINISTIC:
                        np.testing.assert_array_equal(f["steps"][name][()], full["steps"][name][()][:, ranks],
                                                      err_msg=name)
                    n = int(f.attrs["n_buckets"])
                    self.assertGreater(n, 1)
                    self.assertEqual(f["buckets/duration_s"].shape, (STEPS, len(ranks), n))
                    self.assertEqual(len(f["ranks/hostname"]), RANKS, "/ranks stays per world rank")

    def test_statistics_are_those_of_every_rank(self):
        with self.open("all") as full, self.open("sample:2") as f:
            self.assertEqual([c.decode() if isinstance(c, bytes) else c
                              for c in f["rank_stats"].attrs["columns"]], COLUMNS)
            for name in DETERMINISTIC:
                v = full["steps"][name][()].astype(np.float64)
                st = f["rank_stats"][name][()]
                self.assertEqual(st.shape, (STEPS, 5))
                np.testing.assert_array_equal(st[:, 0], v.min(axis=1), err_msg=name)
                np.testing.assert_array_equal(st[:, 1], np.median(v, axis=1), err_msg=name)
                np.testing.assert_array_equal(st[:, 2], v.max(axis=1), err_msg=name)
                np.testing.assert_allclose(st[:, 3], v.mean(axis=1), rtol=1e-14, atol=0, err_msg=name)
                np.testing.assert_array_equal(st[:, 4], v.argmax(axis=1), err_msg=name)

    def test_timing_statistics_bracket_the_recorded_ranks(self):
        with self.open("sample:2") as f:
            for name in ("step_s", "backward_s", "comm_busy_s", "peak_rss_bytes"):
                cols = f["steps"][name][()].astype(np.float64)
                st = f["rank_stats"][name][()]
                self.assertTrue(np.all(st[:, 0] <= st[:, 1]) and np.all(st[:, 1] <= st[:, 2]), name)
                self.assertTrue(np.all(cols >= st[:, :1]) and np.all(cols <= st[:, 2:3]), name)
                self.assertTrue(np.all((st[:, 3] >= st[:, 0]) & (st[:, 3] <= st[:, 2])), name)
                rank = st[:, 4]
                self.assertTrue(np.all((rank >= 0) & (rank < RANKS) & (rank == np.round(rank))), name)
                # Where the max's rank is a recorded one, its column holds the max.
                for j, r in enumerate(f["steps"].attrs["ranks"]):
                    hit = rank == r
                    np.testing.assert_array_equal(cols[hit, j], st[hit, 2], err_msg=name)
            # The run summary is exact in every mode: its slowest-step median is that of the
            # statistics' max column over the measured steps.
            measured = f["rank_stats/warmup"][()][:, 2] == 0
            self.assertAlmostEqual(float(f.attrs["summary_median_step_s"]),
                                   float(np.median(f["rank_stats/step_s"][()][measured, 2])), places=12)

    def test_the_report_reads_every_mode(self):
        paths = [self.runs[m][0] for m in self.runs]
        for m in self.runs:
            self.assertEqual(self.runs[m][1].returncode, 0, self.runs[m][1].stderr)
        out = os.path.join(self.tmp.name, "report")
        res = report(paths, out)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        with open(os.path.join(out, "summary.json")) as fh:
            summary = json.load(fh)
        runs = {os.path.basename(r["path"]): r for r in summary["runs"]}
        self.assertEqual(len(runs), 3, runs.keys())

    def test_bad_value_is_one_clear_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            path, res = run_mode(tmp, "sample:0", ranks=2, steps=2)
            self.assertNotEqual(res.returncode, 0)
            self.assertIn("--record-ranks sample:0: allowed:", res.stderr)
            self.assertEqual(res.stderr.count("--record-ranks sample:0"), 1, res.stderr)
            self.assertEqual(os.listdir(tmp), [], "no file of a refused run")


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class SixteenRanks(unittest.TestCase):
    """The whole path at 16 ranks on this 2-core machine: default recording (every rank at 16),
    the report, and a sampled file beside it."""

    def test_sixteen_ranks_through_the_whole_path(self):
        with tempfile.TemporaryDirectory() as tmp:
            path, res = run_mode(tmp, "auto", ranks=16, steps=4)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            with h5py.File(path, "r") as f:
                self.assertEqual(f.attrs["status"], "completed")
                self.assertEqual(f.attrs["record_ranks"], "all")
                self.assertEqual(f["steps/step_s"].shape, (4, 16))
                self.assertEqual(int(f.attrs["param_checksums_agree"]), 1)
                self.assertEqual(len(set(f["ranks/pid"][()])), 16)
                np.testing.assert_array_equal(f["steps/samples"][()], 2)
            out = os.path.join(tmp, "report")
            rep = report([path], out)
            self.assertEqual(rep.returncode, 0, rep.stdout + rep.stderr)
            with open(os.path.join(out, "summary.json")) as fh:
                run = json.load(fh)["runs"][0]
            self.assertEqual(run["world_size"], 16)


if __name__ == "__main__":
    unittest.main()
