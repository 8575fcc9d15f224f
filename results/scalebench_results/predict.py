"""results/predict: predicted scaling from measured runs (docs/prediction.md).

    predict(args) -> the prediction (a dict, what prediction.json holds)
    main(argv) -> exit status (0, or 2 for a refusal: one line `predict: error: ...`)

Compute comes from measurement: each measured step of the run at the smallest world size
(warm-up excluded), per recorded rank: its phases and the time each gradient bucket became
ready within backward. Communication comes from the alpha-beta model of commmodel.py, its
levels fitted from `scalebench allreduce` files or given as link specs. Each measured step is
replayed at each target layout as the engine schedules it (simulate_exposed), so the measured
variance of compute carries through to a band, not just a line.

Every check runs before any file is written: a refusal (PredictError) leaves nothing behind.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import analysis, commmodel, runfile
from .atomic import write_bytes_atomic, write_text_atomic

PROG = "predict"
EXIT_REFUSED = 2
# Phases of a step and after it (/steps fields, docs/hdf5-layout.md "How the times add up").
PHASES = ("data_s", "buffer_sync_s", "forward_s", "backward_s", "optimizer_s", "control_s",
          "other_s")
# The phases that are computation on the rank's cores: scaled by --step-time/--samples-per-s
# and by CPU oversubscription (with the bucket-ready profile, which lies within backward).
COMPUTE = ("forward_s", "backward_s", "optimizer_s")
BAND = (10.0, 90.0)   # percentiles of the band over the measured steps
MAX_POINTS = 64


class PredictError(Exception):
    """Input the prediction cannot be made from: one line for the user, exit 2."""


# --- measured inputs ------------------------------------------------------------------------

@dataclass
class Profile:
    """The compute of one rank-step set: what a prediction replays. Arrays are
    [rows, ranks] (ready: [rows, ranks, buckets], seconds since backward started)."""
    source: str
    world_size: int
    nodes: int
    ranks_per_node: int
    batch_per_rank: float
    phases: Dict[str, np.ndarray]
    buffer_sync_bytes: np.ndarray
    ready: np.ndarray
    bucket_bytes: np.ndarray
    overlap: bool
    chunk_bytes: int
    threads_per_rank: int
    # the measured run's threads per CPU (root attribute cpu_threads_per_cpu_max); None if absent
    load: Optional[float]
    # (nodes, ranks per node) of the run(s) measured: what buffer_sync_s and control_s hold
    measured_layout: Tuple[int, int]


@dataclass
class Measured:
    """One input run as a point to compare a prediction with: the slowest recorded rank's
    step_s and wall_s of each measured step (over every rank where /rank_stats has them)."""
    path: str
    world_size: int
    nodes: int
    ranks_per_node: int
    batch_per_rank: int
    global_batch: int
    step_s: np.ndarray
    wall_s: np.ndarray

    @property
    def layout(self) -> Tuple[int, int]:
        return (self.nodes, self.ranks_per_node)


def _int_attr(run: runfile.RunData, name: str, default: int) -> int:
    v = run.attr(name)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else default


def _read(run: runfile.RunData, notes: List[str]) -> Tuple[Profile, Measured]:
    """The profile and the measured point of a run file (schema version 3: bucket ready
    times, buffer_sync_s, wall_s)."""
    if run.schema_version < 3:
        raise PredictError(f"{run.path}: schema_version {run.schema_version} has no bucket "
                           f"ready times or wall_s; predictions need version 3 files")
    nodes, rpn = analysis.run_nodes(run), analysis.run_ranks_per_node(run)
    nb = run.n_buckets
    with runfile._open(run.path, run.locking) as f:
        st = f["steps"]
        rows = np.nonzero(st["warmup"][:, 0] == 0)[0]
        if rows.size == 0:
            raise PredictError(f"{run.path}: no measured steps (all warm-up)")
        read = {n: np.asarray(st[n][()], np.float64)[rows] for n in PHASES + (
            "step_s", "wall_s", "buffer_sync_bytes")}
        if "rank_stats" in f:
            slow_step = np.asarray(f["rank_stats/step_s"][()], np.float64)[rows, 2]
            slow_wall = np.asarray(f["rank_stats/wall_s"][()], np.float64)[rows, 2]
        else:
            slow_step, slow_wall = read["step_s"].max(axis=1), read["wall_s"].max(axis=1)
        ready = np.zeros((rows.size, run.n_recorded, nb))
        keep = np.arange(rows.size)
        if nb:
            if "ready_s" not in f["buckets"] or run.n_bucket_rows == 0:
                raise PredictError(f"{run.path}: no /buckets/ready_s rows: the bucket-ready "
                                   f"profile cannot be read")
            step_vals = np.asarray(st["step"][()], np.int64)[rows, 0]
            bstep = run.bucket_step
            where = {int(s): j for j, s in enumerate(bstep)}
            keep = np.array([i for i, s in enumerate(step_vals) if int(s) in where], np.int64)
            if keep.size == 0:
                raise PredictError(f"{run.path}: no measured step has bucket rows")
            if keep.size < rows.size:
                notes.append(f"{run.path}: {keep.size} of {rows.size} measured steps have "
                             f"bucket rows (--record-buckets every:K); the profile uses those")
            raw = np.asarray(f["buckets/ready_s"][()], np.float64)
            ready = raw[[where[int(step_vals[i])] for i in keep]]
    phases = {n: read[n][keep] for n in PHASES}
    backward_start = phases["data_s"] + phases["buffer_sync_s"] + phases["forward_s"]
    rel = ready - backward_start[:, :, None]
    missing = ~np.isfinite(rel)
    if missing.any():
        notes.append(f"{run.path}: {int(missing.sum())} bucket ready times not measured: "
                     f"taken as the end of backward (no overlap credited for them)")
        rel = np.where(missing, phases["backward_s"][:, :, None], rel)
    load = run.attr("cpu_threads_per_cpu_max")
    load = float(load) if isinstance(load, (int, float)) and load > 0 else None
    batch = _int_attr(run, "batch_per_rank", 0)
    profile = Profile(
        source=run.path, world_size=run.world_size, nodes=nodes, ranks_per_node=rpn,
        batch_per_rank=float(batch), phases=phases,
        buffer_sync_bytes=read["buffer_sync_bytes"][keep],
        ready=np.maximum(rel, 0.0), bucket_bytes=run.bucket_bytes.astype(np.int64),
        overlap=bool(run.attr("overlap", 1)),
        chunk_bytes=commmodel.chunk_bytes_of(run.attr("mpi_chunk_mb", 0.0),
                                             str(run.attr("backend", "mpi"))),
        threads_per_rank=_int_attr(run, "intra_op_threads", max(run.threads, 1)),
        load=load, measured_layout=(nodes, rpn))
    measured = Measured(path=run.path, world_size=run.world_size, nodes=nodes,
                        ranks_per_node=rpn, batch_per_rank=batch,
                        global_batch=_int_attr(run, "global_batch", batch * run.world_size),
                        step_s=slow_step, wall_s=slow_wall)
    return profile, measured


def interpolate(lo: Profile, hi: Profile, batch: float) -> Profile:
    """The profile at per-rank batch `batch`, linear in the batch between (or, extrapolating,
    beyond) two measured profiles, step row by step row of rank 0 (rows cut to the shorter).
    Phases, ready times and buffer bytes alike; lo is returned as is where it is at `batch`."""
    if batch == lo.batch_per_rank:
        return lo
    w = (batch - lo.batch_per_rank) / (hi.batch_per_rank - lo.batch_per_rank)
    rows = min(lo.ready.shape[0], hi.ready.shape[0])

    def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum((1.0 - w) * a[:rows, :1] + w * b[:rows, :1], 0.0)

    return Profile(
        source=f"interpolated at per-rank batch {batch:g} from {lo.source} (batch "
               f"{lo.batch_per_rank:g}) and {hi.source} (batch {hi.batch_per_rank:g})",
        world_size=lo.world_size, nodes=lo.nodes, ranks_per_node=lo.ranks_per_node,
        batch_per_rank=batch, phases={n: mix(lo.phases[n], hi.phases[n]) for n in PHASES},
        buffer_sync_bytes=mix(lo.buffer_sync_bytes, hi.buffer_sync_bytes),
        ready=mix(lo.ready, hi.ready), bucket_bytes=lo.bucket_bytes, overlap=lo.overlap,
        chunk_bytes=lo.chunk_bytes, threads_per_rank=lo.threads_per_rank, load=lo.load,
        measured_layout=lo.measured_layout)


def scale_proportionally(p: Profile, batch: float) -> Profile:
    """The one-profile extrapolation (--extrapolate with a single measured batch): every
    phase but control and other, and the ready times, in proportion to the per-rank batch."""
    f = batch / p.batch_per_rank
    phases = {n: (v if n in ("control_s", "other_s") else v * f) for n, v in p.phases.items()}
    return Profile(source=f"{p.source} scaled x{f:g} to per-rank batch {batch:g}",
                   world_size=p.world_size, nodes=p.nodes, ranks_per_node=p.ranks_per_node,
                   batch_per_rank=batch, phases=phases, buffer_sync_bytes=p.buffer_sync_bytes,
                   ready=p.ready * f, bucket_bytes=p.bucket_bytes, overlap=p.overlap,
                   chunk_bytes=p.chunk_bytes, threads_per_rank=p.threads_per_rank,
                   load=p.load, measured_layout=p.measured_layout)


# --- the schedule ---------------------------------------------------------------------------

def simulate_exposed(ready: np.ndarray, durations: Sequence[float], backward: np.ndarray,
                     overlap: bool) -> np.ndarray:
    """Exposed communication of each step, as the engine schedules the buckets: strictly in
    plan order, one collective at a time; bucket b starts at max(its ready time, the end of
    bucket b-1) with overlap, at max(end of backward, end of bucket b-1) without, and takes
    its modelled duration. Exposed = max(0, end of the last bucket - end of backward).
    ready: [..., buckets] seconds since backward started; backward: [...]."""
    backward = np.asarray(backward, np.float64)
    ready = np.asarray(ready, np.float64)
    end = np.zeros(backward.shape)
    for b, d in enumerate(durations):
        launch = ready[..., b] if overlap else backward
        end = np.maximum(launch, end) + float(d)
    if len(durations) == 0:
        return np.zeros(backward.shape)
    return np.maximum(end - backward, 0.0)


def simulate_shared(ready: np.ndarray, durations: Sequence[float], backward: np.ndarray,
                    overlap: bool, rates: "CpuRates") -> Tuple[np.ndarray, np.ndarray]:
    """simulate_exposed where compute and communication share CPU cores: backward progresses
    at rates.compute_idle while no bucket is in flight and at rates.compute_busy while one is;
    a bucket progresses at rates.comm_busy while backward still computes and at
    rates.comm_alone after it. compute_busy and comm_busy are one rate for every bucket or one
    per bucket (a sequence as long as durations: --comm-contention measured, where they
    depend on the bucket's size). ready and backward are in profile time (seconds of backward
    as measured), durations in the allreduce model's time (the collective alone on the cores,
    as its sweep ran). Returns (backward's wall time, exposed communication), each shaped as
    backward. With every rate 1 this is simulate_exposed."""
    backward = np.asarray(backward, np.float64)
    ready = np.asarray(ready, np.float64)
    flat_b = backward.reshape(-1)
    flat_r = ready.reshape(flat_b.size, -1)
    wall = np.zeros(flat_b.size)
    exposed = np.zeros(flat_b.size)
    nb = len(durations)
    rc_i, rm_a = rates.compute_idle, rates.comm_alone
    rc_bs = [float(x) for x in np.broadcast_to(np.asarray(rates.compute_busy, np.float64), (nb,))]
    rm_bs = [float(x) for x in np.broadcast_to(np.asarray(rates.comm_busy, np.float64), (nb,))]
    for i in range(flat_b.size):
        work = flat_b[i]
        t, x = 0.0, 0.0           # wall time, backward progress (profile seconds)
        done = None               # when backward ended (wall)
        end = 0.0                 # when the last bucket ended (wall)
        for b, d in enumerate(durations):
            rc_b, rm_b = rc_bs[b], rm_bs[b]
            launch = min(flat_r[i, b] if overlap else work, work)
            if x < launch:        # no bucket in flight until this one is ready
                t += (launch - x) / rc_i
                x = launch
            if x >= work and done is None:
                done = t
            left = float(d)       # this bucket's work (model seconds)
            if x < work and left > 0:   # in flight while backward computes
                dt_c, dt_m = (work - x) / rc_b, left / rm_b
                if dt_m < dt_c:
                    t += dt_m
                    x += dt_m * rc_b
                    left = 0.0
                else:
                    t += dt_c
                    x = work
                    done = t
                    left -= dt_c * rm_b
            if left > 0:          # backward has ended: the bucket has the cores to itself
                t += left / rm_a
            end = t
        if done is None:
            done = t + (work - x) / rc_i
        wall[i] = done
        exposed[i] = max(end - done, 0.0)
    return wall.reshape(backward.shape), exposed.reshape(backward.shape)


def _band(values: np.ndarray) -> Dict[str, float]:
    lo, hi = np.percentile(values, BAND)
    return {"median": float(np.median(values)), "p10": float(lo), "p90": float(hi)}


@dataclass
class Settings:
    """What every point of one prediction shares."""
    compute_scale: float
    cores_per_node: Optional[float]
    device: str
    # the measured layout under the model: what its measured buffer sync and control hold
    base_topology: commmodel.Topology
    # --shared-cores: the cores every rank of every node shares (an emulated cluster on one
    # machine), instead of cores_per_node per node; None: nodes are separate machines
    shared_cores: Optional[float] = None
    # --comm-contention: auto (measured where every level a point uses has beside-compute
    # rows, else share), measured (a bucket's rate beside backward from `scalebench allreduce
    # --beside-compute`), share (processor sharing of the cores by compute and communication
    # threads) or off (the communication thread needs no core: the model before 2026-12-03)
    comm_contention: str = "auto"


def oversubscription(p: Profile, topo: commmodel.Topology, s: Settings) -> float:
    """Compute time factor at the target for CPU runs: the load (threads per core) of the
    target node over that of the measured one, each at least 1 (below 1 a thread has a core
    of its own, and more cores make it no faster). 1 where the cores are not known.
    With --shared-cores C, the ranks of every node of the point share C cores: the target's
    load is world size x threads / C."""
    if s.device != "cpu":
        return 1.0
    if s.shared_cores is not None:
        target = topo.world_size * p.threads_per_rank / s.shared_cores
        base = p.load if p.load is not None else (
            p.world_size * p.threads_per_rank / s.shared_cores)
        return max(target, 1.0) / max(base, 1.0)
    if s.cores_per_node is None:
        return 1.0
    target = topo.ranks_per_node * p.threads_per_rank / s.cores_per_node
    base = p.load if p.load is not None else (
        p.ranks_per_node * p.threads_per_rank / s.cores_per_node)
    return max(target, 1.0) / max(base, 1.0)


CONTENTION_MODES = ("auto", "measured", "share", "off")


@dataclass
class CpuRates:
    """Progress per second of wall time, relative to what was measured, of compute (against
    the profile) and of a bucket allreduce (against the allreduce model), while the other is
    or is not running on the same cores (docs/prediction.md, "Compute and communication
    sharing cores"). compute_busy and comm_busy: one rate for every bucket (share) or a
    sequence, one per bucket in plan order (measured)."""
    compute_idle: float
    compute_busy: Any
    comm_busy: Any
    comm_alone: float
    mode: str = "share"
    # measured: per bucket, the compute load's rate beside it (compute_busy / compute_idle)
    # and its time from the beside-compute fit (model seconds), and where those came from
    compute_rate: Optional[List[float]] = None
    beside_s: Optional[List[float]] = None
    sources: Optional[List[str]] = None

    @property
    def contended(self) -> bool:
        return not (np.all(np.asarray(self.compute_busy) == self.compute_idle)
                    and np.all(np.asarray(self.comm_busy) == 1.0) and self.comm_alone == 1.0)

    def as_dict(self) -> Dict[str, Any]:
        if self.mode != "measured":
            return {"compute_idle": self.compute_idle, "compute_busy": float(self.compute_busy),
                    "comm_busy": float(self.comm_busy), "comm_alone": self.comm_alone}
        return {"compute_idle": self.compute_idle,
                "compute_busy": [float(x) for x in self.compute_busy],
                "comm_busy": [float(x) for x in self.comm_busy], "comm_alone": self.comm_alone,
                "compute_rate": list(self.compute_rate or []),
                "beside_s": list(self.beside_s or []), "sources": list(self.sources or [])}


def _cores_of(p: Profile, topo: commmodel.Topology, s: Settings
              ) -> Optional[Tuple[float, int, int]]:
    """(cores, ranks sharing them at the point, ranks sharing them in the profile run), or
    None where the cores are not known (no --cores-per-node, no --shared-cores)."""
    if s.shared_cores is not None:
        return s.shared_cores, topo.world_size, p.world_size
    if s.cores_per_node is not None:
        return s.cores_per_node, topo.ranks_per_node, p.ranks_per_node
    return None


def contention_mode(p: Profile, topo: commmodel.Topology, s: Settings) -> str:
    """The contention model a point gets: "measured", "share" or "off" (none: asked off, not
    a CPU run, one rank, or share without the cores known). auto: measured where every level
    the point's buckets use has a beside-compute fit (commmodel.Topology.beside_topology),
    else share. measured without such a fit: PredictError (one line naming the level)."""
    if s.device != "cpu" or s.comm_contention == "off" or topo.world_size < 2:
        return "off"
    if s.comm_contention in ("auto", "measured"):
        if topo.beside_topology() is not None:
            return "measured"
        if s.comm_contention == "measured":
            lacking = [lv for lv in topo.needed_levels()
                       if getattr(topo, lv) is None or getattr(topo, lv).beside is None
                       or not getattr(topo, lv).beside.compute_rates]
            raise PredictError(
                f"--comm-contention measured: {topo.world_size} ranks on {topo.nodes} node(s) "
                f"of {topo.ranks_per_node} use the {' and '.join(lacking)} level(s) without "
                f"beside-compute rows (give an --allreduce file of `scalebench allreduce "
                f"--beside-compute`, or --comm-contention auto|share)")
    return "share" if _cores_of(p, topo, s) is not None else "off"


def cpu_rates(p: Profile, topo: commmodel.Topology, s: Settings) -> Optional[CpuRates]:
    """The rates of contention_mode's model at a point; None where it is "off".

    share: processor sharing of a node's cores (or --shared-cores) among the compute threads
    of its ranks (ranks x threads) and, while a bucket is in flight, one communication thread
    per rank (MPI's thread polls while the collective runs: it wants a core all along). Each
    runnable thread gets min(1, cores / runnable threads) of a core. Compute is measured at
    the profile's share, 1 / max(1, its load); the allreduce at the share its ranks had alone
    on the cores (the sweep: the point's ranks, nothing else running).

    measured: per bucket b, from the levels' beside-compute fits (the sweep run while every
    rank computes beside it): comm_busy[b] = plain(b) / beside(b), each the bucket's time
    through the same topology (slices, hierarchical levels summed); compute_busy[b] =
    compute_idle x compute_rate(b), the load's measured rate beside the collective (with two
    levels, each level's rate weighted by its part of the bucket's beside time);
    compute_idle = 1 / oversubscription (1 where the cores are not known); comm_alone = 1."""
    mode = contention_mode(p, topo, s)
    if mode == "off":
        return None
    if mode == "measured":
        beside_topo = topo.beside_topology()
        assert beside_topo is not None
        idle = 1.0 / oversubscription(p, topo, s)
        comm, compute, rate, beside = [], [], [], []
        for nbytes in p.bucket_bytes:
            plain = topo.bucket_s(int(nbytes), p.chunk_bytes)
            parts = beside_topo.bucket_parts(int(nbytes), p.chunk_bytes)
            t_beside = beside_topo.bucket_s(int(nbytes), p.chunk_bytes)
            weight = sum(t for _, _, _, t in parts)
            r = (sum(t * lv.compute_rate(size) for _, lv, size, t in parts) / weight
                 if weight > 0 else float(np.mean([lv.compute_rate(size)
                                                   for _, lv, size, _ in parts])))
            comm.append(plain / t_beside if t_beside > 0 else 1.0)
            compute.append(idle * r)
            rate.append(r)
            beside.append(t_beside)
        return CpuRates(compute_idle=idle, compute_busy=compute, comm_busy=comm,
                        comm_alone=1.0, mode="measured", compute_rate=rate, beside_s=beside,
                        sources=[getattr(beside_topo, lv).source
                                 for lv in beside_topo.needed_levels()])
    cores, ranks, base_ranks = _cores_of(p, topo, s)
    threads = p.threads_per_rank
    base = p.load if p.load is not None else base_ranks * threads / cores

    def share(k: float) -> float:
        return min(1.0, cores / k) if k > 0 else 1.0

    s0 = 1.0 / max(base, 1.0)
    compute = ranks * threads
    return CpuRates(compute_idle=share(compute) / s0,
                    compute_busy=share(compute + ranks) / s0,
                    comm_busy=share(compute + ranks) / share(ranks), comm_alone=1.0)


def broadcast_s(topo: commmodel.Topology, nbytes: np.ndarray) -> np.ndarray:
    """The buffer broadcast of `nbytes` per rank-step, modelled as scatter + ring allgather,
    whose cost is the ring allreduce's (0 where nothing is broadcast)."""
    return np.vectorize(lambda b: topo.allreduce_call_s(b) if b > 0 else 0.0,
                        otypes=[np.float64])(nbytes)


def predict_point(p: Profile, topo: commmodel.Topology, s: Settings) -> Dict[str, Any]:
    """One predicted point: the measured steps of `p` replayed on `topo`."""
    f = s.compute_scale * oversubscription(p, topo, s)
    ph = {n: (v * f if n in COMPUTE else v) for n, v in p.phases.items()}
    durations = [topo.bucket_s(int(b), p.chunk_bytes) for b in p.bucket_bytes]
    rates = cpu_rates(p, topo, s)  # None exactly where contention_mode is "off"
    mode = rates.mode if rates is not None else "off"
    beside_sources = rates.sources if mode == "measured" else None
    if rates is not None and rates.contended and len(durations):
        # backward's work in profile time (device scale only); the rates carry the cores
        ph["backward_s"], exposed = simulate_shared(
            p.ready * s.compute_scale, durations, p.phases["backward_s"] * s.compute_scale,
            p.overlap, rates)
    else:
        rates = None
        exposed = simulate_exposed(p.ready * f, durations, ph["backward_s"], p.overlap)
    measured_comm = p.measured_layout == (topo.nodes, topo.ranks_per_node)
    # Buffer broadcast and control agreement: the measured value plus what the model adds
    # from the measured layout to the target (exactly the measured value at the measured
    # layout; at one rank the model adds all of the communication to the local cost).
    buffer_sync = np.maximum(ph["buffer_sync_s"] + broadcast_s(topo, p.buffer_sync_bytes)
                             - broadcast_s(s.base_topology, p.buffer_sync_bytes), 0.0)
    control = np.maximum(ph["control_s"] + topo.latency_s() - s.base_topology.latency_s(), 0.0)
    step = (ph["data_s"] + buffer_sync + ph["forward_s"] + ph["backward_s"] + exposed
            + ph["optimizer_s"])
    wall = step + control + ph["other_s"]
    world = topo.world_size
    batch = p.batch_per_rank
    out = {
        "nodes": topo.nodes, "ranks_per_node": topo.ranks_per_node, "world_size": world,
        "per_rank_batch": batch, "global_batch": batch * world,
        "step_s": _band(step.max(axis=1)), "wall_s": _band(wall.max(axis=1)),
        "exposed_comm_s": _band(exposed.max(axis=1)),
        "comm_busy_s": float(sum(durations)),
        "buffer_sync_s": _band(buffer_sync.max(axis=1)),
        "control_s": _band(control.max(axis=1)),
        "compute_factor": f, "comm_measured": bool(measured_comm),
        "forward_s": _band(ph["forward_s"].max(axis=1)),
        "backward_s": _band(ph["backward_s"].max(axis=1)),
        "optimizer_s": _band(ph["optimizer_s"].max(axis=1)),
        "comm_contention": mode,
        # measured: the beside-compute fits its buckets' rates came from
        "comm_contention_sources": beside_sources,
        "cpu_rates": None if rates is None else rates.as_dict(),
        "profile": p.source, "extrapolated": False,
    }
    out["throughput_samples_per_s"] = out["global_batch"] / out["wall_s"]["median"]
    return out


# --- target lists ---------------------------------------------------------------------------

def parse_counts(text: str, what: str) -> List[int]:
    """`1,2,4`, `1..512` (doubling from the first to the last), `1,2,4,...,64` (the same):
    ascending distinct positive integers; PredictError for anything else."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    out: List[int] = []

    def number(t: str) -> int:
        if not t.isdigit() or int(t) < 1:
            raise PredictError(f"{what} {text!r}: {t!r} is not a positive integer (lists like "
                               f"1,2,4; ranges like 1..512, doubling)")
        return int(t)

    def doubling(a: int, b: int) -> List[int]:
        if b < a:
            raise PredictError(f"{what} {text!r}: range {a}..{b} runs backwards")
        vals = []
        while a <= b:
            vals.append(a)
            a *= 2
        return vals

    i = 0
    while i < len(items):
        t = items[i]
        if t == "...":
            if not out or i + 1 >= len(items):
                raise PredictError(f"{what} {text!r}: '...' needs a number on each side")
            out += doubling(out[-1], number(items[i + 1]))[1:]
            i += 2
            continue
        if ".." in t:
            a, _, b = t.partition("..")
            out += doubling(number(a), number(b))
        else:
            out.append(number(t))
        i += 1
    vals = sorted(set(out))
    if not vals:
        raise PredictError(f"{what} {text!r}: empty")
    if len(vals) > MAX_POINTS:
        raise PredictError(f"{what} {text!r}: {len(vals)} points, at most {MAX_POINTS}")
    return vals


def _layouts(args: argparse.Namespace, levels: Dict[str, commmodel.Level],
             measured: Sequence[Measured]) -> List[Tuple[int, int]]:
    """(nodes, ranks per node) of every point asked for; the inputs' own layouts if none."""
    if args.nodes is not None:
        return [(n, args.ranks_per_node) for n in parse_counts(args.nodes, "--nodes")]
    if args.ranks is None:
        return sorted({m.layout for m in measured}, key=lambda k: (k[0] * k[1], k[0]))
    out = []
    for n in parse_counts(args.ranks, "--ranks"):
        if args.ranks_per_node is not None:
            p = args.ranks_per_node
            if n > p and n % p:
                raise PredictError(f"--ranks {n} is not a whole number of nodes of "
                                   f"--ranks-per-node {p}")
            out.append((1, n) if n <= p else (n // p, p))
        elif n == 1:
            out.append((1, 1))
        elif "intra" in levels and "inter" in levels:
            raise PredictError("--ranks with both an intra-node and an inter-node level: give "
                               "--ranks-per-node (or --nodes with --ranks-per-node)")
        elif "inter" in levels:
            out.append((n, 1))
        else:
            out.append((1, n))
    return out


# --- levels ---------------------------------------------------------------------------------

def _levels(args: argparse.Namespace, notes: List[str]
            ) -> Tuple[Dict[str, commmodel.Level], List[Dict[str, Any]]]:
    algorithm = getattr(args, "algorithm", None) or "auto"
    # a fitted level is inverted with the forced algorithm's coefficients; under auto with the
    # ring's (its times already hold what the library chose at each measured size)
    inverted_as = algorithm if algorithm in ("ring", "tree") else "ring"
    levels: Dict[str, commmodel.Level] = {}
    fits: List[Dict[str, Any]] = []
    for path in args.allreduce or []:
        if not os.path.isfile(path):
            raise PredictError(f"--allreduce {path}: no such file")
        try:
            file_fits = commmodel.fit_allreduce_file(path)
            by_level, unused = commmodel.levels_from(file_fits)
        except ValueError as e:
            raise PredictError(str(e)) from None
        notes.extend(unused)
        for fit in file_fits:
            d = fit.as_dict()
            d["level"] = commmodel.level_of_fit(fit)
            fits.append(d)
        for name, fit in by_level.items():
            if name in levels:
                raise PredictError(f"two sources of the {name} level: {levels[name].source} "
                                   f"and {fit.level().source}; give one")
            levels[name] = fit.level(inverted_as, fit.backend)
            for n in fit.notes:
                notes.append(f"{path} scope {fit.scope}: {n}")
            if fit.beside is not None:
                for n in fit.beside.notes:
                    notes.append(f"{path} scope {fit.beside.scope}: {n}")
    for name, spec, option in (("inter", args.link, "--link"), ("intra", args.intra, "--intra")):
        if spec is None:
            continue
        try:
            alpha, beta = commmodel.parse_link(spec)
        except ValueError as e:
            raise PredictError(f"{option}: {e}") from None
        if name in levels:
            raise PredictError(f"{option} {spec} and {levels[name].source} both give the "
                               f"{name} level; give one")
        levels[name] = commmodel.Level(alpha, beta, f"{option} {spec}")
    return levels, fits


# --- the prediction -------------------------------------------------------------------------

def _load_inputs(paths: Sequence[str], notes: List[str]
                 ) -> Tuple[List[runfile.RunData], List[Dict[str, Any]]]:
    if not paths:
        raise PredictError("no inputs: give run files or directories of them")
    for p in paths:
        if not os.path.exists(p):
            raise PredictError(f"{p}: no such file or directory")
    files = runfile.find_run_files(list(paths))
    if not files:
        raise PredictError(f"no run files (*.h5, *.hdf5) in {', '.join(paths)}")
    runs, inputs = [], []
    for path in files:
        try:
            run = runfile.load_run(path)
        except runfile.IncompleteRun as e:
            inputs.append({"path": path, "role": "skipped", "reason": str(e)})
            notes.append(f"skipped {e}")
            continue
        except (runfile.RunFileError, OSError, KeyError, ValueError) as e:
            raise PredictError(str(e)) from None
        if run.attr("mode", "train") != "train":
            inputs.append({"path": path, "role": "skipped",
                           "reason": f"mode {run.attr('mode')}, not a training run"})
            continue
        runs.append(run)
    if not runs:
        raise PredictError(f"no completed training runs among {len(files)} file(s)")
    kinds = {(r.model, r.device, r.threads) for r in runs}
    if len(kinds) > 1:
        raise PredictError("inputs mix models or hardware (" + "; ".join(
            f"{m} {d} threads {t}" for m, d, t in sorted(kinds)) + "): give one study")
    return runs, inputs


def _compute_scale(args: argparse.Namespace, p: Profile) -> Tuple[float, Optional[str]]:
    """The factor --step-time or --samples-per-s puts on the measured compute."""
    if args.step_time is None and args.samples_per_s is None:
        return 1.0, None
    measured = float(np.median(sum(p.phases[n] for n in COMPUTE)))
    if args.step_time is not None:
        target, how = args.step_time, f"--step-time {args.step_time:g} s"
    else:
        target = p.batch_per_rank / args.samples_per_s
        how = f"--samples-per-s {args.samples_per_s:g} (batch {p.batch_per_rank:g})"
    if not (target > 0 and math.isfinite(target)) or measured <= 0:
        raise PredictError(f"{how}: needs a positive figure and measured compute")
    return target / measured, (
        f"compute (forward + backward + optimizer, median {measured:.6g} s per step in "
        f"{p.source}) scaled x{target / measured:.4g} to {how}: a device not measured; the "
        f"bucket-ready profile is scaled with backward, data, buffer sync and control are not")


def _cores(args: argparse.Namespace, base: Profile, device: str, notes: List[str]
           ) -> Optional[float]:
    if device != "cpu":
        return None
    if getattr(args, "shared_cores", None) is not None:
        return None
    if args.cores_per_node is not None:
        notes.append(f"cores per node: {args.cores_per_node:g} (--cores-per-node)")
        return float(args.cores_per_node)
    # The run file does not record a node's cores, only the CPUs its ranks could run on
    # (cpu_threads_per_cpu_max), and a launcher that binds ranks narrows those: a 1-rank run
    # bound to one core would say "1 core" of a node that has many. So no default.
    seen = (f"; {base.source}'s ranks could run on "
            f"{base.ranks_per_node * base.threads_per_rank / base.load:g} CPU(s), a lower bound"
            if base.load else "")
    notes.append(f"cores per node not given: CPU oversubscription is not modelled (give "
                 f"--cores-per-node{seen})")
    return None


def _strong_profile(profiles: Sequence[Profile], batch: float, extrapolate: bool,
                    world: int, smallest: int) -> Tuple[Profile, bool]:
    """The profile at per-rank batch `batch` from those measured (ascending batches), and
    whether it is extrapolated; PredictError outside them without --extrapolate."""
    measured = [p.batch_per_rank for p in profiles]
    exact = [p for p in profiles if p.batch_per_rank == batch]
    if exact:
        return exact[0], False
    if len(profiles) >= 2 and measured[0] < batch < measured[-1]:
        hi = next(i for i, b in enumerate(measured) if b > batch)
        return interpolate(profiles[hi - 1], profiles[hi], batch), False
    if not extrapolate:
        raise PredictError(
            f"strong scaling to {world} ranks needs compute at per-rank batch {batch:g}, "
            f"outside the measured per-rank batches {measured[0]:g}..{measured[-1]:g} (runs "
            f"at {smallest} rank(s)); measure one there, or give --extrapolate")
    if len(profiles) == 1:
        return scale_proportionally(profiles[0], batch), True
    lo, hi_ = (profiles[0], profiles[1]) if batch < measured[0] else (profiles[-2], profiles[-1])
    return interpolate(lo, hi_, batch), True


def predict(args: argparse.Namespace) -> Dict[str, Any]:
    """The whole prediction as a JSON-ready dict; PredictError for input it cannot use."""
    if args.nodes is not None and args.ranks is not None:
        raise PredictError("--nodes and --ranks are exclusive: give one")
    if args.nodes is not None and args.ranks_per_node is None:
        raise PredictError("--nodes needs --ranks-per-node")
    if args.ranks_per_node is not None and args.ranks_per_node < 1:
        raise PredictError("--ranks-per-node must be >= 1")
    if args.global_batch is not None and args.mode == "weak":
        raise PredictError("--global-batch is for --mode strong")
    notes: List[str] = []
    runs, inputs = _load_inputs(args.inputs, notes)
    levels, fits = _levels(args, notes)
    device = runs[0].device
    read = [(r,) + _read(r, notes) for r in runs]
    modes = {r.mode for r in runs}
    mode = args.mode or ("strong" if modes == {"strong"} else "weak")
    smallest = min(m.world_size for _, _, m in read)
    base_runs = [(r, p, m) for r, p, m in read if m.world_size == smallest]

    if mode == "strong":
        global_batch = args.global_batch
        if global_batch is None:
            batches = {m.global_batch for _, _, m in read}
            if len(batches) != 1 or "strong" not in modes:
                raise PredictError("--mode strong needs --global-batch (the inputs do not "
                                   "share one strong-scaling global batch)")
            global_batch = batches.pop()
        if global_batch < 1:
            raise PredictError("--global-batch must be >= 1")
        by_batch: Dict[float, Profile] = {}
        for _, p, _ in base_runs:
            by_batch.setdefault(p.batch_per_rank, p)
        profiles = sorted(by_batch.values(), key=lambda p: p.batch_per_rank)
    else:
        global_batch = None
        batches = sorted({p.batch_per_rank for _, p, _ in base_runs})
        if len(batches) > 1:
            raise PredictError(f"weak scaling, but the runs at {smallest} rank(s) have several "
                               f"per-rank batches ({', '.join(f'{b:g}' for b in batches)}): "
                               f"give one study, or --mode strong --global-batch B")
        profiles = [base_runs[0][1]]
        for _, p, _ in base_runs[1:]:
            notes.append(f"{p.source}: a second run at {smallest} rank(s); the profile is "
                         f"{profiles[0].source}")
    base = profiles[0]
    scale, scale_note = _compute_scale(args, base)
    if scale_note:
        notes.append(scale_note)
    asked = _layouts(args, levels, [m for _, _, m in read])

    algorithm = getattr(args, "algorithm", None) or "auto"
    backend = getattr(args, "backend", None) or str(runs[0].attr("backend", "mpi"))
    if backend not in commmodel.BACKENDS:
        notes.append(f"backend {backend!r} of the profile is neither mpi nor nccl: the "
                     f"algorithms are chosen as Open MPI would (give --backend)")
        backend = "mpi"
    if backend == "nccl" and base.chunk_bytes:
        notes.append(f"--backend nccl: NCCL does not slice buckets; the profile's "
                     f"{base.chunk_bytes} B MPI slices are not modelled")
        base.chunk_bytes = 0
        for p in profiles:
            p.chunk_bytes = 0

    def topology(layout: Tuple[int, int]) -> commmodel.Topology:
        return commmodel.Topology(layout[0], layout[1], levels.get("intra"), levels.get("inter"),
                                  shared_link=args.shared_link, algorithm=algorithm,
                                  backend=backend)

    base_topo = topology(base.measured_layout)
    if any(lv not in levels for lv in base_topo.needed_levels()):
        notes.append(f"the measured layout ({base.nodes} node(s) of {base.ranks_per_node}) "
                     f"uses a level not given: its buffer sync and control are taken as "
                     f"measured, and the model's cost at each point is added to them")
        base_topo = topology((1, 1))
    shared = getattr(args, "shared_cores", None)
    if shared is not None and args.cores_per_node is not None:
        raise PredictError("--shared-cores and --cores-per-node are exclusive: give one")
    if shared is not None and device == "cpu":
        notes.append(f"assumption (--shared-cores {shared:g}): the nodes are not separate "
                     f"machines; all ranks of all nodes of a point share {shared:g} CPU cores "
                     f"(an emulated cluster on one host), so compute is scaled by world size x "
                     f"threads / {shared:g}")
    elif shared is not None:
        notes.append(f"--shared-cores {shared:g}: ignored on a {device} run")
        shared = None
    settings = Settings(compute_scale=scale, cores_per_node=_cores(args, base, device, notes),
                        device=device, base_topology=base_topo, shared_cores=shared,
                        comm_contention=getattr(args, "comm_contention", None) or "auto")

    compare = [m for _, p, m in read if m.world_size != smallest]
    # weak scaling: the profile's own layout too, the baseline of speedup (in strong scaling
    # it is at another per-rank batch, predicted only where asked)
    own = {base.measured_layout} if mode == "weak" else set()
    layouts = sorted(set(asked) | {m.layout for m in compare} | own,
                     key=lambda k: (k[0] * k[1], k[0]))

    points: List[Dict[str, Any]] = []
    for layout in layouts:
        topo = topology(layout)
        lacking = [lv for lv in topo.needed_levels() if lv not in levels]
        if lacking:
            what = {"intra": "the intra-node level (--intra SPEC, or an --allreduce file of one "
                             "node or with scope intra)",
                    "inter": "the inter-node level (--link SPEC, or an --allreduce file with "
                             "scope inter)"}
            msg = (f"{topo.world_size} ranks on {layout[0]} node(s) of {layout[1]} need "
                   + " and ".join(what[lv] for lv in lacking))
            if layout in asked:
                raise PredictError(msg)
            notes.append(f"not compared: {msg}")
            continue
        extrapolated = False
        prof = base
        if mode == "strong":
            batch = global_batch / topo.world_size
            prof, extrapolated = _strong_profile(profiles, batch, args.extrapolate,
                                                 topo.world_size, smallest)
            if batch != int(batch):
                notes.append(f"{topo.world_size} ranks: global batch {global_batch} is not a "
                             f"whole number per rank ({batch:g})")
        point = predict_point(prof, topo, settings)
        point["extrapolated"] = extrapolated
        point["algorithms"] = sorted({f"{lv}: {name}" for b in prof.bucket_bytes
                                      for lv, name in topo.algorithms_of(float(b)).items()})
        points.append(point)

    first = points[0]
    for pt in points:
        pt["speedup"] = pt["throughput_samples_per_s"] / first["throughput_samples_per_s"]
        pt["efficiency"] = pt["speedup"] * first["world_size"] / pt["world_size"]
        pt["measured"] = None

    comparisons = []
    by_layout = {(p["nodes"], p["ranks_per_node"]): p for p in points}
    base_measured = [m for _, _, m in base_runs if m.layout == (first["nodes"],
                                                                first["ranks_per_node"])]
    for m in [m for _, _, m in read]:
        pt = by_layout.get(m.layout)
        if pt is None:
            continue
        if m.global_batch != pt["global_batch"]:
            notes.append(f"not compared: {m.path} has global batch {m.global_batch}, the "
                         f"prediction at its layout {pt['global_batch']:g}")
            continue
        ms, mw = float(np.median(m.step_s)), float(np.median(m.wall_s))
        c = {"path": m.path, "world_size": m.world_size, "nodes": m.nodes,
             "ranks_per_node": m.ranks_per_node, "measured_step_s": ms, "measured_wall_s": mw,
             "predicted_step_s": pt["step_s"]["median"],
             "predicted_wall_s": pt["wall_s"]["median"],
             "step_rel_error": pt["step_s"]["median"] / ms - 1.0,
             "wall_rel_error": pt["wall_s"]["median"] / mw - 1.0,
             "is_profile": m.world_size == smallest,
             "measured_throughput_samples_per_s": m.global_batch / mw}
        if base_measured:
            bm = base_measured[0]
            c["measured_speedup"] = (c["measured_throughput_samples_per_s"]
                                     / (bm.global_batch / float(np.median(bm.wall_s))))
        comparisons.append(c)
        if not c["is_profile"] and pt["measured"] is None:
            pt["measured"] = c
    for r, p, m in read:
        inputs.append({"path": r.path, "world_size": m.world_size, "nodes": m.nodes,
                       "ranks_per_node": m.ranks_per_node, "batch_per_rank": m.batch_per_rank,
                       "scaling_mode": r.mode,
                       "role": "profile" if m.world_size == smallest else "measured"})

    notes.extend(_contention_notes(points, settings, fits, base))
    used = {pt["comm_contention"] for pt in points if pt["world_size"] > 1} or {"off"}
    assumptions = _assumptions(base, levels, mode, args.shared_link, algorithm, backend,
                               used)
    return {
        "tool": "scalebench predict", "model": runs[0].model, "device": device,
        "mode": mode, "global_batch": global_batch, "algorithm": algorithm,
        "backend": backend,
        "profile": base.source, "profile_world_size": smallest,
        "overlap": base.overlap, "mpi_chunk_bytes": base.chunk_bytes,
        "buckets": int(len(base.bucket_bytes)),
        "bucket_bytes_total": int(base.bucket_bytes.sum()),
        "levels": {k: v.as_dict() for k, v in levels.items()},
        "allreduce_fits": fits, "comm_contention": settings.comm_contention,
        "cores_per_node": settings.cores_per_node,
        "shared_cores": settings.shared_cores,
        "compute_scale": scale, "inputs": inputs, "points": points,
        "comparisons": comparisons, "notes": notes + assumptions, "assumptions": assumptions,
    }


def _ranks_list(points: Sequence[Dict[str, Any]]) -> str:
    return ", ".join(f"{p['world_size']}" + (f" ({p['nodes']} nodes of {p['ranks_per_node']})"
                                             if p["nodes"] > 1 else "") for p in points)


def _contention_notes(points: Sequence[Dict[str, Any]], s: Settings,
                      fits: Sequence[Dict[str, Any]], base: Profile) -> List[str]:
    """One note naming the contention model each point got (and, for measured, its source
    files and what the cores are still used for); one on a sweep whose load ran another
    thread count than the profile."""
    if s.device != "cpu":
        return []
    multi = [p for p in points if p["world_size"] > 1]
    measured = [p for p in multi if p["comm_contention"] == "measured"]
    share = [p for p in multi if p["comm_contention"] == "share"]
    off = [p for p in multi if p["comm_contention"] == "off"]
    parts = []
    if measured:
        sources = sorted({src for p in measured for src in p["comm_contention_sources"]})
        cores = ("--shared-cores" if s.shared_cores is not None else "--cores-per-node"
                 if s.cores_per_node is not None else None)
        parts.append(
            f"measured at {_ranks_list(measured)} ranks (from {'; '.join(sources)}): a bucket "
            f"in flight while backward computes progresses at plain / beside-compute time of "
            f"its size, backward beside it at compute_idle x the rows' compute_rate, after "
            f"backward the bucket at the plain sweep's rate; this needs no --cores-per-node or "
            f"--shared-cores (the measurement holds the sharing of the cores), but compute "
            f"with no bucket in flight (compute_idle = 1 / oversubscription) still uses them"
            + (f" ({cores} given)" if cores else " (not given: not modelled, compute_idle 1)"))
    if share:
        why = (" (a level they use has no beside-compute rows: `scalebench allreduce "
               "--beside-compute` gives them)" if s.comm_contention == "auto" else "")
        parts.append(f"share (processor sharing) at {_ranks_list(share)} ranks{why}")
    if off and s.comm_contention != "off":
        parts.append(f"none at {_ranks_list(off)} ranks (the cores are not known: give "
                     f"--cores-per-node or --shared-cores, or beside-compute rows)")
    out = []
    if parts and (measured or s.comm_contention != "share"):
        out.append(f"comm contention (--comm-contention {s.comm_contention}): "
                   + "; ".join(parts))
    for f in fits:
        b = f.get("beside_compute")
        if b and b.get("compute_threads") and b["compute_threads"] != base.threads_per_rank \
                and f.get("level"):
            out.append(f"{f['path']} scope {b['scope']}: its compute load ran "
                       f"{b['compute_threads']} thread(s) per rank, the profile "
                       f"{base.threads_per_rank}: the beside-compute rates are of another load "
                       f"(rerun the sweep with --compute-threads {base.threads_per_rank})")
    return out


def _algorithm_note(algorithm: str, backend: str) -> str:
    if algorithm == "ring":
        return "bucket allreduce: ring, 2(n-1) alpha + 2(n-1)/n S beta per call (--algorithm ring)"
    tree = ("double binary tree, 2 ceil(log2 n) alpha + 2 S beta" if backend == "nccl" else
            "recursive doubling, L(n) (alpha + S beta), L(n) = log2 n or floor(log2 n) + 2")
    if algorithm == "tree":
        return f"bucket allreduce: {tree} per call (--algorithm tree, backend {backend})"
    rule = ("NCCL: ring within a node, across nodes the one of least modelled time (tree "
            "below the crossover size n alpha (n-1-ceil(log2 n)) / beta)" if backend == "nccl"
            else f"Open MPI tuned: recursive doubling below "
                 f"{commmodel.OMPI_RECURSIVE_DOUBLING_BELOW} B per call, ring above")
    return (f"bucket allreduce: per call as {backend} picks it (--algorithm auto; {rule}): "
            f"ring 2(n-1) alpha + 2(n-1)/n S beta or {tree}; levels fitted from allreduce "
            f"files keep the ring form they were inverted with (their times hold the "
            f"library's own choice at each size)")


def _assumptions(base: Profile, levels: Dict[str, commmodel.Level], mode: str,
                 shared_link: bool, algorithm: str = "auto", backend: str = "mpi",
                 contention: Any = "off") -> List[str]:
    """The model's assumptions, as notes of every prediction (docs/prediction.md)."""
    out = [
        f"compute from {base.source}: each measured step of each recorded rank replayed; "
        f"the band is the {BAND[0]:g}-{BAND[1]:g} % range over those steps (per step the "
        f"slowest rank)",
        _algorithm_note(algorithm, backend),
        "hierarchical (reduce-scatter in the node, an allreduce across nodes of S/p, "
        "allgather in the node) where a point has several nodes of several ranks",
        f"MPI slicing: {base.chunk_bytes} B slices (0: one call per bucket), each paying the "
        f"latency once",
        "schedule: buckets in plan order, one collective at a time, each at max(ready, end of "
        "the previous)" + ("" if base.overlap else "; no overlap: all after backward"),
        "buffer broadcast modelled as a ring allreduce of its bytes (scatter + allgather), "
        "control as one allreduce's latency; each the measured value plus the model's "
        "difference between the point and the measured layout",
    ]
    used = {contention} if isinstance(contention, str) else set(contention)
    if "measured" in used:
        out.append("CPU cores shared by compute and communication, measured (--comm-contention "
                   "measured): a bucket in flight while backward computes runs at the time its "
                   "size took in the allreduce sweep beside a compute load on every rank "
                   "(scope S+compute), backward beside it at the load's measured rate there; "
                   "after backward the bucket runs at the sweep's time alone")
    if "share" in used:
        out.append("CPU cores shared by compute and communication (--comm-contention share): "
                   "while a bucket is in flight, each rank's communication thread is one more "
                   "runnable thread beside its compute threads; every runnable thread gets "
                   "min(1, cores / runnable threads) of a core, so backward slows while a "
                   "bucket is in flight and the bucket runs at that share over the one its "
                   "allreduce sweep had alone; memory bandwidth and the scheduler's "
                   "interleaving of a collective's ranks are not modelled")
    if used <= {"off"}:
        out.append("communication does not slow compute (no contention for cores or memory "
                   "bandwidth between the allreduce thread and backward is modelled)")
    if "inter" in levels:
        out.append("the p cross-node flows of a node share one link (bandwidth / p)"
                   if shared_link else
                   "each rank of a node has its own network link (one NIC per rank); give "
                   "--shared-link where the ranks of a node share one")
    if mode == "strong":
        out.append("strong scaling: each phase linear in the per-rank batch between measured "
                   "runs at the smallest world size")
    return out


# --- output ---------------------------------------------------------------------------------

CSV_COLUMNS = ("nodes", "ranks_per_node", "world_size", "per_rank_batch", "global_batch",
               "step_s", "step_s_p10", "step_s_p90", "wall_s", "wall_s_p10", "wall_s_p90",
               "exposed_comm_s", "comm_busy_s", "throughput_samples_per_s", "speedup",
               "efficiency", "extrapolated", "comm_measured", "measured_step_s",
               "measured_wall_s", "step_rel_error", "wall_rel_error")


def csv_text(result: Dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in result["points"]:
        m = p["measured"] or {}
        w.writerow([p["nodes"], p["ranks_per_node"], p["world_size"], f"{p['per_rank_batch']:g}",
                    f"{p['global_batch']:g}", repr(p["step_s"]["median"]),
                    repr(p["step_s"]["p10"]),
                    repr(p["step_s"]["p90"]), repr(p["wall_s"]["median"]),
                    repr(p["wall_s"]["p10"]), repr(p["wall_s"]["p90"]),
                    repr(p["exposed_comm_s"]["median"]), repr(p["comm_busy_s"]),
                    repr(p["throughput_samples_per_s"]), repr(p["speedup"]),
                    repr(p["efficiency"]), int(p["extrapolated"]), int(p["comm_measured"])]
                   + [repr(m[k]) if k in m else "" for k in
                      ("measured_step_s", "measured_wall_s", "step_rel_error", "wall_rel_error")])
    return buf.getvalue()


def _figure(result: Dict[str, Any]) -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    x = [p["world_size"] for p in pts]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    med = [p["step_s"]["median"] for p in pts]
    ax.plot(x, med, "o-", color="#4C72B0", label="predicted step time (median)")
    ax.fill_between(x, [p["step_s"]["p10"] for p in pts], [p["step_s"]["p90"] for p in pts],
                    color="#4C72B0", alpha=0.2, label=f"{BAND[0]:g}-{BAND[1]:g} % of steps")
    ext = [p for p in pts if p["extrapolated"]]
    if ext:
        ax.plot([p["world_size"] for p in ext], [p["step_s"]["median"] for p in ext], "x",
                color="#C44E52", markersize=10, label="extrapolated in per-rank batch")
    cmp_ = [c for c in result["comparisons"] if not c["is_profile"]]
    if cmp_:
        ax.plot([c["world_size"] for c in cmp_], [c["measured_step_s"] for c in cmp_], "s",
                color="#DD8452", label="measured (error of the prediction beside)")
        for c in cmp_:
            ax.annotate(f"{c['step_rel_error'] * 100:+.1f} %",
                        (c["world_size"], c["measured_step_s"]), textcoords="offset points",
                        xytext=(6, 6), fontsize=9, color="#DD8452")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("ranks" if len({p["ranks_per_node"] for p in pts}) > 1 or pts[-1]["nodes"] == 1
                  else f"ranks ({pts[-1]['ranks_per_node']} per node)")
    ax.set_ylabel("step time (s)")
    top = max([p["step_s"]["p90"] for p in pts] + [c["measured_step_s"] for c in cmp_])
    ax.set_ylim(0, top * 1.25)
    title = (f"{result['model']} {result['mode']} scaling, predicted from "
             f"{result['profile_world_size']} rank(s)")
    if result["compute_scale"] != 1.0:
        title += f"\ncompute scaled x{result['compute_scale']:.3g} (a device not measured)"
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax2.plot(x, [p["speedup"] for p in pts], "o-", color="#4C72B0", label="predicted speedup")
    ax2.plot(x, [xi / x[0] for xi in x], ":", color="grey", label="ideal")
    sp = [c for c in cmp_ if "measured_speedup" in c]
    if sp:
        ax2.plot([c["world_size"] for c in sp], [c["measured_speedup"] for c in sp], "s",
                 color="#DD8452", label="measured speedup")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log", base=2)
    ax2.set_xlabel("ranks")
    ax2.set_ylabel("speedup (throughput / smallest point's)")
    eff = ax2.twinx()
    eff.plot(x, [p["efficiency"] * 100 for p in pts], "^--", color="#55A868",
             label="predicted efficiency")
    eff.set_ylabel("efficiency (%)")
    eff.set_ylim(0, 110)
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = eff.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="best", fontsize=8)
    ax2.set_title("speedup and efficiency")
    fig.tight_layout()
    return fig, plt


OUTPUTS = ("prediction.csv", "prediction.json", "prediction.png", "prediction.svg")


def write_outputs(result: Dict[str, Any], out_dir: str) -> List[str]:
    """Renders everything first, then writes each file atomically; a failed write removes the
    files this call wrote, so that a refusal leaves nothing."""
    fig, plt = _figure(result)
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=130)
    fig.savefig(svg, format="svg")
    plt.close(fig)
    try:
        as_json = json.dumps(result, indent=1, allow_nan=False) + "\n"
    except ValueError:
        raise PredictError("the inputs give non-finite figures (NaN or infinite times): "
                           "nothing written") from None
    texts = {"prediction.csv": csv_text(result), "prediction.json": as_json,
             "prediction.svg": svg.getvalue()}
    created = not os.path.isdir(out_dir)
    written: List[str] = []
    try:
        os.makedirs(out_dir, exist_ok=True)
        for name in OUTPUTS:
            path = os.path.join(out_dir, name)
            if name in texts:
                write_text_atomic(path, texts[name])
            else:
                write_bytes_atomic(path, png.getvalue())
            written.append(path)
    except OSError as e:
        for path in written:
            os.unlink(path)
        if created and os.path.isdir(out_dir) and not os.listdir(out_dir):
            os.rmdir(out_dir)
        raise PredictError(f"--out {out_dir}: cannot write ({e})") from None
    return written


# --- command line ---------------------------------------------------------------------------

EXAMPLES = """\
examples:
  results/predict runs/study-cpu --out runs/pred        # the study's own points, validated
  results/predict runs/c-np1.h5 --allreduce runs/ar-np4.h5 --ranks 1..64 --out runs/pred
  results/predict run.h5 --link 100Gbit,5us --intra 450GB/s,2us --ranks-per-node 8 \\
      --nodes 1..512 --step-time 0.12 --out runs/pred-cluster
  results/predict runs/emulated --allreduce runs/ar-4hosts.h5 --shared-cores 2 --out runs/pred
                                                        # emulated hosts sharing 2 cores

"""

DESCRIPTION = """\
Predict step time, throughput, speedup and efficiency at other scales from measured run files:
compute from the run at the smallest world size (its every measured step, replayed), gradient
allreduces from an alpha-beta model per level (fitted from `scalebench allreduce` files, or
--link / --intra), scheduled as the engine does. Every input run at another world size is a
measured point: the prediction's error is written beside it. Writes DIR/prediction.csv, .json
(inputs, fitted parameters and their quality, every assumption), .png and .svg.
See docs/prediction.md.
"""


class _Parser(argparse.ArgumentParser):
    """--help starts with example command lines; a usage error is one line and exit 2."""

    def format_help(self) -> str:
        return EXAMPLES + super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)


def _positive(kind: Any):
    def conv(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (v > 0 and math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return v
    return conv


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = _Parser(prog=PROG, description=DESCRIPTION,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="run files (.h5) or directories of them, as results/report takes")
    p.add_argument("--allreduce", nargs="+", metavar="FILE",
                   help="`scalebench allreduce -o` files to fit each level from (after the "
                        "INPUTs: it takes every file that follows)")
    p.add_argument("--link", metavar="SPEC", help="inter-node link, e.g. 100Gbit,5us")
    p.add_argument("--intra", metavar="SPEC", help="intra-node link, e.g. 450GB/s,2us")
    p.add_argument("--ranks", metavar="LIST", help="world sizes: 1,2,4 or 1..512 (doubling)")
    p.add_argument("--nodes", metavar="LIST", help="node counts (with --ranks-per-node)")
    p.add_argument("--ranks-per-node", type=int, metavar="P")
    p.add_argument("--shared-link", action="store_true",
                   help="the ranks of a node share one network link (default: one each)")
    p.add_argument("--algorithm", choices=commmodel.ALGORITHMS, default="auto",
                   help="allreduce algorithm per call: auto (as the backend picks per message "
                        "size: Open MPI recursive doubling below 10000 B, NCCL tree below "
                        "its crossover across nodes), ring, or tree (NCCL double binary "
                        "tree, Open MPI recursive doubling); default auto")
    p.add_argument("--backend", choices=commmodel.BACKENDS,
                   help="the collective library whose algorithms are modelled (default: the "
                        "profile's backend attribute)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--samples-per-s", type=_positive(float), metavar="X",
                   help="one rank's throughput on a device not measured")
    g.add_argument("--step-time", type=_positive(float), metavar="S",
                   help="one rank's compute time per step on a device not measured")
    p.add_argument("--cores-per-node", type=_positive(float), metavar="C",
                   help="CPU cores of a target node (CPU runs: oversubscription)")
    p.add_argument("--shared-cores", type=_positive(float), metavar="C",
                   help="all ranks of all nodes share C CPU cores (an emulated cluster on one "
                        "machine); exclusive with --cores-per-node")
    p.add_argument("--comm-contention", choices=CONTENTION_MODES, default="auto",
                   help="CPU runs: auto (default): measured where every level a point uses "
                        "has beside-compute rows (`scalebench allreduce --beside-compute`), "
                        "else share; measured: a bucket in flight while backward computes "
                        "runs at its size's time beside compute in the sweep, backward beside "
                        "it at the load's measured rate; share (with the cores known): "
                        "compute threads and, while a bucket is in flight, each rank's "
                        "communication thread share the cores (processor sharing); off: "
                        "communication takes no core from compute (the model before "
                        "2026-12-03)")
    p.add_argument("--mode", choices=("weak", "strong"))
    p.add_argument("--global-batch", type=int, metavar="B", help="strong scaling's batch")
    p.add_argument("--extrapolate", action="store_true",
                   help="allow per-rank batches outside the measured ones (marked)")
    p.add_argument("--out", metavar="DIR", required=True, help="output directory")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        result = predict(args)
        write_outputs(result, args.out)
    except PredictError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    for note in result["notes"]:
        if note not in result["assumptions"]:  # those are in prediction.json, every time
            print(f"{PROG}: note: {note}", file=sys.stderr)
    for c in result["comparisons"]:
        if not c["is_profile"]:
            print(f"{PROG}: {c['world_size']} ranks: measured step {c['measured_step_s']:.6g} s, "
                  f"predicted {c['predicted_step_s']:.6g} s ({c['step_rel_error'] * 100:+.1f} %)")
    print(f"{PROG}: wrote {len(result['points'])} points to "
          f"{args.out}/prediction.{{csv,json,png,svg}}")
    return 0
