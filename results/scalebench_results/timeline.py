"""results/timeline: one run file as a Chrome trace (trace-event JSON), for Perfetto
(ui.perfetto.dev) and chrome://tracing. See docs/timeline.md for what is drawn and why.

    write_trace(run_path, out_path, steps=None, ranks=None) -> summary dict
    build_trace(run_path, steps=None, ranks=None) -> the trace object ({"traceEvents": ...})

steps: None (the measured steps, at most a default number), "A:B" (the /steps/step values
A <= step < B; "A:" and ":B" open, "A" one step) or a pair (A, B) of the same meaning.
ranks: None (every recorded rank), "0,2,4-7" or a sequence of world ranks.
Anything the trace cannot be drawn from raises TimelineError (a one-line message), before any
file is touched.

Layout (one process per rank, pid = rank + 1: pid 0 is the kernel's swapper to Perfetto, which
gives it special handling, so the rank is in the process name and args; tids unique over the
trace, pid * 1000 + the thread's number):
- thread "compute": per step a slice "step S" (step_s) holding its phases end to end from the
  step's start_time_s, in the trainer's order (src/train/trainer.cpp: data, buffer broadcast,
  forward, backward, the wait for the last bucket, optimizer), then "control" (the stop
  agreement) from end_time_s;
- thread "bucket ready": an instant "bucket b ready" at /buckets/ready_s (where measured);
- thread "comm": each bucket's allreduce from start_s for duration_s ("comm 2", ... hold
  allreduces that overlap an earlier one on the same rank, where a backend runs several at
  once: one slice track cannot show overlapping slices);
- /events rows as global instants.

Time axis: microseconds on rank 0's run clock. Each step's start is put on it with the
interpolated clock offset of docs/hdf5-layout.md ("One time axis for all ranks"); within a
step the rank's own durations are laid from there, so every slice has exactly its recorded
duration (to the nanosecond the trace is rounded to) and the offset's drift within one step
(well under its uncertainty) is not applied.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import h5py
import numpy as np

from . import analysis
from .atomic import write_text_atomic
from . import runfile

PROG = "timeline"
EXIT_REFUSED = 2

# /steps phase fields in the order the trainer runs them (src/train/trainer.cpp, Phase in
# src/metrics/phase_clock.hpp), with their slice names.
PHASES = (
    ("data_s", "data"),
    ("buffer_sync_s", "buffer sync"),
    ("forward_s", "forward"),
    ("backward_s", "backward"),
    ("comm_exposed_s", "comm wait (exposed)"),
    ("optimizer_s", "optimizer"),
)
STEP_READ_FIELDS = ("step", "warmup", "epoch", "samples", "loss", "step_s", "wall_s",
                    "control_s", "other_s", "start_time_s", "end_time_s", "buffer_sync_bytes",
                    "bytes_reduced", "comm_busy_s") + tuple(f for f, _ in PHASES)

# Threads (tids) of every rank's process, and their order on screen.
TID_COMPUTE = 1
TID_READY = 2
TID_COMM = 3  # lane L of the comm track is TID_COMM + L
# Written tid = pid * TID_STRIDE + the above (small enough for 32 bits at a million ranks:
# Perfetto merges threads whose tids do not fit). The comm lanes are capped below the stride.
TID_STRIDE = 1000
MAX_LANES = TID_STRIDE - TID_COMM
SORT_COMPUTE, SORT_READY, SORT_COMM = 0, 1, 2

# Default step range: the first DEFAULT_MAX_STEPS measured steps, fewer where the ranks and
# buckets would make more than DEFAULT_MAX_EVENTS events: a trace of a few hundred thousand
# events (about 300 bytes each: tens of MB of JSON) opens in chrome://tracing; millions do not.
DEFAULT_MAX_STEPS = 200
DEFAULT_MAX_EVENTS = 200_000

METADATA_NAMES = ("process_name", "process_sort_index", "process_labels", "thread_name",
                  "thread_sort_index")


class TimelineError(Exception):
    """The trace cannot be drawn from this file with these options (one-line reason)."""


# --- options --------------------------------------------------------------------------------

StepsArg = Union[None, str, Tuple[Optional[int], Optional[int]]]
RanksArg = Union[None, str, Sequence[int]]


def parse_steps(value: StepsArg) -> Optional[Tuple[Optional[int], Optional[int]]]:
    """(A, B) of "A:B" / "A:" / ":B" / "A" (one step: (A, A + 1)); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        m = re.fullmatch(r"(\d*)(:(\d*))?", text)
        if not m or text in ("", ":"):
            raise TimelineError(f"--steps {value!r}: expected A:B (steps A <= step < B, e.g. "
                                f"100:150), A: or :B or one step A, with non-negative integers")
        a = int(m.group(1)) if m.group(1) else None
        if m.group(2) is None:
            return a, a + 1  # one step
        b = int(m.group(3)) if m.group(3) else None
    else:
        try:
            a, b = value
        except (TypeError, ValueError):
            raise TimelineError(f"steps {value!r}: expected \"A:B\" or a pair (A, B)") from None
        for v in (a, b):
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool)
                                  or v < 0):
                raise TimelineError(f"steps {value!r}: A and B must be non-negative integers "
                                    f"or None")
        a = None if a is None else int(a)
        b = None if b is None else int(b)
    if a is not None and b is not None and b <= a:
        raise TimelineError(f"--steps {_fmt_steps(a, b)}: empty range (B must be above A: "
                            f"steps A <= step < B)")
    return a, b


def parse_ranks(value: RanksArg) -> Optional[List[int]]:
    """Sorted distinct ranks of "0,2,4-7" or of a sequence; None stays None."""
    if value is None:
        return None
    out: List[int] = []
    if isinstance(value, str):
        for part in value.split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise TimelineError(f"--ranks {value!r}: expected a list of ranks and ranges, "
                                    f"e.g. 0,3,8-11")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                raise TimelineError(f"--ranks {value!r}: range {part} runs backwards")
            out.extend(range(lo, hi + 1))
    else:
        for v in value:
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise TimelineError(f"ranks {value!r}: expected non-negative integers")
            out.append(int(v))
    if not out:
        raise TimelineError("--ranks: no rank given")
    return sorted(set(out))


def _fmt_steps(a: Optional[int], b: Optional[int]) -> str:
    return f"{'' if a is None else a}:{'' if b is None else b}"


def _fmt_ranks(ranks: Sequence[int]) -> str:
    """0,1,2,3,7 -> "0-3,7" (for messages)."""
    parts: List[str] = []
    ranks = list(ranks)
    i = 0
    while i < len(ranks):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] == ranks[j] + 1:
            j += 1
        parts.append(str(ranks[i]) if i == j else f"{ranks[i]}-{ranks[j]}")
        i = j + 1
    return ",".join(parts)


# --- reading --------------------------------------------------------------------------------

def _load(run_path: str) -> runfile.RunData:
    if not os.path.exists(run_path):
        raise TimelineError(f"{run_path}: no such file")
    if os.path.isdir(run_path):
        raise TimelineError(f"{run_path}: is a directory, not a run file")
    try:
        # Unfinished runs (stuck, failed, interrupted, .partial) are what a timeline is most
        # often wanted for: their recorded steps are drawn like any others.
        return runfile.load_run(run_path, allow_incomplete=True)
    except (runfile.RunFileError, runfile.IncompleteRun) as e:
        raise TimelineError(str(e)) from None
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise TimelineError(f"{run_path}: cannot be read as a scalebench run file "
                            f"({type(e).__name__}: {e})") from None


def _open(run: runfile.RunData) -> h5py.File:
    # runfile's opener: the same locking choice load_run made (none for a live .partial).
    return runfile._open(run.path, run.locking)


def _float(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


class Clock:
    """Rank r's run-clock times on rank 0's run clock (docs/hdf5-layout.md, "One time axis for
    all ranks"): t - offset_r(t), the offset interpolated linearly between the start and end
    estimates, or the start estimate alone where the end one is missing."""

    def __init__(self, run: runfile.RunData, ranks: Sequence[int], notes: List[str]):
        path = run.path
        if run.schema_version < 3:
            raise TimelineError(f"{path}: schema_version {run.schema_version} has no aligned "
                                f"clocks (version 3 added /steps/start_time_s and "
                                f"/ranks/clock_offset_*): no timeline can be drawn")
        start = run.ranks.get("clock_offset_start_s")
        sync_start = _float(run.attrs.get("clock_sync_start_s"))
        if start is None or sync_start is None:
            missing = [name for name, v in (("/ranks/clock_offset_start_s", start),
                                            ("root attribute clock_sync_start_s", sync_start))
                       if v is None]
            raise TimelineError(f"{path}: no clock offsets ({' and '.join(missing)} missing): "
                                f"the ranks' times cannot be put on one time axis")
        start = np.asarray(start, dtype=np.float64)
        if start.shape != (run.world_size,):
            raise TimelineError(f"{path}: /ranks/clock_offset_start_s has shape {start.shape}, "
                                f"expected ({run.world_size},)")
        bad = [r for r in ranks if not math.isfinite(start[r])]
        if bad:
            raise TimelineError(f"{path}: no clock offset estimate for rank(s) "
                                f"{_fmt_ranks(bad)} (/ranks/clock_offset_start_s is not finite)")
        end = run.ranks.get("clock_offset_end_s")
        sync_end = _float(run.attrs.get("clock_sync_end_s"))
        self.start = start
        self.sync_start = sync_start
        self.end: Optional[np.ndarray] = None
        self.sync_end: Optional[float] = None
        if (end is not None and sync_end is not None and sync_end > sync_start
                and np.shape(end) == (run.world_size,)):
            self.end = np.asarray(end, dtype=np.float64)
            self.sync_end = sync_end
            lacking = [r for r in ranks if not math.isfinite(self.end[r])]
            if lacking:
                notes.append(f"no end-of-run clock offset for rank(s) {_fmt_ranks(lacking)}: "
                             f"their times use the start estimate alone")
        else:
            notes.append("the file has no end-of-run clock offsets (a run that did not end "
                         "collectively, e.g. stuck): every rank's times use the start estimate "
                         "alone, without drift correction")
        self.uncertainty = np.zeros(run.world_size)
        for when in ("start", "end"):
            u = run.ranks.get(f"clock_offset_{when}_uncertainty_s")
            if u is not None and np.shape(u) == (run.world_size,):
                u = np.asarray(u, dtype=np.float64)
                self.uncertainty = np.fmax(self.uncertainty, np.where(np.isfinite(u), u, 0.0))
        self.interpolated = self.end is not None

    def offset(self, t: np.ndarray, rank: int) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        o0 = self.start[rank]
        if self.end is None or not math.isfinite(self.end[rank]):
            return np.full_like(t, o0)
        span = self.sync_end - self.sync_start
        return o0 + (self.end[rank] - o0) * (t - self.sync_start) / span

    def align(self, t: np.ndarray, rank: int) -> np.ndarray:
        """Rank `rank`'s run-clock seconds -> rank 0's run-clock seconds."""
        t = np.asarray(t, dtype=np.float64)
        return t - self.offset(t, rank)


def _select_ranks(run: runfile.RunData, wanted: Optional[List[int]]) -> List[int]:
    recorded = [int(r) for r in run.recorded_ranks]
    if wanted is None:
        return recorded
    beyond = [r for r in wanted if r >= run.world_size]
    if beyond:
        raise TimelineError(f"--ranks {_fmt_ranks(wanted)}: rank(s) {_fmt_ranks(beyond)} not in "
                            f"the run (world size {run.world_size}: ranks 0-{run.world_size - 1})")
    missing = [r for r in wanted if r not in set(recorded)]
    if missing:
        if run.record_ranks == "stats":
            why = ("the file was written with --record-ranks stats, which keeps only rank 0's "
                   "per-step columns (the other ranks exist only as statistics in /rank_stats)")
        else:
            why = (f"the file was written with --record-ranks {run.record_ranks} and holds the "
                   f"columns of ranks {_fmt_ranks(recorded)} only")
        raise TimelineError(f"--ranks {_fmt_ranks(wanted)}: rank(s) {_fmt_ranks(missing)} not "
                            f"recorded: {why}")
    return wanted


def _step_columns(run: runfile.RunData) -> Tuple[np.ndarray, np.ndarray]:
    """(/steps/step, /steps/warmup) of rank 0's column, every row, read in slices."""
    step = np.empty(run.n_steps, np.int64)
    warm = np.empty(run.n_steps, np.int64)
    for start, blk in run.iter_step_blocks(("step", "warmup"), columns=slice(0, 1)):
        n = len(blk["step"])
        step[start:start + n] = blk["step"][:, 0]
        warm[start:start + n] = blk["warmup"][:, 0]
    return step, warm


def _select_rows(run: runfile.RunData, step: np.ndarray, warm: np.ndarray,
                 steps: Optional[Tuple[Optional[int], Optional[int]]],
                 n_ranks: int, notes: List[str]) -> Tuple[np.ndarray, bool]:
    """(/steps row indices to draw, ascending; whether the default cap cut the range), from
    every row's /steps/step and warmup."""
    if run.n_steps == 0:
        raise TimelineError(f"{run.path}: no steps recorded (status {run.status!r})")
    lo_step, hi_step = int(step.min()), int(step.max())
    if steps is not None:
        a, b = steps
        a_eff = lo_step if a is None else a
        b_eff = hi_step + 1 if b is None else b
        if a_eff < lo_step or b_eff - 1 > hi_step or a_eff > hi_step:
            raise TimelineError(f"--steps {_fmt_steps(a, b)}: out of range: the file holds steps "
                                f"{lo_step}..{hi_step} (--steps {lo_step}:{hi_step + 1} for all)")
        rows = np.nonzero((step >= a_eff) & (step < b_eff))[0]
        if rows.size == 0:
            raise TimelineError(f"--steps {_fmt_steps(a, b)}: no recorded step in that range")
        return rows, False
    rows = np.nonzero(warm == 0)[0]
    if rows.size == 0:
        notes.append("no measured step (every recorded step is a warm-up step): showing the "
                     "warm-up steps")
        rows = np.arange(run.n_steps)
    per_step = n_ranks * (2 + len(PHASES) + 2 * run.n_buckets)
    cap = max(1, min(DEFAULT_MAX_STEPS, DEFAULT_MAX_EVENTS // max(per_step, 1)))
    if rows.size > cap:
        first, last = int(step[rows[0]]), int(step[rows[cap - 1]])
        notes.append(f"showing the first {cap} of {rows.size} measured steps ({first}..{last}) "
                     f"so that the trace stays openable; choose others with --steps A:B (e.g. "
                     f"--steps {first}:{first + cap}; all: --steps {lo_step}:{hi_step + 1}) "
                     f"and fewer ranks with --ranks")
        return rows[:cap], True
    return rows, False


# --- building -------------------------------------------------------------------------------

def _ns(seconds: np.ndarray) -> np.ndarray:
    """Seconds -> integer nanoseconds: slices laid end to end from integer boundaries meet
    exactly (no rounding overlap, which viewers would take for nesting)."""
    return np.rint(np.asarray(seconds, dtype=np.float64) * 1e9).astype(np.int64)


def _us(ns: int) -> float:
    return int(ns) / 1000.0


def _json_value(v: Any) -> Any:
    """A JSON-safe scalar: numpy types to Python, NaN and inf to None."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    return v


def _args(**kw: Any) -> Dict[str, Any]:
    return {k: _json_value(v) for k, v in kw.items()}


def _fin(v: float) -> Optional[float]:
    """A Python float for JSON: NaN and inf (not measured, diverged) become null."""
    return v if math.isfinite(v) else None


def _meta(name: str, pid: int, tid: int, args: Dict[str, Any]) -> Dict[str, Any]:
    return {"name": name, "ph": "M", "ts": 0, "pid": pid, "tid": tid, "args": args}


def _lanes(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Greedy lane per interval (in start order): the first lane whose last interval ended by
    its start. One lane when nothing overlaps (the MPI backend reduces buckets one by one).
    Past MAX_LANES lanes (never seen: that many allreduces in flight at once) an interval
    shares the lane that frees first."""
    lane = np.zeros(len(starts), np.int64)
    lane_end: List[int] = []
    for i in np.lexsort((ends, starts)):
        s, e = int(starts[i]), int(ends[i])
        for k, last in enumerate(lane_end):
            if last <= s:
                lane[i] = k
                lane_end[k] = e
                break
        else:
            if len(lane_end) < MAX_LANES:
                lane[i] = len(lane_end)
                lane_end.append(e)
            else:
                k = int(np.argmin(lane_end))
                lane[i] = k
                lane_end[k] = max(lane_end[k], e)
    return lane


def _bucket_rows(run: runfile.RunData, f: h5py.File, step_values: np.ndarray,
                 rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(bucket row indices, the /steps row of each) for the drawn steps."""
    if run.n_bucket_rows == 0 or run.n_buckets == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if run.has_bucket_step:
        bstep = np.asarray(f["buckets/step"][()], dtype=np.int64)
        row_of_step = {int(step_values[i]): int(i) for i in rows}
        brows = [j for j, s in enumerate(bstep.tolist()) if s in row_of_step]
        return (np.asarray(brows, np.int64),
                np.asarray([row_of_step[int(bstep[j])] for j in brows], np.int64))
    # Older files: bucket row i is /steps row i.
    kept = rows[rows < run.n_bucket_rows]
    return kept.astype(np.int64), kept.astype(np.int64)


def _read_rows(ds: h5py.Dataset, rows: np.ndarray, cols: Any) -> np.ndarray:
    """Rows `rows` (ascending) of a [rows, columns, ...] dataset: one slice from the first to
    the last, then the rows picked (the drawn steps are a contiguous range in practice)."""
    if rows.size == 0:
        return np.zeros((0,) + ds.shape[1:])
    lo, hi = int(rows[0]), int(rows[-1]) + 1
    block = ds[lo:hi]
    return np.asarray(block[rows - lo][:, cols], dtype=np.float64)


def _events_delta(run: runfile.RunData, clock: Clock, f: h5py.File, step_values: np.ndarray
                  ) -> Tuple[float, Optional[float], bool]:
    """/events/time_s is seconds since rank 0 created the run file (its recorder). Files
    since 2026-12-03 place that origin on rank 0's run clock (the root attribute
    events_origin_run_clock_s): exact, error 0. Older files do not: the recorder is created
    before the start clock estimate (src/app/train_command.cpp), so origin <=
    clock_sync_start_s; and an event with step s happened after step s ended on rank 0, so
    origin >= end_time_s[s] - time_s. Returns (the origin used: the attribute, else
    clock_sync_start_s; the largest error: 0, else it minus the lower bound, None without
    events; whether the origin is the file's own)."""
    ev = run.events
    if "time_s" not in ev or len(ev["time_s"]) == 0:
        return clock.sync_start, None, False
    exact = f.attrs.get("events_origin_run_clock_s")
    if exact is not None and math.isfinite(float(exact)):
        return float(exact), 0.0, True
    lower = 0.0
    if "step" in ev:
        index = {int(s): i for i, s in enumerate(step_values.tolist())}
        end = f["steps/end_time_s"]
        for t, s in zip(np.asarray(ev["time_s"], np.float64), np.asarray(ev["step"], np.int64)):
            i = index.get(int(s))
            if i is not None and math.isfinite(t):
                lower = max(lower, float(end[i, 0]) - float(t))
    return clock.sync_start, max(0.0, clock.sync_start - lower), False


def _build(run_path: str, steps: StepsArg = None, ranks: RanksArg = None
           ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(trace object, summary without the output path)."""
    step_range = parse_steps(steps)
    wanted = parse_ranks(ranks)
    run = _load(run_path)
    notes: List[str] = []
    sel_ranks = _select_ranks(run, wanted)
    clock = Clock(run, sel_ranks, notes)
    if wanted is None and not run.all_ranks_recorded:
        notes.append(f"--record-ranks {run.record_ranks}: the file holds the columns of ranks "
                     f"{_fmt_ranks(sel_ranks)} only, of {run.world_size}")
    step_values, warm_flags = _step_columns(run)
    rows, capped = _select_rows(run, step_values, warm_flags, step_range, len(sel_ranks), notes)
    recorded = [int(r) for r in run.recorded_ranks]
    col_of = {r: j for j, r in enumerate(recorded)}
    cols = [col_of[r] for r in sel_ranks]
    colsel: Any = slice(None) if cols == list(range(len(recorded))) else cols
    factor = analysis.bus_factor(run.world_size)
    hosts = run.ranks.get("hostname")
    events: List[Dict[str, Any]] = []
    counts = {"steps": 0, "phases": 0, "control": 0, "buckets": 0, "ready": 0, "run_events": 0}
    skipped = 0

    try:
        with _open(run) as f:
            st = f["steps"]
            data = {name: _read_rows(st[name], rows, colsel) for name in STEP_READ_FIELDS
                    if name in st}
            brows, brow_step = _bucket_rows(run, f, step_values, rows)
            b = f["buckets"]
            has_ready = ("ready_s" in b and b["ready_s"].shape == b["duration_s"].shape)
            if brows.size:
                bstart = _read_rows(b["start_s"], brows, colsel)
                bdur_all = _read_rows(b["duration_s"], brows, slice(None))
                bdur = bdur_all if isinstance(colsel, slice) else bdur_all[:, cols]
                bready = _read_rows(b["ready_s"], brows, colsel) if has_ready else None
                # The report's definition (analysis.collective_times): the collective's time is
                # the fastest recorded rank's duration, over every recorded column.
                collective, _ = analysis.collective_times(bdur_all)
            events_origin, events_err, events_exact = _events_delta(run, clock, f, step_values)
    except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
        raise TimelineError(f"{run.path}: cannot read its steps and buckets "
                            f"({type(e).__name__}: {e})") from None

    row_pos = {int(r): k for k, r in enumerate(rows)}  # /steps row -> position in `data`
    bucket_bytes = [int(x) for x in run.bucket_bytes]
    num_params = [int(x) for x in run.bucket_num_params]
    spans = None if run.bucket_spans_nodes is None else [bool(x) for x in run.bucket_spans_nodes]
    nan = float("nan")
    max_lanes = 0
    # The loops below build one dict per event from Python lists (tolist): indexing numpy
    # arrays element by element costs several times more at a few hundred thousand events.
    for j, rank in enumerate(sel_ranks):
        pid = rank + 1
        col = {name: data[name][:, j] for name in data}
        start_t = col["start_time_s"]
        anchor_a = _ns(clock.align(start_t, rank))            # step starts, rank 0's clock
        # Phase boundaries from the cumulative durations: consecutive slices share them.
        phase_mat = np.stack([col[f] for f, _ in PHASES], axis=1)
        bounds = (anchor_a[:, None] + np.concatenate(
            [np.zeros((len(rows), 1), np.int64), _ns(np.cumsum(phase_mat, axis=1))],
            axis=1)).tolist()
        finite = (np.isfinite(start_t) & np.all(np.isfinite(phase_mat), axis=1)).tolist()
        anchor = anchor_a.tolist()
        end_al = _ns(clock.align(col["end_time_s"], rank)).tolist()
        step_ns = _ns(col["step_s"]).tolist()
        has_control = "control_s" in col
        control_ns = _ns(np.nan_to_num(col["control_s"])).tolist() if has_control else None
        L = {name: col[name].tolist() for name in col}
        for name in ("step", "warmup", "epoch", "samples", "buffer_sync_bytes"):
            if name in L:
                L[name] = [int(x) for x in L[name]]
        phase_values = [L[f] for f, _ in PHASES]
        consecutive = [k + 1 < len(rows) and rows[k + 1] == rows[k] + 1 and finite[k + 1]
                       for k in range(len(rows))]
        for k in range(len(rows)):
            if not finite[k]:
                skipped += 1
                continue
            s = L["step"][k]
            common = {"step": s, "warmup": bool(L["warmup"][k]), "samples": L["samples"][k],
                      "loss": _fin(L["loss"][k])}
            b = bounds[k]
            step_end = max(b[-1], anchor[k] + step_ns[k])
            events.append({
                "name": f"step {s}", "cat": "step", "ph": "X", "pid": pid, "tid": TID_COMPUTE,
                "ts": anchor[k] / 1000.0, "dur": (step_end - anchor[k]) / 1000.0,
                "args": dict(common, rank=rank, epoch=L["epoch"][k],
                             step_s=_fin(L["step_s"][k]),
                             wall_s=_fin(L["wall_s"][k]) if "wall_s" in L else None,
                             control_s=_fin(L["control_s"][k]) if has_control else None,
                             other_s=_fin(L["other_s"][k]) if "other_s" in L else None,
                             start_time_s=start_t[k].item(),
                             start_time_aligned_s=anchor[k] / 1e9)})
            counts["steps"] += 1
            for p, (field, name) in enumerate(PHASES):
                a = dict(common, phase=field, duration_s=phase_values[p][k])
                if field == "buffer_sync_s" and "buffer_sync_bytes" in L:
                    a["bytes"] = L["buffer_sync_bytes"][k]
                events.append({
                    "name": name, "cat": "phase", "ph": "X", "pid": pid, "tid": TID_COMPUTE,
                    "ts": b[p] / 1000.0, "dur": (b[p + 1] - b[p]) / 1000.0, "args": a})
                counts["phases"] += 1
            if has_control and math.isfinite(L["control_s"][k]):
                # The agreement follows the step's end (end_time_s) and the progress line; it
                # is placed there, never inside the step's slice nor into the next step.
                c0 = max(end_al[k], step_end)
                c1 = c0 + control_ns[k]
                if consecutive[k]:
                    c1 = max(c0, min(c1, anchor[k + 1]))
                events.append({
                    "name": "control", "cat": "control", "ph": "X", "pid": pid,
                    "tid": TID_COMPUTE, "ts": c0 / 1000.0, "dur": (c1 - c0) / 1000.0,
                    "args": {"step": s, "control_s": L["control_s"][k]}})
                counts["control"] += 1

        # Buckets of the drawn steps.
        if brows.size:
            ks = np.asarray([row_pos[int(r)] for r in brow_step], np.int64)
            bs = bstart[:, j, :]
            du = bdur[:, j, :]
            ok = np.isfinite(bs) & np.isfinite(du) & np.isfinite(start_t[ks])[:, None]
            skipped += int((~ok).sum())
            st_ns = anchor_a[ks][:, None] + _ns(np.where(ok, bs, 0.0))  # [bucket rows, buckets]
            en_ns = st_ns + _ns(np.where(ok, du, 0.0))
            flat = np.nonzero(ok.ravel())[0]
            lanes = _lanes(st_ns.ravel()[flat], en_ns.ravel()[flat])
            max_lanes = max(max_lanes, int(lanes.max()) + 1 if lanes.size else 0)
            rd = bready[:, j, :] if bready is not None else np.full(du.shape, np.nan)
            rd_ok = np.isfinite(rd)
            rd_ns = (anchor_a[ks][:, None] + _ns(np.where(rd_ok, rd, 0.0))).ravel().tolist()
            rd_ok = rd_ok.ravel().tolist()
            st_l, en_l = st_ns.ravel().tolist(), en_ns.ravel().tolist()
            du_l, bs_l, rd_l = du.ravel().tolist(), bs.ravel().tolist(), rd.ravel().tolist()
            coll_l = collective.ravel().tolist()
            step_of_q = [L["step"][int(k)] for k in ks]
            nb = run.n_buckets
            for idx, lane in zip(flat.tolist(), lanes.tolist()):
                q, bk = divmod(idx, nb)
                s = step_of_q[q]
                d, start_s, coll = du_l[idx], bs_l[idx], coll_l[idx]
                ready = rd_l[idx] if rd_ok[idx] else nan
                nbytes = bucket_bytes[bk]
                a = {"bucket": bk, "step": s, "bytes": nbytes, "num_params": num_params[bk],
                     "duration_s": d, "start_s": start_s, "ready_s": _fin(ready),
                     "queued_s": _fin(start_s - ready),
                     "busbw_GBps": (nbytes / coll * factor / 1e9
                                    if factor and math.isfinite(coll) and coll > 0 else None),
                     "rank_busbw_GBps": nbytes / d * factor / 1e9 if factor and d > 0 else None,
                     "collective_s": _fin(coll)}
                if spans is not None:
                    a["spans_nodes"] = spans[bk]
                events.append({
                    "name": f"bucket {bk}", "cat": "bucket", "ph": "X", "pid": pid,
                    "tid": TID_COMM + lane, "ts": st_l[idx] / 1000.0,
                    "dur": (en_l[idx] - st_l[idx]) / 1000.0, "args": a})
                counts["buckets"] += 1
                if rd_ok[idx]:
                    events.append({
                        "name": f"bucket {bk} ready", "cat": "ready", "ph": "i", "s": "t",
                        "pid": pid, "tid": TID_READY, "ts": rd_ns[idx] / 1000.0,
                        "args": {"bucket": bk, "step": s, "ready_s": ready,
                                 "queued_s": _fin(start_s - ready)}})
                    counts["ready"] += 1

    # /events rows of the drawn range: those whose last recorded step is the step before the
    # first drawn one or a drawn one (step -1: before any step, with the first steps).
    drawn_steps = [int(step_values[r]) for r in rows]
    first_drawn, last_drawn = min(drawn_steps), max(drawn_steps)
    first_step = int(step_values.min())
    ev = run.events
    n_events = len(ev.get("time_s", ()))
    left_out = 0
    for e in range(n_events):
        t = _float(ev["time_s"][e])
        s = int(ev["step"][e]) if "step" in ev else -1
        in_range = (first_drawn - 1 <= s <= last_drawn) or (s < 0 and first_drawn == first_step)
        if t is None or not in_range:
            left_out += 1
            continue
        r = int(ev["rank"][e]) if "rank" in ev else 0
        kind = str(ev["kind"][e]) if "kind" in ev else "event"
        # A global instant: drawn across every track. Its pid is a drawn rank's (the
        # reporting rank, in the args, may not be drawn: a pid without a process_name would
        # show up as an unnamed process).
        events.append({
            "name": kind or "event", "cat": "run_event", "ph": "i", "s": "g",
            "pid": (r if r in sel_ranks else sel_ranks[0]) + 1, "tid": TID_COMPUTE,
            "ts": _us(int(_ns(t + events_origin))),
            "args": _args(kind=kind, message=str(ev["message"][e]) if "message" in ev else "",
                          step=s, rank=r, time_s=t,
                          placed_late_by_at_most_s=events_err)})
        counts["run_events"] += 1
    if left_out:
        notes.append(f"{left_out} of {n_events} /events rows lie outside the drawn steps and are "
                     f"left out")
    if skipped:
        notes.append(f"{skipped} step or bucket values were not finite (not measured) and are "
                     f"left out")
    if factor is None and run.n_buckets:
        notes.append("one rank: no bus bandwidth (its factor 2(n-1)/n is 0)")

    meta: List[Dict[str, Any]] = []
    for rank in sel_ranks:
        pid = rank + 1
        host = str(hosts[rank]) if hosts is not None and rank < len(hosts) else "?"
        meta.append(_meta("process_name", pid, TID_COMPUTE, {"name": f"rank {rank} ({host})"}))
        meta.append(_meta("process_sort_index", pid, TID_COMPUTE, {"sort_index": rank}))
        off = float(clock.offset(np.asarray([clock.sync_start]), rank)[0])
        meta.append(_meta("process_labels", pid, TID_COMPUTE, {
            "labels": f"clock offset {off * 1e3:+.3f} ms \u00b1 "
                      f"{clock.uncertainty[rank] * 1e6:.0f} \u00b5s"}))
        threads = [(TID_COMPUTE, "compute", SORT_COMPUTE)]
        if counts["ready"]:
            threads.append((TID_READY, "bucket ready", SORT_READY))
        for lane in range(max_lanes):
            threads.append((TID_COMM + lane, "comm" if lane == 0 else f"comm {lane + 1}",
                            SORT_COMM + lane))
        for tid, name, order in threads:
            meta.append(_meta("thread_name", pid, tid, {"name": name}))
            meta.append(_meta("thread_sort_index", pid, tid, {"sort_index": order}))

    drawn = sorted(set(drawn_steps))
    unc = float(np.max(clock.uncertainty[sel_ranks])) if sel_ranks else 0.0
    other = {
        "tool": "scalebench results/timeline",
        "run_file": os.path.abspath(run.path),
        "model": run.model,
        "status": run.status,
        "world_size": run.world_size,
        "record_ranks": run.record_ranks,
        "ranks": _fmt_ranks(sel_ranks),
        "steps": f"{drawn[0]}..{drawn[-1]} ({len(drawn)} steps)",
        "time_axis": "microseconds on rank 0's run clock (ts / 1e6 = seconds since rank 0 "
                     "began its run); pid = rank + 1",
        "clock_alignment": ("offset interpolated between the start and end estimates, "
                            "evaluated at each step's start" if clock.interpolated else
                            "start estimate only"),
        "clock_uncertainty_max_s": unc,
        "busbw": "bytes / collective time * 2(n-1)/n / 1e9, the collective time being the "
                 "fastest recorded rank's duration (as results/report); rank_busbw_GBps: "
                 "from this rank's own duration",
        "schema_version": run.schema_version,
    }
    if counts["run_events"]:
        other["run_events"] = (
            "/events/time_s counts from rank 0's run-file creation, drawn at time_s + "
            "events_origin_run_clock_s (exact)" if events_exact else
            "/events/time_s counts from rank 0's run-file creation, which this file does not "
            "place on the run clock (written before events_origin_run_clock_s): drawn at "
            "time_s + clock_sync_start_s, late by at most "
            f"{events_err if events_err is not None else 0.0:.6f} s")
    if notes:
        other["notes"] = " | ".join(notes)
    # Thread ids unique over the whole trace (rank r's compute thread is (r + 1) * 1000 + 1,
    # its comm lanes ...003, ...004): the format scopes a tid to its pid, but viewers have had
    # bugs with tid 0 and with equal tids in different processes; unique ones avoid both.
    for e in meta:
        e["tid"] = e["pid"] * TID_STRIDE + e["tid"]
    for e in events:
        e["tid"] = e["pid"] * TID_STRIDE + e["tid"]
    trace = {"traceEvents": meta + events, "displayTimeUnit": "ms", "otherData": other}
    summary = {
        "run_path": run.path,
        "events": len(events),
        "trace_events": len(meta) + len(events),
        "counts": counts,
        "steps": drawn,
        "first_step": drawn[0],
        "last_step": drawn[-1],
        "ranks": list(sel_ranks),
        "capped": capped,
        "clock_interpolated": clock.interpolated,
        "clock_uncertainty_max_s": unc,
        "notes": notes,
    }
    return trace, summary


def build_trace(run_path: str, steps: StepsArg = None, ranks: RanksArg = None
                ) -> Dict[str, Any]:
    """The Chrome trace object of a run file (see the module docstring)."""
    return _build(run_path, steps, ranks)[0]


def write_trace(run_path: str, out_path: str, steps: StepsArg = None, ranks: RanksArg = None
                ) -> Dict[str, Any]:
    """Writes the trace of `run_path` to `out_path` atomically (a temporary file in the same
    directory, renamed over it), after every check passed: a refusal (TimelineError) leaves
    `out_path` as it was. Returns a summary: events written, steps and ranks drawn, notes."""
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_dir):
        raise TimelineError(f"-o {out_path}: directory {out_dir} does not exist")
    if os.path.exists(run_path) and os.path.exists(out_path) and os.path.samefile(run_path,
                                                                                  out_path):
        raise TimelineError(f"-o {out_path}: that is the run file itself")
    trace, summary = _build(run_path, steps, ranks)
    # json.dumps, not json.dump: only the one-shot encoder is the C one (several times faster at
    # a few hundred thousand events).
    text = json.dumps(trace, separators=(",", ":"), allow_nan=False) + "\n"
    try:
        write_text_atomic(out_path, text)
    except OSError as e:
        raise TimelineError(f"-o {out_path}: cannot write ({e})") from None
    summary["path"] = out_path
    summary["bytes"] = os.path.getsize(out_path)
    return summary


# --- command line ---------------------------------------------------------------------------

EXAMPLES = """\
examples:
  results/timeline runs/resnet56-np4.h5 -o trace.json          # first 200 measured steps
  results/timeline runs/resnet56-np4.h5 --steps 100:120 --ranks 0,3 -o steps100.json
  results/timeline runs/big.h5.partial --steps 0:50 --ranks 0-7 -o stuck.json

"""

DESCRIPTION = f"""\
Write one run file's steps as a Chrome trace (trace-event JSON): open it in Perfetto
(https://ui.perfetto.dev, "Open trace file") or chrome://tracing ("Load"). One process per
rank ("rank R (host)"); per rank a "compute" track (each step and its phases end to end: data,
buffer sync, forward, backward, comm wait (exposed), optimizer; then control), a "bucket ready"
track (when each gradient bucket's last gradient arrived) and a "comm" track (each bucket's
allreduce, with bytes and bus bandwidth in its args), /events rows as global markers. Every
rank's times are put on rank 0's run clock with the file's clock offsets (docs/timeline.md).

Default: the first {DEFAULT_MAX_STEPS} measured steps (fewer for many ranks and buckets, at
most about {DEFAULT_MAX_EVENTS} events) and every recorded rank; warm-up steps only with --steps.
Refused (exit 2, nothing written): files without aligned clocks (schema_version < 3, no clock
offsets), files that are not scalebench run files, steps outside the file, ranks not recorded.
"""

EPILOG = """\
--steps takes /steps/step values, A <= step < B as in Python (100:120 is 20 steps; 100: to the
end; :50 from the first). --ranks takes MPI ranks: 0,3,8-11. Files written with --record-ranks
sample:K or stats hold only some ranks' columns (sample:K: K evenly spaced ranks; stats: rank 0).
"""


class _Parser(argparse.ArgumentParser):
    """--help starts with example command lines; error messages keep the plain usage."""

    def format_help(self) -> str:
        return EXAMPLES + super().format_help()


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN.h5", help="a scalebench run file (.h5, or .h5.partial)")
    p.add_argument("--steps", metavar="A:B",
                   help=f"steps A <= step < B (default: the first {DEFAULT_MAX_STEPS} measured "
                        f"steps)")
    p.add_argument("--ranks", metavar="LIST", help="ranks, e.g. 0,3,8-11 (default: every "
                                                   "recorded rank)")
    p.add_argument("-o", "--output", metavar="trace.json", required=True,
                   help="the trace file to write (replaced atomically)")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse_args(argv)
    try:
        summary = write_trace(args.run, args.output, steps=args.steps, ranks=args.ranks)
    except TimelineError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    for note in summary["notes"]:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    print(f"{PROG}: wrote {summary['path']}: {summary['events']} events, steps "
          f"{summary['first_step']}..{summary['last_step']}, ranks {_fmt_ranks(summary['ranks'])}"
          f" ({summary['bytes'] / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
