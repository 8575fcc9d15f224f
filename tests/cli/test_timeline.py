"""results/timeline (scalebench_results/timeline.py, docs/timeline.md): a run file as a Chrome
trace (trace-event JSON) for Perfetto and chrome://tracing.

From fake run files (fake_runs.write_run with clock offsets, bucket start and ready times):
- the JSON has the trace-event format's shape: every event ph, ts, pid, tid, name; complete
  events a dur >= 0; metadata events only of the names viewers know; slices on one track nest
  or follow each other (viewers misdraw anything else); no NaN;
- every recorded phase of every drawn rank and step appears exactly once, with its recorded
  duration, end to end in the trainer's order from the step's aligned start; every bucket
  once, from start_s for duration_s, its ready marker at ready_s, its bus bandwidth as
  results/report defines it;
- the ranks' clocks: a rank whose clock runs 5 s ahead, with that offset in the file, lands
  exactly where it would with a true clock; without the offset it lands exactly 5 s later;
  with drift the offset is interpolated between the start and end estimates;
- the default range (measured steps, capped, with a note), --steps, --ranks, the recording
  modes, --record-buckets every:K, /events;
- refusals: exit 2, one line on stderr, no traceback, nothing written (an existing output
  untouched, no temporary file left).

From one real 2-rank run (skipped without the binary: set SCALEBENCH_BIN): every phase and
bucket of every rank once with the file's value, and ready <= start <= end in the trace.

Run: cd tests/cli && /usr/bin/python3 -m unittest -v test_timeline
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
TIMELINE = os.path.join(RESULTS, "timeline")
sys.path.insert(0, RESULTS)

import scalebench_cli  # noqa: E402

if h5py is not None:
    import fake_runs  # noqa: E402
    from scalebench_results import timeline  # noqa: E402

PHASE_FIELDS = ("data_s", "buffer_sync_s", "forward_s", "backward_s", "comm_exposed_s",
                "optimizer_s")
US = 1e6
TOL_US = 1e-6 * US  # 1e-6 s
METADATA = {"process_name", "process_sort_index", "process_labels", "thread_name",
            "thread_sort_index"}


def fake_run(path, n_steps=6, world=2, warmup=1, nb=3, seed=1, rank_clock_shift=None,
             offset_start=None, offset_end=None, sync=None, **kwargs):
    """A consistent fake run with distinct values everywhere (so that "exactly once with its
    value" means something): random phases, wall = step + control + other tiling each rank's
    run clock, buckets ready during backward and started at max(ready, previous start) with
    durations long enough that some overlap the next. rank_clock_shift: per rank, added to
    that rank's run clock (start_time_s, end_time_s). Returns the arrays written."""
    rng = np.random.default_rng(seed)
    phases = {f: rng.uniform(0.001, 0.02, (n_steps, world)) for f in PHASE_FIELDS}
    step = sum(phases[f] for f in PHASE_FIELDS)
    control = rng.uniform(1e-4, 1e-3, (n_steps, world))
    other = rng.uniform(1e-4, 1e-3, (n_steps, world))
    wall = step + control + other
    start = 0.5 + np.cumsum(wall, axis=0) - wall
    if rank_clock_shift is not None:
        start = start + np.asarray(rank_clock_shift, np.float64)[None, :]
    end = start + step
    before_backward = phases["data_s"] + phases["buffer_sync_s"] + phases["forward_s"]
    frac = np.sort(rng.uniform(0.1, 1.0, (n_steps, world, nb)), axis=2)
    ready = before_backward[:, :, None] + frac * phases["backward_s"][:, :, None]
    bstart = np.maximum.accumulate(ready + rng.uniform(0, 2e-4, ready.shape), axis=2)
    bdur = rng.uniform(0.001, 0.004, (n_steps, world, nb))
    values = dict(phases, control_s=control, other_s=other, wall_s=wall, start_time_s=start,
                  end_time_s=end, loss=rng.uniform(1, 3, (n_steps, world)))
    args = dict(step_s=step, warmup=warmup, phases=values, samples=16,
                bucket_bytes=[4000 * (b + 1) for b in range(nb)], bucket_duration_s=bdur,
                bucket_start_s=bstart, bucket_ready_s=ready,
                clock_offset_start_s=np.zeros(world) if offset_start is None else offset_start,
                clock_offset_end_s=offset_end, clock_sync_s=sync,
                hostnames=[f"host{r}" for r in range(world)])
    args.update(kwargs)
    if "clock_offset_end_s" not in kwargs and offset_end is None:
        args["clock_offset_end_s"] = args["clock_offset_start_s"]
    fake_runs.write_run(path, **args)
    return dict(values, step_s=step, ready=ready, bstart=bstart, bdur=bdur,
                bytes=np.array(args["bucket_bytes"]))


def check_trace_format(test, trace):
    """The trace-event format as Perfetto and chrome://tracing read it."""
    test.assertEqual(set(trace), {"traceEvents", "displayTimeUnit", "otherData"})
    test.assertEqual(trace["displayTimeUnit"], "ms")
    test.assertIsInstance(trace["otherData"], dict)
    json.dumps(trace, allow_nan=False)  # no NaN or inf anywhere
    tracks = {}
    pid_of_tid = {}
    for e in trace["traceEvents"]:
        for key in ("ph", "ts", "pid", "tid", "name"):
            test.assertIn(key, e, e)
        test.assertIsInstance(e["name"], str)
        test.assertIsInstance(e["pid"], int)
        test.assertIsInstance(e["tid"], int)
        test.assertGreater(e["pid"], 0, "pid 0 is the swapper to Perfetto")
        test.assertGreater(e["tid"], 0, "tid 0 has been mishandled by Perfetto")
        test.assertLess(e["tid"], 1 << 31)
        # one tid, one process: viewers have merged equal tids of different processes
        test.assertEqual(pid_of_tid.setdefault(e["tid"], e["pid"]), e["pid"], e)
        test.assertTrue(math.isfinite(e["ts"]), e)
        test.assertIn(e["ph"], ("X", "i", "M"), e)
        if e["ph"] == "M":
            test.assertIn(e["name"], METADATA, e)
            test.assertIsInstance(e["args"], dict)
        elif e["ph"] == "X":
            test.assertGreaterEqual(e["dur"], 0, e)
            tracks.setdefault((e["pid"], e["tid"]), []).append(e)
        else:
            test.assertIn(e["s"], ("t", "p", "g"), e)
    # Slices of one track nest or follow each other: the viewers' one requirement.
    for track, slices in tracks.items():
        stack = []
        for e in sorted(slices, key=lambda e: (e["ts"], -e["dur"])):
            begin, end = round(e["ts"] * 1000), round((e["ts"] + e["dur"]) * 1000)  # ns
            while stack and stack[-1] <= begin:
                stack.pop()
            if stack:
                test.assertLessEqual(end, stack[-1], f"{track}: {e} overlaps its enclosing slice")
            stack.append(end)


def named(trace, ph=None, cat=None, pid=None):
    return [e for e in trace["traceEvents"]
            if (ph is None or e["ph"] == ph) and (cat is None or e.get("cat") == cat)
            and (pid is None or e["pid"] == pid)]


def run_cli(*args, executable=False):
    cmd = [TIMELINE] if executable else [sys.executable, TIMELINE]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                          timeout=60)


@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class TimelineFromFakeRuns(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_format_processes_and_threads(self):
        run = self.path("r.h5")
        fake_run(run, world=3)
        out = self.path("t.json")
        summary = timeline.write_trace(run, out)
        with open(out) as f:
            trace = json.load(f)
        check_trace_format(self, trace)
        self.assertEqual(summary["events"], len([e for e in trace["traceEvents"]
                                                  if e["ph"] != "M"]))
        self.assertEqual(summary["ranks"], [0, 1, 2])
        names = {e["pid"]: e["args"]["name"] for e in named(trace, "M")
                 if e["name"] == "process_name"}
        self.assertEqual(names, {1: "rank 0 (host0)", 2: "rank 1 (host1)", 3: "rank 2 (host2)"})
        order = {e["pid"]: e["args"]["sort_index"] for e in named(trace, "M")
                 if e["name"] == "process_sort_index"}
        self.assertEqual(order, {1: 0, 2: 1, 3: 2})
        threads = {(e["pid"], e["args"]["name"]) for e in named(trace, "M")
                   if e["name"] == "thread_name"}
        for pid in (1, 2, 3):
            for name in ("compute", "bucket ready", "comm"):
                self.assertIn((pid, name), threads)
        # Every drawn event sits on a named thread of its process.
        tids = {(e["pid"], e["tid"]) for e in named(trace, "M") if e["name"] == "thread_name"}
        for e in trace["traceEvents"]:
            if e["ph"] != "M" and e.get("s") != "g":
                self.assertIn((e["pid"], e["tid"]), tids, e)
        self.assertEqual(trace, timeline.build_trace(run))

    def test_every_phase_once_with_its_duration_end_to_end(self):
        run = self.path("r.h5")
        v = fake_run(run, n_steps=5, world=2, warmup=1)
        trace = timeline.build_trace(run, steps="0:5")
        check_trace_format(self, trace)
        names = [n for _, n in timeline.PHASES]
        self.assertEqual([f for f, _ in timeline.PHASES], list(PHASE_FIELDS))
        for rank in (0, 1):
            phases = named(trace, "X", "phase", rank + 1)
            self.assertEqual(len(phases), 5 * len(PHASE_FIELDS))
            for i in range(5):
                mine = [e for e in phases if e["args"]["step"] == i]
                self.assertEqual([e["name"] for e in mine], names)  # once each, in order
                ts = v["start_time_s"][i, rank] * US
                for e, field in zip(mine, PHASE_FIELDS):
                    self.assertAlmostEqual(e["dur"], v[field][i, rank] * US, delta=TOL_US)
                    self.assertEqual(e["args"]["duration_s"], v[field][i, rank])
                    self.assertAlmostEqual(e["ts"], ts, delta=TOL_US)
                    ts = e["ts"] + e["dur"]
                    self.assertEqual(e["args"]["warmup"], i == 0)
                    self.assertEqual(e["args"]["samples"], 16)
                    self.assertAlmostEqual(e["args"]["loss"], v["loss"][i, rank])
                step = [e for e in named(trace, "X", "step", rank + 1)
                        if e["args"]["step"] == i]
                self.assertEqual(len(step), 1)
                self.assertAlmostEqual(step[0]["dur"], v["step_s"][i, rank] * US, delta=TOL_US)
                self.assertAlmostEqual(step[0]["args"]["wall_s"], v["wall_s"][i, rank])
                control = [e for e in named(trace, "X", "control", rank + 1)
                           if e["args"]["step"] == i]
                self.assertEqual(len(control), 1)
                self.assertAlmostEqual(control[0]["dur"], v["control_s"][i, rank] * US,
                                       delta=TOL_US)
                self.assertGreaterEqual(control[0]["ts"], ts - TOL_US)

    def test_every_bucket_once_with_ready_and_bandwidth(self):
        run = self.path("r.h5")
        v = fake_run(run, n_steps=4, world=2, warmup=0, nb=3)
        trace = timeline.build_trace(run)
        check_trace_format(self, trace)
        factor = 2.0 * (2 - 1) / 2
        lanes = set()
        for rank in (0, 1):
            buckets = named(trace, "X", "bucket", rank + 1)
            ready = named(trace, "i", "ready", rank + 1)
            self.assertEqual(len(buckets), 4 * 3)
            self.assertEqual(len(ready), 4 * 3)
            for i in range(4):
                origin = v["start_time_s"][i, rank]
                for b in range(3):
                    [e] = [e for e in buckets if (e["args"]["step"], e["args"]["bucket"]) == (i, b)]
                    [r] = [e for e in ready if (e["args"]["step"], e["args"]["bucket"]) == (i, b)]
                    self.assertEqual(e["name"], f"bucket {b}")
                    self.assertAlmostEqual(e["dur"], v["bdur"][i, rank, b] * US, delta=TOL_US)
                    self.assertAlmostEqual(e["ts"], (origin + v["bstart"][i, rank, b]) * US,
                                           delta=TOL_US)
                    self.assertAlmostEqual(r["ts"], (origin + v["ready"][i, rank, b]) * US,
                                           delta=TOL_US)
                    self.assertLessEqual(r["ts"], e["ts"])
                    self.assertEqual(e["args"]["bytes"], v["bytes"][b])
                    fastest = v["bdur"][i, :, b].min()  # results/report's collective time
                    self.assertAlmostEqual(e["args"]["busbw_GBps"],
                                           v["bytes"][b] / fastest * factor / 1e9)
                    self.assertAlmostEqual(e["args"]["rank_busbw_GBps"],
                                           v["bytes"][b] / v["bdur"][i, rank, b] * factor / 1e9)
                    self.assertAlmostEqual(e["args"]["queued_s"],
                                           v["bstart"][i, rank, b] - v["ready"][i, rank, b])
                    lanes.add(e["tid"])
        # The fake's buckets overlap at times: those go to a second comm lane, never on top of
        # each other (check_trace_format checked the nesting).
        self.assertGreater(len(lanes), 1)

    def test_clock_offset_shifts_a_rank_exactly(self):
        true = self.path("true.h5")
        ahead = self.path("ahead.h5")
        unaligned = self.path("unaligned.h5")
        fake_run(true, world=2)
        fake_run(ahead, world=2, rank_clock_shift=[0.0, 5.0], offset_start=[0.0, 5.0])
        fake_run(unaligned, world=2, rank_clock_shift=[0.0, 5.0], offset_start=[0.0, 0.0])
        t_true, t_ahead, t_unaligned = (timeline.build_trace(p, steps="0:6")
                                        for p in (true, ahead, unaligned))

        def times(trace, pid):
            return [(e["name"], e.get("args", {}).get("step"), e["ts"], e.get("dur"))
                    for e in trace["traceEvents"] if e["ph"] != "M" and e["pid"] == pid]

        # Rank 1's clock runs 5 s ahead and the file says so: it lands where a true clock puts it.
        for pid in (1, 2):
            self.assertEqual(len(times(t_true, pid)), len(times(t_ahead, pid)))
            self.assertGreater(len(times(t_true, pid)), 50)
            for a, b in zip(times(t_true, pid), times(t_ahead, pid)):
                self.assertEqual(a[:2], b[:2])
                self.assertAlmostEqual(a[2], b[2], delta=1e-3)  # 1 ns
                self.assertAlmostEqual(a[3] or 0, b[3] or 0, delta=1e-3)
        # Without the offset rank 1 is exactly 5 s late, rank 0 unmoved.
        for a, b in zip(times(t_true, 2), times(t_unaligned, 2)):
            self.assertAlmostEqual(b[2] - a[2], 5.0 * US, delta=1e-3)
        self.assertEqual(times(t_true, 1), times(t_unaligned, 1))
        self.assertIn("+5000.000 ms", [e["args"]["labels"] for e in named(t_ahead, "M", pid=2)
                                       if e["name"] == "process_labels"][0])

    def test_drift_is_interpolated_between_the_estimates(self):
        run = self.path("drift.h5")
        sync = (0.1, 2.0)
        v = fake_run(run, n_steps=8, world=2, warmup=0, offset_start=[0.0, 5.0],
                     offset_end=[0.0, 5.004], sync=sync)
        trace = timeline.build_trace(run)
        for e in named(trace, "X", "step", pid=2):
            t = v["start_time_s"][e["args"]["step"], 1]
            offset = 5.0 + 0.004 * (t - sync[0]) / (sync[1] - sync[0])
            self.assertAlmostEqual(e["ts"], (t - offset) * US, delta=1e-3)
        self.assertTrue(timeline.write_trace(run, self.path("d.json"))["clock_interpolated"])

    def test_start_estimate_alone_without_the_end_one(self):
        run = self.path("stuck.h5")
        v = fake_run(run, world=2, warmup=0, offset_start=[0.0, 2.5],
                     clock_offset_end_s=None, rank_clock_shift=[0.0, 2.5], status="stuck")
        summary = timeline.write_trace(run, self.path("s.json"))
        self.assertFalse(summary["clock_interpolated"])
        self.assertTrue(any("start estimate alone" in n for n in summary["notes"]))
        trace = timeline.build_trace(run)
        for e in named(trace, "X", "step", pid=2):
            self.assertAlmostEqual(e["ts"], (v["start_time_s"][e["args"]["step"], 1] - 2.5) * US,
                                   delta=1e-3)

    def test_default_range_is_capped_with_a_note(self):
        run = self.path("long.h5")
        n = timeline.DEFAULT_MAX_STEPS + 30
        fake_run(run, n_steps=n, world=1, warmup=2, nb=0)
        out = self.path("long.json")
        res = run_cli(run, "-o", out)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("--steps", res.stderr)
        self.assertIn("first 200", res.stderr)
        with open(out) as f:
            trace = json.load(f)
        steps = sorted(e["args"]["step"] for e in named(trace, "X", "step"))
        self.assertEqual(steps, list(range(2, 2 + timeline.DEFAULT_MAX_STEPS)))  # measured only
        # Asked for, every step, warm-up included and flagged, without a cap or a note.
        res = run_cli(run, "--steps", f"0:{n}", "-o", out)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertNotIn("note", res.stderr)
        with open(out) as f:
            trace = json.load(f)
        steps = {e["args"]["step"]: e["args"]["warmup"] for e in named(trace, "X", "step")}
        self.assertEqual(sorted(steps), list(range(n)))
        self.assertEqual([s for s, w in steps.items() if w], [0, 1])

    def test_steps_and_ranks_select(self):
        run = self.path("r.h5")
        fake_run(run, n_steps=6, world=4, warmup=0)
        for spec, expected in (("2:4", [2, 3]), ("4", [4]), ("3:", [3, 4, 5]), (":2", [0, 1]),
                               ((1, 3), [1, 2])):
            trace = timeline.build_trace(run, steps=spec, ranks="1,3")
            self.assertEqual(sorted({e["args"]["step"] for e in named(trace, "X", "step")}),
                             expected, spec)
            self.assertEqual({e["pid"] for e in trace["traceEvents"]}, {2, 4})
        trace = timeline.build_trace(run, ranks=[0, 2])
        self.assertEqual({e["pid"] for e in trace["traceEvents"]}, {1, 3})

    def test_sampled_ranks_and_stats_files(self):
        run = self.path("sample.h5")
        fake_run(run, world=4, record_ranks="sample:2")
        summary = timeline.write_trace(run, self.path("s.json"))
        self.assertEqual(summary["ranks"], [0, 2])
        self.assertTrue(any("sample:2" in n for n in summary["notes"]))
        trace = timeline.build_trace(run, ranks="2")
        self.assertEqual({e["pid"] for e in trace["traceEvents"]}, {3})
        self.assertEqual(len(named(trace, "X", "step")), 5)  # 6 steps, 1 warm-up
        stats = self.path("stats.h5")
        fake_run(stats, world=4, record_ranks="stats")
        self.assertEqual(timeline.write_trace(stats, self.path("t.json"))["ranks"], [0])

    def test_bucket_rows_of_every_k_steps(self):
        run = self.path("every.h5")
        fake_run(run, n_steps=6, world=2, warmup=0, bucket_every=2)
        trace = timeline.build_trace(run)
        self.assertEqual(sorted({e["args"]["step"] for e in named(trace, "X", "bucket")}),
                         [0, 2, 4])
        self.assertEqual(len(named(trace, "X", "bucket")), 3 * 2 * 3)

    def test_events_are_global_instants_of_the_drawn_steps(self):
        run = self.path("ev.h5")
        v = fake_run(run, n_steps=6, world=2, warmup=0, sync=(0.25, 3.0), events=[
            {"time_s": 0.5, "rank": 0, "step": 1, "kind": "early_stop", "message": "patience"},
            {"time_s": 0.6, "rank": 0, "step": 5, "kind": "interrupted",
             "message": "SIGTERM received; stopped after step 5"}])
        trace = timeline.build_trace(run, steps="0:3")
        [e] = named(trace, "i", "run_event")
        self.assertEqual((e["name"], e["s"], e["args"]["message"]), ("early_stop", "g",
                                                                    "patience"))
        # time_s counts from the file's creation, placed at time_s + clock_sync_start_s
        self.assertAlmostEqual(e["ts"], (0.5 + 0.25) * US, delta=1e-3)
        self.assertEqual(len(named(timeline.build_trace(run), "i", "run_event")), 2)
        summary = timeline.write_trace(run, self.path("e.json"), steps="0:3")
        self.assertTrue(any("/events" in n for n in summary["notes"]))
        self.assertGreater(v["end_time_s"][5, 0], 0)
        self.assertIn("late by at most", trace["otherData"]["run_events"])

    def test_events_origin_on_the_run_clock_places_events_exactly(self):
        run = self.path("ev_exact.h5")
        fake_run(run, n_steps=6, world=2, warmup=0, sync=(0.25, 3.0),
                 events_origin_run_clock_s=0.125, events=[
                     {"time_s": 0.5, "rank": 0, "step": 1, "kind": "early_stop",
                      "message": "patience"}])
        trace = timeline.build_trace(run)
        [e] = named(trace, "i", "run_event")
        self.assertAlmostEqual(e["ts"], (0.5 + 0.125) * US, delta=1e-3)
        self.assertEqual(e["args"]["placed_late_by_at_most_s"], 0.0)
        self.assertIn("exact", trace["otherData"]["run_events"])

    def test_cli_writes_atomically_and_help_starts_with_examples(self):
        run = self.path("r.h5")
        fake_run(run)
        out = self.path("trace.json")
        res = run_cli(run, "-o", out, executable=True)  # the script itself, any python3 first
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("wrote", res.stdout)
        with open(out) as f:
            check_trace_format(self, json.load(f))
        self.assertEqual(sorted(os.listdir(self.dir)), ["r.h5", "trace.json"])
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o666 & ~_umask())
        res = run_cli("--help")
        self.assertEqual(res.returncode, 0)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0], "examples:")
        examples = [line for line in lines[1:4] if line.strip().startswith("results/timeline ")]
        self.assertGreaterEqual(len(examples), 2, lines[:5])

    def refused(self, args, message, existing=None):
        """The CLI refuses: exit 2, one line on stderr naming `message`, nothing written (an
        existing output file untouched), nothing left in the directory."""
        out = self.path("out.json")
        if existing is not None:
            with open(out, "w") as f:
                f.write(existing)
        before = sorted(os.listdir(self.dir))
        res = run_cli(*args, "-o", out)
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        lines = res.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, res.stderr)
        self.assertTrue(lines[0].startswith("timeline: error: "), lines[0])
        self.assertIn(message, lines[0])
        self.assertNotIn("Traceback", res.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), before)
        if existing is None:
            self.assertFalse(os.path.exists(out))
        else:
            with open(out) as f:
                self.assertEqual(f.read(), existing)
            os.remove(out)

    def test_refusals(self):
        good = self.path("good.h5")
        fake_run(good, n_steps=6, world=4, warmup=1)
        old = self.path("v2.h5")
        fake_runs.write_run(old, world_size=2, schema_version=2, record_ranks="stats")
        v1 = self.path("v1.h5")
        fake_runs.write_run(v1, world_size=2, schema_version=1)
        no_clock = self.path("noclock.h5")
        fake_runs.write_run(no_clock, world_size=2)  # version 3 without clock offsets
        foreign = self.path("foreign.h5")
        fake_runs.write_run(foreign, format_name="something-else")
        text = self.path("notes.h5")
        with open(text, "w") as f:
            f.write("not hdf5\n")
        sample = self.path("sample.h5")
        fake_run(sample, world=4, record_ranks="sample:2")
        stats = self.path("stats.h5")
        fake_run(stats, world=4, record_ranks="stats")
        empty = self.path("empty.h5")
        fake_run(empty, n_steps=0, world=2, warmup=0)
        cases = [
            ([old], "no aligned clocks"),
            ([v1], "no aligned clocks"),
            ([no_clock], "no clock offsets"),
            ([foreign], "not a scalebench run file"),
            ([text], "cannot be read as HDF5"),
            ([self.path("missing.h5")], "no such file"),
            ([empty], "no steps recorded"),
            ([good, "--steps", "a:b"], "expected A:B"),
            ([good, "--steps", "4:2"], "empty range"),
            ([good, "--steps", "1:2:3"], "expected A:B"),
            ([good, "--steps", ":"], "expected A:B"),
            ([good, "--steps", "0:99"], "out of range"),
            ([good, "--steps", "7"], "out of range"),
            ([good, "--ranks", "x"], "expected a list of ranks"),
            ([good, "--ranks", "3-1"], "backwards"),
            ([good, "--ranks", "2,9"], "not in the run"),
            ([sample, "--ranks", "0,1"], "not recorded"),
            ([stats, "--ranks", "1"], "--record-ranks stats"),
        ]
        for args, message in cases:
            with self.subTest(args=args[1:] or args):
                self.refused(args, message)
        with self.subTest("an existing output stays as it was"):
            self.refused([good, "--steps", "0:99"], "out of range", existing="previous trace\n")
        with self.subTest("the run file itself as output"):
            res = run_cli(good, "-o", good)
            self.assertEqual(res.returncode, 2)
            self.assertIn("the run file itself", res.stderr)
            self.assertEqual(timeline.write_trace(good, self.path("ok.json"))["ranks"],
                             [0, 1, 2, 3])
        with self.subTest("an output directory that does not exist"):
            res = run_cli(good, "-o", self.path("nowhere/t.json"))
            self.assertEqual(res.returncode, 2)
            self.assertIn("does not exist", res.stderr)
        with self.subTest("the API raises TimelineError"):
            with self.assertRaises(timeline.TimelineError):
                timeline.write_trace(no_clock, self.path("x.json"))
            self.assertFalse(os.path.exists(self.path("x.json")))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@scalebench_cli.require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class TimelineOfARealRun(unittest.TestCase):
    """One real 2-rank run (cifar10_cnn, a few small steps, several buckets)."""

    STEPS, WARMUP = 4, 1

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.run_path = os.path.join(cls.tmp.name, "real.h5")
        res = scalebench_cli.run_scalebench(
            ["--model", "cifar10_cnn", "--device", "cpu", "--steps", str(cls.STEPS),
             "--warmup-steps", str(cls.WARMUP), "--batch-size", "4", "--bucket-mb", "1",
             "--threads", "1", "--quiet", "--output", cls.run_path], ranks=2, timeout=300)
        if res.returncode != 0:
            raise AssertionError(f"scalebench: exit {res.returncode}\n{res.stdout}{res.stderr}")
        cls.out = os.path.join(cls.tmp.name, "real.json")
        cls.summary = timeline.write_trace(cls.run_path, cls.out, steps=f"0:{cls.STEPS}")
        with open(cls.out) as f:
            cls.trace = json.load(f)
        with h5py.File(cls.run_path, "r") as f:
            cls.steps = {k: f["steps"][k][()] for k in f["steps"]}
            cls.buckets = {k: f["buckets"][k][()] for k in f["buckets"]}
            cls.ranks = {k: f["ranks"][k][()] for k in f["ranks"]}
            cls.attrs = {k: f.attrs[k] for k in ("clock_sync_start_s", "clock_sync_end_s",
                                                 "events_origin_run_clock_s")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def aligned(self, t, rank):
        """docs/hdf5-layout.md: t - (o_start + (o_end - o_start) * (t - sync_start) /
        (sync_end - sync_start)), on rank 0's run clock."""
        o0 = self.ranks["clock_offset_start_s"][rank]
        o1 = self.ranks["clock_offset_end_s"][rank]
        t0, t1 = self.attrs["clock_sync_start_s"], self.attrs["clock_sync_end_s"]
        return t - (o0 + (o1 - o0) * (t - t0) / (t1 - t0))

    def test_events_origin_lies_between_run_clock_origin_and_the_start_estimate(self):
        # The recorder (the origin of /events/time_s) is created after the run clock starts and
        # before the start clock estimate (src/app/train_command.cpp), and before any step.
        origin = float(self.attrs["events_origin_run_clock_s"])
        self.assertGreater(origin, 0.0)
        self.assertLess(origin, float(self.attrs["clock_sync_start_s"]))
        self.assertLess(origin, float(self.steps["start_time_s"][0, 0]))

    def test_format_and_the_trainers_phase_order(self):
        check_trace_format(self, self.trace)
        self.assertEqual([f for f, _ in timeline.PHASES],
                         scalebench_cli.step_schema()["phases"])
        self.assertEqual(self.summary["ranks"], [0, 1])
        self.assertTrue(self.summary["clock_interpolated"])

    def test_every_phase_of_every_rank_once_with_its_value(self):
        s = self.steps
        names = [n for _, n in timeline.PHASES]
        for rank in (0, 1):
            phases = named(self.trace, "X", "phase", rank + 1)
            self.assertEqual(len(phases), self.STEPS * len(names))
            for i in range(self.STEPS):
                mine = [e for e in phases if e["args"]["step"] == s["step"][i, rank]]
                self.assertEqual([e["name"] for e in mine], names)
                for e, (field, _) in zip(mine, timeline.PHASES):
                    self.assertAlmostEqual(e["dur"], s[field][i, rank] * US, delta=TOL_US)
                    self.assertEqual(e["args"]["duration_s"], s[field][i, rank])
                    self.assertEqual(e["args"]["warmup"], bool(s["warmup"][i, rank]))
                for a, b in zip(mine, mine[1:]):  # end to end
                    self.assertAlmostEqual(a["ts"] + a["dur"], b["ts"], delta=1e-3)

    def test_every_bucket_once_ready_before_start_before_end(self):
        b, s = self.buckets, self.steps
        nb = b["bytes"].shape[0]
        self.assertGreater(nb, 1, "--bucket-mb 1 must make several buckets")
        for rank in (0, 1):
            pid = rank + 1
            buckets = {(e["args"]["step"], e["args"]["bucket"]): e
                       for e in named(self.trace, "X", "bucket", pid)}
            ready = {(e["args"]["step"], e["args"]["bucket"]): e
                     for e in named(self.trace, "i", "ready", pid)}
            self.assertEqual(len(buckets), self.STEPS * nb)
            self.assertEqual(len(named(self.trace, "X", "bucket", pid)), self.STEPS * nb)
            self.assertEqual(len(ready), self.STEPS * nb)
            for j, step in enumerate(b["step"]):
                i = int(np.nonzero(s["step"][:, rank] == step)[0][0])
                for k in range(nb):
                    e, r = buckets[(int(step), k)], ready[(int(step), k)]
                    self.assertAlmostEqual(e["dur"], b["duration_s"][j, rank, k] * US,
                                           delta=TOL_US)
                    self.assertEqual(e["args"]["bytes"], b["bytes"][k])
                    # the file's own order holds in the trace: ready <= start <= end
                    self.assertLessEqual(r["ts"], e["ts"] + 1e-3)
                    self.assertGreater(e["dur"], 0)
                    # at start_time_s + start_s, the step's start aligned by the formula of
                    # docs/hdf5-layout.md (to the nanoseconds the trace is rounded to)
                    aligned = self.aligned(s["start_time_s"][i, rank], rank)
                    self.assertAlmostEqual(e["ts"], (aligned + b["start_s"][j, rank, k]) * US,
                                           delta=0.01)
                    self.assertTrue(math.isfinite(e["args"]["busbw_GBps"]))

    def test_ranks_overlap_on_the_aligned_clock(self):
        # Each allreduce needs both ranks: on one time axis a bucket cannot end on one rank
        # before it started on the other (to within the offsets' uncertainty).
        bound = float(np.max(self.ranks["clock_offset_start_uncertainty_s"])) * US
        by = {}
        for e in named(self.trace, "X", "bucket"):
            by.setdefault((e["args"]["step"], e["args"]["bucket"]), []).append(e)
        for key, pair in by.items():
            self.assertEqual(len(pair), 2, key)
            ends = min(e["ts"] + e["dur"] for e in pair)
            starts = max(e["ts"] for e in pair)
            self.assertGreaterEqual(ends, starts - 2 * bound - 100, key)


if __name__ == "__main__":
    unittest.main()
