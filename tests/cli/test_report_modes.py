"""The report on run files of every `--record-ranks` mode (all, stats, sample:K), on fake files
whose /rank_stats fake_runs computes from every rank's data: the figures over all ranks must
equal those of the same data in mode all, the per-rank ones those of the recorded ranks.

Run: cd tests/cli && /usr/bin/python3 -m unittest test_report_modes
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORT = os.path.join(ROOT, "results", "report")
sys.path.insert(0, os.path.join(ROOT, "results"))
sys.path.insert(0, HERE)

from fake_runs import recorded_ranks, write_run, write_run_blocks  # noqa: E402
from scalebench_results import analysis, plots  # noqa: E402
from scalebench_results.report import text_table  # noqa: E402
from scalebench_results.runfile import RunFileError, load_run  # noqa: E402

MIB = 1 << 20
REL = 1e-12  # figures from /rank_stats against /steps: equal up to rounding
PLOTS = ("throughput_speedup", "efficiency", "breakdown", "comm", "memory", "imbalance")
# over every rank in every mode, and compared as such
ALL_RANK_KEYS = tuple(k for k in analysis.FIGURES_FROM_ALL_RANKS
                      if k not in ("speedup", "efficiency", "step_time_ratio"))
EXACT_KEYS = ("measured_steps", "global_samples_per_step", "peak_rss_bytes",
              "peak_device_allocated_bytes", "peak_device_reserved_bytes",
              "most_often_slowest_rank", "most_often_slowest_share")


def fabricate(world, n=24, seed=1, warmup=3, slow_rank=None, busy_rank=None, device="cpu"):
    """write_run arguments for every rank: random step times, phases, samples, memory and
    bucket durations; slow_rank is made the slowest by its median."""
    rng = np.random.default_rng(seed)
    step = 0.1 + 0.02 * rng.random((n, world))
    if slow_rank is not None:
        step[:, slow_rank] += 0.015
    exposed = step * 0.2 * rng.random((n, world))
    if busy_rank is not None:
        exposed[:, busy_rank] = 0.0
    samples = rng.integers(8, 40, (n, world))
    samples[0, 0] = 32  # the file's batch_per_rank: equal in every fabricated run (one group)
    kw = dict(step_s=step, warmup=warmup, samples=samples,
              phases={"comm_exposed_s": exposed, "data_s": 0.01 * rng.random((n, world)),
                      "forward_s": step * 0.3 * rng.random((n, world)),
                      # schema 3's fields beyond the step: wall_s = step_s + these two
                      "control_s": 0.002 * rng.random((n, world)),
                      "other_s": 0.01 * rng.random((n, world)),
                      "buffer_sync_s": 0.001 * rng.random((n, world))},
              buffer_sync_bytes=rng.integers(0, 1 << 12, (n, world)),
              bucket_bytes=[MIB, MIB, 4 * MIB],
              bucket_duration_s=rng.lognormal(-4, 0.5, (n, world, 3)),
              peak_rss_bytes=rng.integers(1 << 26, 1 << 31, (n, world)), device=device)
    if device == "cuda":
        kw["device_peak_allocated_bytes"] = rng.integers(1 << 20, 1 << 32, (n, world))
        kw["device_peak_reserved_bytes"] = rng.integers(1 << 20, 1 << 32, (n, world))
    return kw


def by_hand(kw, ranks):
    """The per-rank figures of the given world ranks, straight from the data."""
    step = np.asarray(kw["step_s"])
    n = step.shape[0]
    meas = np.arange(n) >= kw["warmup"]
    m = step[meas][:, ranks]
    busy = m - kw["phases"]["comm_exposed_s"][meas][:, ranks]
    med, bmed = np.median(m, axis=0), np.median(busy, axis=0)
    dur = kw["bucket_duration_s"][meas][:, ranks]
    bw = {}
    for size in sorted(set(kw["bucket_bytes"])):
        cols = [i for i, b in enumerate(kw["bucket_bytes"]) if b == size]
        d = dur[:, :, cols]  # per step and bucket: the fastest recorded rank, and the skew
        bw[size] = (d[:, 0].size, float(np.median(d.min(axis=1))),
                    float(np.median(d.max(axis=1) - d.min(axis=1))))
    return {
        "rank_median_step_s": med.tolist(),
        "imbalance": med.max() / np.median(med),
        "slowest_rank": int(ranks[int(np.argmax(med))]),
        "busy_imbalance": bmed.max() / np.median(bmed),
        "busy_slowest_rank": int(ranks[int(np.argmax(bmed))]),
        "peak_rss_bytes_per_rank": np.asarray(kw["peak_rss_bytes"])[:, ranks].max(axis=0).tolist(),
        "bandwidth": bw,
    }


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scalebench-modes-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, mode, kw, **more):
        return write_run(self.path(name), record_ranks=mode, **kw, **more)

    def assert_all_rank_figures_equal(self, got, want, what):
        for key in ALL_RANK_KEYS:
            g, w = got[key], want[key]
            if key in EXACT_KEYS or w is None or isinstance(w, int):
                self.assertEqual(g, w, (what, key))
            else:
                self.assertAlmostEqual(g, w, delta=abs(w) * REL + 1e-18, msg=(what, key))


class Layout(TempDir):
    def test_recorded_ranks_as_the_writer_picks_them(self):
        self.assertIsNone(recorded_ranks("all", 8))
        self.assertEqual(recorded_ranks("stats", 8).tolist(), [0])
        self.assertEqual(recorded_ranks("sample:3", 7).tolist(), [0, 2, 4])
        self.assertEqual(recorded_ranks("sample:4", 8).tolist(), [0, 2, 4, 6])
        self.assertEqual(recorded_ranks("sample:10", 4).tolist(), [0, 1, 2, 3])

    def test_reader_names_the_recorded_columns(self):
        kw = fabricate(7)
        run = load_run(self.write("s.h5", "sample:3", kw))
        self.assertEqual((run.world_size, run.n_recorded, run.record_ranks), (7, 3, "sample:3"))
        self.assertEqual(run.schema_version, 3)
        self.assertEqual(run.recorded_ranks.tolist(), [0, 2, 4])
        self.assertTrue(run.has_rank_stats)
        self.assertEqual(run.steps["step_s"].shape, (24, 3))
        np.testing.assert_array_equal(run.steps["step_s"], kw["step_s"][:, [0, 2, 4]])
        self.assertEqual(run.bucket_duration_s.shape, (24, 3, 3))
        self.assertEqual(run.rank_stats["step_s"].shape, (24, 5))
        np.testing.assert_array_equal(run.rank_stats["step_s"][:, 2], kw["step_s"].max(axis=1))
        self.assertEqual(len(run.ranks["hostname"]), 7)  # /ranks stays per world rank
        np.testing.assert_array_equal(run.step_index(), np.arange(24))
        # the older layout of the same mode: schema 2
        run = load_run(self.write("old.h5", "sample:3", kw, schema_version=2))
        self.assertEqual((run.n_recorded, run.schema_version, run.has_wall), (3, 2, False))
        # mode all with the attribute, and files without it: every rank, schema 3 (or 1)
        for mode in ("all", None):
            for version in (3, 1):
                run = load_run(self.write(f"a{mode}{version}.h5", mode, kw,
                                          schema_version=version))
                self.assertEqual((run.record_ranks, run.n_recorded, run.schema_version),
                                 ("all", 7, version))
            self.assertFalse(run.has_rank_stats)
            self.assertEqual(run.recorded_ranks.tolist(), list(range(7)))

    def test_appended_blocks_equal_one_write(self):
        kw = fabricate(6, n=40)
        whole = analysis.analyze_run(load_run(self.write("whole.h5", "sample:4", kw)))

        def block(start, stop):
            return {"step_s": kw["step_s"][start:stop], "warmup": kw["warmup"] if start == 0 else 0,
                    "samples": kw["samples"][start:stop],
                    "phases": {k: v[start:stop] for k, v in kw["phases"].items()},
                    "bucket_duration_s": kw["bucket_duration_s"][start:stop],
                    "peak_rss_bytes": kw["peak_rss_bytes"][start:stop],
                    "buffer_sync_bytes": kw["buffer_sync_bytes"][start:stop]}
        path = write_run_blocks(self.path("blocks.h5"), 40, 16, block, record_ranks="sample:4",
                                bucket_bytes=kw["bucket_bytes"], bucket_every=2)
        run = load_run(path)
        self.assertEqual(run.rank_stats["step_s"].shape, (40, 5))
        got = analysis.analyze_run(run)
        self.assert_all_rank_figures_equal(got, whole, "blocks")
        self.assertEqual(got["rank_median_step_s"], whole["rank_median_step_s"])


class Figures(TempDir):
    MODES = ("stats", "sample:1", "sample:2", "sample:3", "sample:4", "sample:64", "all")

    def test_figures_over_all_ranks_equal_mode_all(self):
        for world in (1, 5, 6):
            for device in ("cpu", "cuda"):
                kw = fabricate(world, seed=world, slow_rank=world - 1, device=device)
                want = analysis.analyze_run(load_run(self.write(f"ref{world}.h5", None, kw)))
                for mode in self.MODES:
                    name = f"w{world}-{device}-{mode.replace(':', '_')}.h5"
                    got = analysis.analyze_run(load_run(self.write(name, mode, kw)))
                    self.assert_all_rank_figures_equal(got, want, (world, device, mode))
                    self.assertEqual(got["record_ranks"], mode)
                    self.assertEqual(got["world_size"], world)
                    self.assertEqual(got["busbw_factor"], want["busbw_factor"])

    def test_figures_over_all_ranks_by_hand(self):
        kw = fabricate(6, slow_rank=3)
        s = analysis.analyze_run(load_run(self.write("s.h5", "stats", kw)))
        meas = np.arange(24) >= 3
        step = kw["step_s"][meas]
        self.assertEqual(s["measured_steps"], 21)
        self.assertEqual(s["median_step_s"], float(np.median(step.max(axis=1))))
        self.assertEqual(s["global_samples_per_step"],
                         float(np.median(kw["samples"][meas].sum(axis=1))))
        exposed = kw["phases"]["comm_exposed_s"][meas]
        self.assertEqual(s["median_comm_exposed_s"], float(np.median(exposed.mean(axis=1))))
        busy = kw["bucket_duration_s"][meas].sum(axis=2)
        self.assertAlmostEqual(s["comm_concurrent_share"], 1 - exposed.sum() / busy.sum(),
                               delta=REL)
        self.assertEqual(s["peak_rss_bytes"], int(kw["peak_rss_bytes"].max()))
        counts = np.bincount(step.argmax(axis=1), minlength=6)
        self.assertEqual(s["most_often_slowest_rank"], 3)
        self.assertEqual(s["most_often_slowest_share"], counts[3] / 21)
        self.assertEqual(s["median_rank_spread"],
                         float(np.median(step.max(axis=1) / np.median(step, axis=1))))
        # wall time over every rank from /rank_stats/wall_s max; throughput from it
        wall = (kw["step_s"] + kw["phases"]["control_s"] + kw["phases"]["other_s"])[meas]
        self.assertEqual(s["median_wall_s"], float(np.median(wall.max(axis=1))))
        self.assertEqual(s["throughput_time_source"], "wall_s")
        self.assertAlmostEqual(s["throughput_samples_per_s"],
                               s["global_samples_per_step"] / s["median_wall_s"], delta=REL)
        self.assertEqual(s["median_other_s"],
                         float(np.median(kw["phases"]["other_s"][meas].mean(axis=1))))
        both = (kw["bucket_duration_s"][meas].sum(axis=2) * 0 + sum(kw["bucket_bytes"])
                + kw["buffer_sync_bytes"][meas])
        self.assertAlmostEqual(s["median_comm_bytes"], float(np.median(both.mean(axis=1))),
                               delta=REL * s["median_comm_bytes"])

    def test_per_rank_figures_are_the_recorded_ranks(self):
        # ranks 0, 2, 4 of 6 recorded: rank 3 (not recorded) is the slowest of all, rank 4 of
        # the recorded ones; rank 2 waits least for communication
        kw = fabricate(6, slow_rank=3, busy_rank=2)
        kw["step_s"][:, 4] += 0.005
        s = analysis.analyze_run(load_run(self.write("s.h5", "sample:3", kw)))
        want = by_hand(kw, [0, 2, 4])
        self.assertEqual(s["recorded_ranks"], [0, 2, 4])
        self.assertEqual(s["rank_figures_from"], "sample:3")
        self.assertEqual(s["bucket_figures_from"], "sample:3")
        self.assertEqual(s["slowest_rank"], 4)          # a world rank id, not column 2
        self.assertEqual(s["most_often_slowest_rank"], 3)  # over every rank
        for key in ("rank_median_step_s", "slowest_rank", "busy_slowest_rank",
                    "peak_rss_bytes_per_rank"):
            self.assertEqual(s[key], want[key], key)
        for key in ("imbalance", "busy_imbalance"):
            self.assertAlmostEqual(s[key], want[key], delta=REL, msg=key)
        self.assertTrue(s["rank_medians_exact"])
        bw = {e["bytes"]: e for e in s["allreduce_bandwidth"]}
        for size, (count, med, skew) in want["bandwidth"].items():
            self.assertEqual(bw[size]["samples"], count)
            self.assertEqual(bw[size]["median_duration_s"], med)
            self.assertEqual(bw[size]["median_arrival_skew_s"], skew)
            self.assertAlmostEqual(bw[size]["busbw_bytes_per_s"], size / med * 2 * 5 / 6,
                                   delta=REL * size / med)
        self.assertEqual(len(s["peak_rss_bytes_per_rank"]), len(s["recorded_ranks"]))
        self.assertIn("fastest of the RECORDED ranks only (--record-ranks sample:3)",
                      s["bandwidth_note"])

    def test_stats_mode_gives_rank_0_and_no_imbalance(self):
        kw = fabricate(4, slow_rank=2)
        s = analysis.analyze_run(load_run(self.write("s.h5", "stats", kw)))
        want = by_hand(kw, [0])
        self.assertEqual((s["recorded_ranks"], s["rank_figures_from"]), ([0], "rank 0"))
        self.assertEqual(s["rank_median_step_s"], want["rank_median_step_s"])
        self.assertEqual(s["peak_rss_bytes_per_rank"], want["peak_rss_bytes_per_rank"])
        for key in ("imbalance", "slowest_rank", "busy_imbalance", "busy_slowest_rank"):
            self.assertIsNone(s[key], key)
        self.assertIn("rank 0", s["rank_figures_note"])
        self.assertEqual(s["most_often_slowest_rank"], 2)
        # rank 0's durations alone: its own as the collective time (an upper bound), no skew
        self.assertIn("upper bound", s["bandwidth_note"])
        bw = {e["bytes"]: e for e in s["allreduce_bandwidth"]}
        self.assertEqual(bw[4 * MIB]["median_duration_s"], want["bandwidth"][4 * MIB][1])
        self.assertIsNone(bw[4 * MIB]["median_arrival_skew_s"])
        # a sample of the whole world is every rank: as mode all
        s = analysis.analyze_run(load_run(self.write("k.h5", "sample:9", kw)))
        self.assertEqual(s["rank_figures_from"], "all")
        self.assertEqual(s["slowest_rank"], 2)
        self.assertEqual(s["rank_median_step_s"], by_hand(kw, [0, 1, 2, 3])["rank_median_step_s"])


class Sketched(TempDir):
    """Beyond the exact limits the recorded ranks' medians are sketched and refined."""
    SAVED = ("EXACT_RANK_STEPS", "EXACT_BUCKET_VALUES")

    def setUp(self):
        super().setUp()
        self.saved = {name: getattr(analysis, name) for name in self.SAVED}

    def tearDown(self):
        for name, value in self.saved.items():
            setattr(analysis, name, value)
        super().tearDown()

    def test_refined_medians_of_a_sample_are_exact(self):
        kw = fabricate(8, n=301, slow_rank=6)
        paths = [self.write("a.h5", "sample:4", kw), self.write("b.h5", "stats", kw)]
        exact = [analysis.analyze_run(load_run(p)) for p in paths]
        analysis.EXACT_RANK_STEPS = analysis.EXACT_BUCKET_VALUES = 0
        for p, e in zip(paths, exact):
            got = analysis.analyze_run(load_run(p))
            self.assertTrue(got["rank_medians_exact"])
            self.assertTrue(got["bucket_durations_exact"])
            for key in ("rank_median_step_s", "slowest_rank", "imbalance", "busy_slowest_rank",
                        "allreduce_bandwidth", "median_step_s", "global_samples_per_step"):
                self.assertEqual(got[key], e[key], (p, key))
            self.assertAlmostEqual(got["comm_concurrent_share"], e["comm_concurrent_share"],
                                   delta=REL)
        self.assertEqual(exact[0]["slowest_rank"], 6)


def point(groups, world):
    (g,) = groups
    (p,) = [p for p in g["points"] if p["world_size"] == world]
    return p


class Pooling(TempDir):
    def groups(self, paths):
        return analysis.analyze_groups(analysis.group_runs([load_run(p) for p in paths]))

    def test_repeats_of_different_modes_pool_the_figures_over_all_ranks(self):
        kws = [fabricate(6, seed=s) for s in (1, 2, 3)]
        ref = [self.write(f"ref{i}.h5", None, kw) for i, kw in enumerate(kws)]
        mixed = [self.write(f"m{i}.h5", mode, kw)
                 for i, (mode, kw) in enumerate(zip(("all", "stats", "sample:3"), kws))]
        want = point(self.groups(ref), 6)
        got = point(self.groups(mixed), 6)
        self.assertEqual(got["repeats"], 3)
        self.assert_all_rank_figures_equal(got, want, "mixed")
        self.assertEqual(got["repeat_median_step_s"], want["repeat_median_step_s"])
        self.assertEqual(got["speedup"], 1.0)
        self.assertEqual(got["record_ranks"], "all,stats,sample:3")
        for key in ("rank_median_step_s", "imbalance", "slowest_rank", "recorded_ranks",
                    "peak_rss_bytes_per_rank", "rank_figures_from"):
            self.assertIsNone(got[key], key)
        self.assertIn("different ranks", got["rank_figures_note"])
        self.assertEqual(got["bucket_figures_from"], "recorded ranks of each repeat")
        # the bucket durations of each repeat's recorded ranks, pooled per size
        n_meas = 21
        # one collective per measured step and bucket, in each of the 3 repeats
        self.assertEqual({e["bytes"]: e["samples"] for e in got["allreduce_bandwidth"]},
                         {MIB: 2 * n_meas * 3, 4 * MIB: n_meas * 3})
        # the table and the plots take a point without per-rank figures
        table = text_table(self.groups(mixed), [])
        self.assertIn("   6  ", table)
        out = self.path("plots")
        os.makedirs(out)
        self.assertEqual(len(plots.make_all(self.groups(mixed), [], out, ["png"])), len(PLOTS))

    def test_repeats_of_one_sample_pool_their_per_rank_figures(self):
        kws = [fabricate(6, seed=s, slow_rank=4) for s in (1, 2)]
        got = point(self.groups([self.write(f"s{i}.h5", "sample:3", kw)
                                 for i, kw in enumerate(kws)]), 6)
        pooled = {k: v for k, v in kws[0].items()}
        for key in ("step_s", "samples", "bucket_duration_s", "peak_rss_bytes"):
            pooled[key] = np.concatenate([kw[key] for kw in kws])
        pooled["phases"] = {k: np.concatenate([kw["phases"][k] for kw in kws])
                            for k in kws[0]["phases"]}
        # both repeats' warm-up rows left out: by hand on their measured rows
        rows = np.r_[np.arange(3, 24), 24 + np.arange(3, 24)]
        for key in ("step_s", "samples", "bucket_duration_s", "peak_rss_bytes"):
            pooled[key] = pooled[key][rows] if key != "peak_rss_bytes" else pooled[key]
        pooled["phases"] = {k: v[rows] for k, v in pooled["phases"].items()}
        pooled["warmup"] = 0
        want = by_hand(pooled, [0, 2, 4])
        self.assertEqual(got["recorded_ranks"], [0, 2, 4])
        self.assertEqual(got["rank_figures_from"], "sample:3")
        for key in ("rank_median_step_s", "slowest_rank", "busy_slowest_rank",
                    "peak_rss_bytes_per_rank"):
            self.assertEqual(got[key], want[key], key)
        self.assertEqual(got["slowest_rank"], 4)


class Malformed(TempDir):
    def good(self, mode="sample:3", world=6):
        return self.write("x.h5", mode, fabricate(world, n=8, warmup=1))

    def refused(self, path, text):
        with self.assertRaisesRegex(RunFileError, text):
            load_run(path)

    def edit(self, fn, mode="sample:3"):
        path = self.good(mode)
        with h5py.File(path, "a") as f:
            fn(f)
        return path

    def test_stats_file_without_rank_stats(self):
        for mode in ("stats", "sample:3"):
            self.refused(self.edit(lambda f: f.__delitem__("rank_stats"), mode),
                         f"record_ranks '{mode}' but no /rank_stats group")

    def test_rank_stats_shapes_fields_and_columns(self):
        def short(f):
            del f["rank_stats/loss"]
            f["rank_stats"].create_dataset("loss", data=np.zeros((7, 5)))
        self.refused(self.edit(short), r"/rank_stats/loss has shape \(7, 5\), expected \(8, 5\)")

        def narrow(f):
            del f["rank_stats/step_s"]
            f["rank_stats"].create_dataset("step_s", data=np.zeros((8, 3)))
        self.refused(self.edit(narrow), r"/rank_stats/step_s has shape \(8, 3\)")
        self.refused(self.edit(lambda f: f["rank_stats"].__delitem__("cpu_s")),
                     "/rank_stats lacks datasets for /steps fields: cpu_s")
        self.refused(self.edit(lambda f: f["rank_stats"].attrs.__setitem__(
            "columns", np.array(["min", "max"], dtype=object))), "attribute columns")

    def test_ranks_attribute(self):
        def ranks(value):
            return lambda f: f["steps"].attrs.__setitem__("ranks", np.asarray(value))
        self.refused(self.edit(ranks([0, 4, 2])), "not ascending without repeats")
        self.refused(self.edit(ranks([0, 2, 2])), "not ascending without repeats")
        self.refused(self.edit(ranks([1, 2, 4])), "lacks rank 0")
        self.refused(self.edit(ranks([0, 2, 6])), "names rank 6, beyond the world size 6")
        self.refused(self.edit(ranks([0, 2])), "has 3 columns, but /steps attribute ranks "
                                               "lists 2 ranks")
        self.refused(self.edit(ranks([0.0, 2.0, 4.0])), "integer array")
        self.refused(self.edit(lambda f: f.attrs.__delitem__("world_size")),
                     "world_size attribute missing")
        # mode all must record every rank
        path = self.edit(lambda f: f.attrs.__setitem__("record_ranks", "all"))
        self.refused(path, "record_ranks is 'all' but /steps attribute ranks lists 3 of 6")

    def test_steps_width_without_ranks_attribute(self):
        # a stats/sample file without `ranks` must hold every rank's column
        self.refused(self.edit(lambda f: f["steps"].attrs.__delitem__("ranks")),
                     r"world_size attribute 6 disagrees with /steps width 3 \(record_ranks "
                     r"'sample:3' without a /steps attribute ranks\)")

    def test_record_ranks_attribute_and_schema_version(self):
        for bad in ("some", "sample:", "sample:0", "sample:x", "stats "):
            self.refused(self.edit(lambda f: f.attrs.__setitem__("record_ranks", bad)),
                         "record_ranks attribute is")
        self.refused(self.edit(lambda f: f.attrs.__setitem__("schema_version", np.int64(1))),
                     "record_ranks 'sample:3' needs schema_version 2")
        self.refused(self.edit(lambda f: f.attrs.__setitem__("schema_version", np.int64(4))),
                     "schema_version 4 is newer")

    def test_bucket_columns(self):
        def wide(f):
            d = f["buckets/duration_s"][()]
            del f["buckets/duration_s"]
            f["buckets"].create_dataset("duration_s", data=np.zeros((d.shape[0], 6, 3)))
        self.refused(self.edit(wide), r"/buckets/duration_s has shape \(8, 6, 3\), expected "
                                      r"\(8, 3, 3\) \(/buckets/step rows, recorded ranks\)")

    def test_max_rank_beyond_the_world(self):
        def bad(f):
            f["rank_stats/step_s"][2, 4] = 9.0
        run = load_run(self.edit(bad))
        with self.assertRaisesRegex(RunFileError, "max_rank holds 9.0, not a rank of 0..5"):
            analysis.analyze_run(run)


class Cli(TempDir):
    def test_end_to_end_stats_and_sample_files(self):
        study = self.path("study")
        os.makedirs(study)
        for n, mode in ((1, None), (2, "all"), (4, "stats"), (8, "sample:3")):
            kw = fabricate(n, n=10, warmup=2, seed=n, slow_rank=n - 1)
            if n == 8:
                kw["step_s"][:, 5] += 0.008  # the slowest of the recorded ranks 0, 2, 5
            name = f"mlp-weak-np{n}-{(mode or 'old').replace(':', '_')}.h5"
            write_run(os.path.join(study, name), record_ranks=mode, **kw)
        out = self.path("out")
        r = subprocess.run([REPORT, study, "--out", out], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in PLOTS:
            for fmt in ("png", "svg"):
                self.assertGreater(os.path.getsize(os.path.join(out, f"{name}.{fmt}")), 0)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            doc = json.load(f)
        runs = {r["world_size"]: r for r in doc["runs"]}
        self.assertEqual({n: r["record_ranks"] for n, r in runs.items()},
                         {1: "all", 2: "all", 4: "stats", 8: "sample:3"})
        self.assertEqual({n: r["rank_figures_from"] for n, r in runs.items()},
                         {1: "all", 2: "all", 4: "rank 0", 8: "sample:3"})
        self.assertEqual(runs[8]["recorded_ranks"], [0, 2, 5])
        self.assertEqual(runs[8]["slowest_rank"], 5)  # the slowest recorded rank: world id
        self.assertEqual(runs[8]["most_often_slowest_rank"], 7)  # over every rank
        self.assertIsNone(runs[4]["imbalance"])
        self.assertEqual(runs[4]["most_often_slowest_rank"], 3)
        self.assertIn("median_step_s", doc["definitions"]["figures_from_all_ranks"])
        self.assertIn("imbalance", doc["definitions"]["figures_from_recorded_ranks"])
        self.assertIn("record_ranks", doc["definitions"])
        (g,) = doc["groups"]
        self.assertEqual([p["world_size"] for p in g["points"]], [1, 2, 4, 8])
        lines = r.stdout.splitlines()
        row4 = next(line for line in lines if line.startswith("   4  "))
        row8 = next(line for line in lines if line.startswith("   8  "))
        self.assertTrue(row4.rstrip().endswith(" -"), row4)
        self.assertIn("(r5)*", row8)
        self.assertIn("imbalance: * over the recorded ranks only", r.stdout)

    def test_refuses_a_stats_file_without_rank_stats(self):
        path = write_run(self.path("s.h5"), record_ranks="stats", **fabricate(4, n=6))
        with h5py.File(path, "a") as f:
            del f["rank_stats"]
        r = subprocess.run([REPORT, self.dir, "--no-plots"], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("record_ranks 'stats' but no /rank_stats group", r.stderr)


class PlotLabels(unittest.TestCase):
    def test_slowest_rank_named_by_its_world_id(self):
        p = {"slowest_rank": 37, "recorded_ranks": [0, 13, 37, 50], "rank_figures_from": "sample:4"}
        self.assertEqual(plots._slowest_label(p), "r37 (of 4 recorded)")
        p = {"slowest_rank": 3, "recorded_ranks": [0, 1, 2, 3], "rank_figures_from": "all"}
        self.assertEqual(plots._slowest_label(p), "r3")


if __name__ == "__main__":
    unittest.main()
