"""Derived figures of runs and scaling groups. Pure numpy: no plotting, no file access.

Definitions (the report's documentation refers here):

- Warm-up steps (any rank's `warmup` flag set) are excluded from every time statistic.
- Step time of a step = max over ranks of `step_s`: the slowest rank sets the pace.
- Median step time comes with a 95% distribution-free confidence interval from order
  statistics: with the sorted step times x(1) <= ... <= x(n), the interval is [x(l), x(n+1-l)]
  for the largest l whose binomial coverage 1 - 2 P(Bin(n, 1/2) <= l-1) is >= 95%. Below 6
  steps no interval reaches 95%; [min, max] is given with its actual coverage
  (`step_ci_coverage`). Deterministic, no resampling.
- Throughput = median over steps of the global samples per step (sum over ranks of `samples`)
  / median step time, in samples/s; its interval is the step-time interval inverted.
- Phase times (data, forward, backward, comm_exposed, optimizer) are averaged over ranks in
  each step, then the median over steps is taken (as in the trainer's own summary). In
  synchronous data parallelism the ranks wait for each other inside comm_exposed, so the
  rank average charges imbalance to exposed communication rather than hiding it.
  `median_compute_s` is the median of forward+backward; `median_other_s` is what the medians
  of the phases leave of the median step time (>= 0).
- Exposed communication share = median comm_exposed / median step time (a ratio of medians;
  the file's `summary_exposed_comm_share` is a median of per-step ratios instead).
- Imbalance = slowest rank's median `step_s` / median over ranks of the per-rank medians.
  Because the allreduce synchronises the ranks, `step_s` differs little between ranks; the
  busy imbalance (same, on `step_s - comm_exposed_s`, the time a rank did not wait for
  communication) names the rank that actually holds the others back.
- Allreduce bandwidth per message size: the median over measured steps, ranks and buckets of
  that size of the bucket allreduce duration; algbw = bytes / median duration,
  busbw = algbw * 2(n-1)/n (the ring allreduce's bus factor, as in nccl-tests); none for n=1.
- Nodes of a run: the root attribute `nodes`; where a file lacks it, the distinct
  `/ranks/node_index` values, else the distinct hostnames. Ranks per node: the attribute
  `ranks_per_node` (most ranks on one node), else the largest count of ranks on one node.
  Hosts: the distinct `/ranks/hostname` values in rank order.
- Communication crossed nodes (`crosses_nodes`): some bucket's `/buckets/spans_nodes` is 1;
  in files without that dataset (older ones), or without buckets, whenever nodes > 1.
- Repeats (runs of one group with the same world size on the same number of nodes) are pooled
  step by step. Runs with the same world size on different node counts are not repeats: they
  are separate points.
- Scaling groups are keyed by model, mode, device, threads and the variant settings; the node
  count is not part of the key, so a multi-node study (the same configuration on 1, 2, 4 ...
  nodes) is one group. Only where a group could be drawn neither against ranks nor against
  nodes (one world size on several node counts, and several world sizes on one node count:
  e.g. two node studies at different ranks per node) is it split by ranks per node.
- X axis of a group (`x_axis`): "nodes" when its points differ in node count and each node
  count has one point (a node series at fixed ranks per node); otherwise "ranks" (world size
  N), which is every single-node study.
- Speedup S = X / X_base, efficiency E = S * N_base / N, with X the throughput, N the world
  size and base the group's first point: the smallest node count on a nodes axis, the
  smallest world size (normally 1) on a ranks axis. Efficiency is per rank on either axis (at
  fixed ranks per node, N_base / N = nodes_base / nodes). For weak scaling also
  T / T_base, the growth of the step time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

PHASES = ("data_s", "forward_s", "backward_s", "comm_exposed_s", "optimizer_s")
CI_LEVEL = 0.95
CI_METHOD = "order-statistic (binomial) 95% CI of the median"
MIB = 1024.0 * 1024.0


class UnusableRun(Exception):
    """A completed run file that yields no figures (e.g. only warm-up steps)."""


# --- statistics -------------------------------------------------------------------------------

def median_ci_indices(n: int, level: float = CI_LEVEL) -> Tuple[int, int, float]:
    """0-based order-statistic indices (lo, hi) of the median's CI for n sorted values, and
    the interval's exact coverage."""
    if n <= 0:
        raise ValueError("no values")
    # Binomial(n, 1/2) CDF in log space: 2^-n underflows for n > 1074.
    k = np.arange(n, dtype=np.float64)
    log_pmf = np.concatenate(([-n * math.log(2.0)],
                              -n * math.log(2.0) + np.cumsum(np.log(n - k) - np.log(k + 1))))
    cdf = np.cumsum(np.exp(log_pmf))
    # coverage of [x(l), x(n+1-l)] (1-based) is 1 - 2 * cdf[l-1]
    best_l = 1
    for l in range(1, n // 2 + 1):
        if 1.0 - 2.0 * cdf[l - 1] >= level:
            best_l = l
        else:
            break
    coverage = min(1.0, max(0.0, 1.0 - 2.0 * cdf[best_l - 1]))
    return best_l - 1, n - best_l, float(coverage)


def median_ci(values: Sequence[float], level: float = CI_LEVEL) -> Tuple[float, float, float, float]:
    """(median, ci_low, ci_high, coverage) of `values`."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0:
        raise ValueError("no values")
    lo, hi, coverage = median_ci_indices(x.size, level)
    return float(np.median(x)), float(x[lo]), float(x[hi]), coverage


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if np.size(values) else float("nan")


# --- one run ----------------------------------------------------------------------------------

@dataclass
class StepSeries:
    """The measured (non-warm-up) steps of a run, or of pooled repeats."""
    world_size: int
    slowest_step_s: np.ndarray            # [m]     max over ranks of step_s
    global_samples: np.ndarray            # [m]     sum over ranks of samples
    phases: Dict[str, np.ndarray]         # name -> [m], averaged over ranks
    compute_s: np.ndarray                 # [m]     forward + backward, averaged over ranks
    per_rank_step_s: np.ndarray           # [m, ws]
    per_rank_busy_s: np.ndarray           # [m, ws] step_s - comm_exposed_s
    comm_busy_s: np.ndarray               # [m, ws]
    comm_exposed_s: np.ndarray            # [m, ws]
    peak_rss_per_rank: np.ndarray         # [ws]    max over all steps, warm-up included
    peak_dev_alloc_per_rank: np.ndarray   # [ws]    -1 where not measured
    peak_dev_reserved_per_rank: np.ndarray
    bucket_durations: Dict[int, List[np.ndarray]] = field(default_factory=dict)  # bytes -> arrays

    @property
    def measured_steps(self) -> int:
        return int(self.slowest_step_s.size)


def measured_series(run: Any) -> StepSeries:
    """Per-step figures of a run (a runfile.RunData), warm-up excluded."""
    st = run.steps
    step_s = np.asarray(st["step_s"], dtype=np.float64)
    ws = step_s.shape[1]
    measured = np.asarray(st["warmup"]).max(axis=1) == 0 if step_s.shape[0] else np.zeros(0, bool)
    m = step_s[measured]
    phases = {p: np.asarray(st[p], dtype=np.float64)[measured].mean(axis=1) for p in PHASES}
    exposed = np.asarray(st["comm_exposed_s"], dtype=np.float64)[measured]

    def peak(name: str) -> np.ndarray:
        a = np.asarray(st[name], dtype=np.int64)
        return a.max(axis=0) if a.shape[0] else np.full(ws, -1, np.int64)

    buckets: Dict[int, List[np.ndarray]] = {}
    dur = np.asarray(run.bucket_duration_s, dtype=np.float64)
    if dur.ndim == 3 and dur.shape[2]:
        dur = dur[measured]
        for b, nbytes in enumerate(np.asarray(run.bucket_bytes, dtype=np.int64)):
            if nbytes > 0:
                buckets.setdefault(int(nbytes), []).append(dur[:, :, b].ravel())
    return StepSeries(
        world_size=ws,
        slowest_step_s=m.max(axis=1) if m.size else np.zeros(0),
        global_samples=np.asarray(st["samples"], dtype=np.float64)[measured].sum(axis=1),
        phases=phases,
        compute_s=phases["forward_s"] + phases["backward_s"],
        per_rank_step_s=m,
        per_rank_busy_s=m - exposed,
        comm_busy_s=np.asarray(st["comm_busy_s"], dtype=np.float64)[measured],
        comm_exposed_s=exposed,
        peak_rss_per_rank=peak("peak_rss_bytes"),
        peak_dev_alloc_per_rank=peak("device_peak_allocated_bytes"),
        peak_dev_reserved_per_rank=peak("device_peak_reserved_bytes"),
        bucket_durations=buckets,
    )


def pool_series(series: Sequence[StepSeries]) -> StepSeries:
    """Repeats of one configuration pooled step by step (per-rank peaks: max over repeats)."""
    if len(series) == 1:
        return series[0]
    ws = series[0].world_size
    if any(s.world_size != ws for s in series):
        raise ValueError("pooling runs of different world sizes")
    cat = lambda name: np.concatenate([getattr(s, name) for s in series], axis=0)  # noqa: E731
    buckets: Dict[int, List[np.ndarray]] = {}
    for s in series:
        for nbytes, arrays in s.bucket_durations.items():
            buckets.setdefault(nbytes, []).extend(arrays)
    return StepSeries(
        world_size=ws,
        slowest_step_s=cat("slowest_step_s"),
        global_samples=cat("global_samples"),
        phases={p: np.concatenate([s.phases[p] for s in series]) for p in PHASES},
        compute_s=cat("compute_s"),
        per_rank_step_s=cat("per_rank_step_s"),
        per_rank_busy_s=cat("per_rank_busy_s"),
        comm_busy_s=cat("comm_busy_s"),
        comm_exposed_s=cat("comm_exposed_s"),
        peak_rss_per_rank=np.max([s.peak_rss_per_rank for s in series], axis=0),
        peak_dev_alloc_per_rank=np.max([s.peak_dev_alloc_per_rank for s in series], axis=0),
        peak_dev_reserved_per_rank=np.max([s.peak_dev_reserved_per_rank for s in series], axis=0),
        bucket_durations=buckets,
    )


def bus_factor(world_size: int) -> Optional[float]:
    return 2.0 * (world_size - 1) / world_size if world_size > 1 else None


def bandwidth_by_size(series: StepSeries) -> List[Dict[str, Any]]:
    """Allreduce bandwidth per message size (see module docstring); empty for one rank."""
    factor = bus_factor(series.world_size)
    if factor is None:
        return []
    out = []
    for nbytes in sorted(series.bucket_durations):
        d = np.concatenate(series.bucket_durations[nbytes])
        d = d[d > 0]
        if d.size == 0:
            continue
        med = float(np.median(d))
        algbw = nbytes / med
        out.append({
            "bytes": nbytes,
            "samples": int(d.size),
            "median_duration_s": med,
            "algbw_bytes_per_s": algbw,
            "busbw_bytes_per_s": algbw * factor,
        })
    return out


def _imbalance(per_rank: np.ndarray) -> Tuple[float, int, List[float]]:
    medians = np.median(per_rank, axis=0)
    slowest = int(np.argmax(medians))
    typical = float(np.median(medians))
    ratio = float(medians[slowest] / typical) if typical > 0 else float("nan")
    return ratio, slowest, [float(v) for v in medians]


def summarize_series(s: StepSeries) -> Dict[str, Any]:
    """Every derived figure of a run (or pooled repeats), as JSON-ready values."""
    if s.measured_steps == 0:
        raise UnusableRun("no measured (non-warm-up) steps")
    med, lo, hi, coverage = median_ci(s.slowest_step_s)
    samples = _median(s.global_samples)
    throughput = samples / med if med > 0 else float("nan")
    phases = {f"median_{p}": _median(s.phases[p]) for p in PHASES}
    compute = _median(s.compute_s)
    accounted = (phases["median_data_s"] + compute + phases["median_comm_exposed_s"]
                 + phases["median_optimizer_s"])
    busy_total = float(s.comm_busy_s.sum())
    imb, slow_rank, rank_medians = _imbalance(s.per_rank_step_s)
    busy_imb, busy_rank, _ = _imbalance(s.per_rank_busy_s)
    bw = bandwidth_by_size(s)
    peak_bw = max(bw, key=lambda e: e["busbw_bytes_per_s"]) if bw else None
    dev_alloc = s.peak_dev_alloc_per_rank
    dev_res = s.peak_dev_reserved_per_rank
    has_dev = bool(np.any(dev_alloc > 0) or np.any(dev_res > 0))
    return {
        "world_size": s.world_size,
        "measured_steps": s.measured_steps,
        "median_step_s": med,
        "step_ci_low_s": lo,
        "step_ci_high_s": hi,
        "step_ci_coverage": coverage,
        "global_samples_per_step": samples,
        "throughput_samples_per_s": throughput,
        "throughput_ci_low": samples / hi if hi > 0 else float("nan"),
        "throughput_ci_high": samples / lo if lo > 0 else float("nan"),
        **phases,
        "median_compute_s": compute,
        "median_other_s": max(0.0, med - accounted),
        "exposed_comm_share": phases["median_comm_exposed_s"] / med if med > 0 else float("nan"),
        "comm_overlap": (max(0.0, 1.0 - float(s.comm_exposed_s.sum()) / busy_total)
                         if busy_total > 0 else None),
        "peak_rss_bytes": int(s.peak_rss_per_rank.max()),
        "peak_rss_bytes_per_rank": [int(v) for v in s.peak_rss_per_rank],
        "peak_device_allocated_bytes": int(dev_alloc.max()) if has_dev else None,
        "peak_device_allocated_bytes_per_rank": [int(v) for v in dev_alloc] if has_dev else None,
        "peak_device_reserved_bytes": int(dev_res.max()) if has_dev else None,
        "rank_median_step_s": rank_medians,
        "imbalance": imb,
        "slowest_rank": slow_rank,
        "busy_imbalance": busy_imb,
        "busy_slowest_rank": busy_rank,
        "busbw_factor": bus_factor(s.world_size),
        "allreduce_bandwidth": bw,
        "busbw_peak_bytes_per_s": peak_bw["busbw_bytes_per_s"] if peak_bw else None,
        "busbw_peak_message_bytes": peak_bw["bytes"] if peak_bw else None,
    }


# --- nodes ------------------------------------------------------------------------------------

def _positive_int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _rank_column(run: Any, name: str) -> Optional[List[Any]]:
    """A /ranks column as a list, or None where the file lacks it or it has the wrong length."""
    col = run.ranks.get(name)
    if col is None or len(col) != run.world_size:
        return None
    return list(col)


def run_hosts(run: Any) -> List[str]:
    """Distinct hostnames in rank order (the first rank on each host first)."""
    return list(dict.fromkeys(str(h) for h in (_rank_column(run, "hostname") or [])))


def _ranks_on_each_node(run: Any) -> List[int]:
    """Ranks per node from /ranks/node_index (newer files), else from the hostnames."""
    column = _rank_column(run, "node_index") or _rank_column(run, "hostname") or []
    counts: Dict[Any, int] = {}
    for v in column:
        key = int(v) if isinstance(v, (int, np.integer)) else str(v)
        counts[key] = counts.get(key, 0) + 1
    return list(counts.values())


def run_nodes(run: Any) -> int:
    """Nodes the run used: the `nodes` attribute, which the trainer writes from MPI's view of
    shared memory; the /ranks columns only stand in for files without it."""
    return _positive_int(run.attr("nodes")) or len(_ranks_on_each_node(run)) or 1


def run_ranks_per_node(run: Any) -> int:
    """Most ranks on one node (attribute `ranks_per_node`, else counted from /ranks)."""
    counted = _ranks_on_each_node(run)
    return (_positive_int(run.attr("ranks_per_node")) or (max(counted) if counted else None)
            or run.world_size)


def crosses_nodes(run: Any) -> Tuple[bool, Optional[int]]:
    """Whether the run's gradient allreduces crossed nodes, and how many buckets did (None
    where the file has no /buckets/spans_nodes). The dataset says it per bucket, which a
    hierarchical allreduce may make differ; without it every bucket is reduced over all ranks,
    so communication crosses nodes exactly when there are several."""
    spans = getattr(run, "bucket_spans_nodes", None)
    if spans is None or np.size(spans) == 0:
        return run_nodes(run) > 1, None
    crossing = int(np.count_nonzero(np.asarray(spans) != 0))
    return crossing > 0, crossing


def run_topology(run: Any) -> Dict[str, Any]:
    """The node columns every summary row carries."""
    crosses, crossing_buckets = crosses_nodes(run)
    return {
        "nodes": run_nodes(run),
        "ranks_per_node": run_ranks_per_node(run),
        "hosts": run_hosts(run),
        "crosses_nodes": crosses,
        "buckets_crossing_nodes": crossing_buckets,
    }


# --- grouping ---------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "x"


def variant_of(run: Any) -> Dict[str, Any]:
    """Settings besides model, mode, device and threads that change what a step measures.
    Runs that differ in one of them are not repeats of each other and go to separate groups.
    The node count is deliberately not one: a node study's runs form one scaling group."""
    v: Dict[str, Any] = {
        "dataset": run.attr("dataset"),
        "backend": run.attr("backend"),
        "overlap": run.attr("overlap"),
        "bucket_mb": run.attr("bucket_mb"),
    }
    # The batch that stays fixed as N grows; a different one is a different series.
    if run.mode != "strong":
        v["batch"] = run.attr("batch_per_rank")
    if run.mode != "weak":
        v["global_batch"] = run.attr("global_batch")
    if run.device != "cpu":
        v["gpu"] = run.device_name
    return v


PointKey = Tuple[int, int]  # (nodes, world size)


@dataclass
class Group:
    key: Tuple
    model: str
    mode: str
    device: str
    threads: int
    variant: Dict[str, Any]
    label: str = ""                      # e.g. "resnet18 weak cpu-t4"
    hw_label: str = ""                   # e.g. "cpu-t4": the name --price/--baseline use
    runs_by_point: Dict[PointKey, List[Any]] = field(default_factory=dict)

    @property
    def x_axis(self) -> str:
        """Axis of the group's curves: "nodes" for a node series (see the module docstring),
        else "ranks"."""
        nodes = [k[0] for k in self.runs_by_point]
        return "nodes" if len(set(nodes)) > 1 and len(set(nodes)) == len(nodes) else "ranks"

    def point_keys(self) -> List[PointKey]:
        """Points in axis order: the first is the speedup baseline."""
        if self.x_axis == "nodes":
            return sorted(self.runs_by_point)
        return sorted(self.runs_by_point, key=lambda k: (k[1], k[0]))


def _family_key(run: Any, variant: Dict[str, Any]) -> Tuple:
    return (run.model, run.mode, run.device, run.threads,
            tuple(sorted((k, repr(v)) for k, v in variant.items())))


def _families_to_split(runs: List[Any], variants: List[Dict[str, Any]]) -> set:
    """Family keys that hold one world size on several node counts and several world sizes
    on one node count (e.g. two node studies at 2 and 4 ranks per node): one curve can show
    them neither against ranks (points would share an x and a baseline) nor against nodes.
    Those families split by ranks per node, one node series each. One world size spread over
    1, 2, ... nodes stays one group: a node series at fixed N."""
    pairs: Dict[Tuple, set] = {}
    for run, variant in zip(runs, variants):
        pairs.setdefault(_family_key(run, variant), set()).add((run_nodes(run), run.world_size))

    def ambiguous(points: set) -> bool:
        nodes = [k for k, _ in points]
        sizes = [n for _, n in points]
        return len(set(sizes)) < len(sizes) and len(set(nodes)) < len(nodes)

    return {key for key, points in pairs.items() if ambiguous(points)}


def group_runs(runs: Iterable[Any]) -> List[Group]:
    runs = list(runs)
    variants = [variant_of(r) for r in runs]
    split = _families_to_split(runs, variants)
    groups: Dict[Tuple, Group] = {}
    for run, variant in zip(runs, variants):
        if _family_key(run, variant) in split:
            variant = dict(variant, rpn=run_ranks_per_node(run))
        key = _family_key(run, variant)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key, run.model, run.mode, run.device, run.threads, variant)
        g.runs_by_point.setdefault((run_nodes(run), run.world_size), []).append(run)

    # Name variant settings only where they tell groups of one family apart.
    families: Dict[Tuple, List[Group]] = {}
    for g in groups.values():
        families.setdefault((g.model, g.mode, g.device, g.threads), []).append(g)
    for fam in families.values():
        keys = list(dict.fromkeys(k for g in fam for k in g.variant))
        varying = [k for k in keys if len({repr(g.variant.get(k)) for g in fam}) > 1]
        for g in fam:
            suffix = "".join(f"-{k}{_slug(str(g.variant[k]))}" for k in varying
                             if k in g.variant)
            g.hw_label = f"{g.device}-t{g.threads}{suffix}"
            g.label = f"{g.model} {g.mode} {g.hw_label}"
    return sorted(groups.values(), key=lambda g: (g.model, g.mode, g.device != "cpu",
                                                  g.device, g.threads, g.hw_label))


def point_label(group: Group, nodes: int, n: int) -> str:
    """cpu-t4-np8 on one node (as before nodes were reported), cpu-t4-nodes2-np8 on several,
    so that points of one group never share a label (--price and --baseline name them)."""
    return f"{group.hw_label}-nodes{nodes}-np{n}" if nodes > 1 else f"{group.hw_label}-np{n}"


def run_identity(run: Any) -> Dict[str, Any]:
    return {
        "file": run.name,
        "path": run.path,
        "status": run.status,
        "model": run.model,
        "mode": run.mode,
        "device": run.device,
        "device_name": run.device_name,
        "threads": run.threads,
        "world_size": run.world_size,
        **run_topology(run),
        "tag": run.attr("tag", ""),
        "steps_recorded": run.n_steps,
        "epoch_samples": run.epoch_samples(),
    }


def analyze_run(run: Any) -> Dict[str, Any]:
    """Identity and every derived figure of one run (raises UnusableRun)."""
    return {**run_identity(run), **summarize_series(measured_series(run))}


def run_labels(groups: List[Group]) -> Dict[str, Tuple[str, str]]:
    """Run path -> (group label, point label)."""
    return {r.path: (g.label, point_label(g, nodes, n))
            for g in groups for (nodes, n), runs in g.runs_by_point.items() for r in runs}


def _point_topology(runs: List[Any]) -> Dict[str, Any]:
    """Node columns of a point from its repeats: hosts pooled, crossing if any repeat crossed."""
    tops = [run_topology(r) for r in runs]
    counts = [t["buckets_crossing_nodes"] for t in tops]
    return {
        "nodes": tops[0]["nodes"],
        "ranks_per_node": max(t["ranks_per_node"] for t in tops),
        "hosts": list(dict.fromkeys(h for t in tops for h in t["hosts"])),
        "crosses_nodes": any(t["crosses_nodes"] for t in tops),
        "buckets_crossing_nodes": None if None in counts else max(counts),
    }


def _analyze_point(g: Group, key: PointKey) -> Dict[str, Any]:
    """One point of a group: its repeats pooled, with their spread."""
    runs = g.runs_by_point[key]
    series = [measured_series(r) for r in runs]
    point = summarize_series(pool_series(series))
    epoch = {r.epoch_samples() for r in runs} - {None}
    repeat_medians = [float(np.median(s.slowest_step_s)) for s in series]
    return {
        "group": g.label,
        "label": point_label(g, *key),
        "hw_label": g.hw_label,
        "model": g.model,
        "mode": g.mode,
        "device": g.device,
        "threads": g.threads,
        "x_axis": g.x_axis,
        "repeats": len(runs),
        "files": [r.name for r in runs],
        "repeat_median_step_s": repeat_medians,
        "repeat_spread": (max(repeat_medians) / min(repeat_medians) - 1.0
                          if min(repeat_medians) > 0 else None),
        "epoch_samples": epoch.pop() if len(epoch) == 1 else None,
        **point,
        **_point_topology(runs),
    }


def analyze_groups(groups: List[Group]) -> List[Dict[str, Any]]:
    """Per group: one point per (nodes, world size) with repeats pooled, speedup and
    efficiency over the group's first point (see the module docstring)."""
    out = []
    for g in groups:
        points = [_analyze_point(g, key) for key in g.point_keys()]
        base = points[0]
        n_min = base["world_size"]
        for p in points:
            speedup = p["throughput_samples_per_s"] / base["throughput_samples_per_s"]
            p["baseline_world_size"] = n_min
            p["baseline_nodes"] = base["nodes"]
            p["speedup"] = speedup
            p["efficiency"] = speedup * n_min / p["world_size"]
            p["step_time_ratio"] = (p["median_step_s"] / base["median_step_s"]
                                    if g.mode == "weak" else None)
        out.append({
            "group": g.label,
            "hw_label": g.hw_label,
            "model": g.model,
            "mode": g.mode,
            "device": g.device,
            "threads": g.threads,
            "variant": g.variant,
            "x_axis": g.x_axis,
            "baseline_world_size": n_min,
            "baseline_nodes": base["nodes"],
            "points": points,
        })
    return out


# --- hardware comparison and cost -------------------------------------------------------------

class BadOption(Exception):
    """A command-line value that does not fit the data (unknown label, ...)."""


def parse_price(text: str) -> Tuple[str, float]:
    label, sep, value = text.partition("=")
    try:
        price = float(value)
    except ValueError:
        price = float("nan")
    if not sep or not label.strip() or not math.isfinite(price) or price < 0:
        raise BadOption(f"bad --price {text!r}: expected LABEL=USD_PER_HOUR, e.g. cpu-t8=0.40")
    return label.strip(), price


def _default_baseline(points: List[Dict[str, Any]]) -> Dict[str, Any]:
    cpu = [p for p in points if p["device"] == "cpu"]
    pool = cpu or points
    return min(pool, key=lambda p: (p["threads"], p["world_size"], p["label"]))


def compare_hardware(groups: List[Dict[str, Any]], baseline: Optional[str] = None,
                     prices: Optional[Dict[str, float]] = None) -> List[Dict[str, Any]]:
    """Speedup over a baseline where runs of one model (and mode) differ in device or
    threads, and cost wherever a price is known. Adds fields to the group points in place.

    A price given for a point label (`cpu-t8-np4`) is the hourly price of that whole run; one
    given for a hardware label (`cpu-t8`) is per rank and is multiplied by the world size.
    """
    prices = dict(prices or {})
    all_points = [p for g in groups for p in g["points"]]
    known = {p["label"] for p in all_points} | {p["hw_label"] for p in all_points}
    for label in list(prices) + ([baseline] if baseline else []):
        if label not in known:
            raise BadOption(f"unknown label {label!r}; labels in this study: "
                            f"{', '.join(sorted(known))}")

    for p in all_points:
        n = p["world_size"]
        if p["label"] in prices:
            price, basis = prices[p["label"]], "run"
        elif p["hw_label"] in prices:
            price, basis = prices[p["hw_label"]] * n, f"per rank x {n}"
        else:
            price, basis = None, None
        x = p["throughput_samples_per_s"]
        p["price_usd_per_hour"] = price
        p["price_basis"] = basis
        p["cost_per_1e6_samples_usd"] = (1e6 / x / 3600.0 * price
                                         if price is not None and x > 0 else None)
        epoch = p.get("epoch_samples")
        p["cost_per_epoch_usd"] = (epoch / x / 3600.0 * price
                                   if price is not None and epoch and x > 0 else None)
        p.setdefault("baseline_label", None)
        p.setdefault("speedup_vs_baseline", None)

    comparisons = []
    families: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for g in groups:
        families.setdefault((g["model"], g["mode"]), []).append(g)
    for (model, mode), fam in families.items():
        points = [p for g in fam for p in g["points"]]
        if len({(p["device"], p["threads"]) for p in points}) < 2:
            continue
        base = None
        if baseline:
            exact = [p for p in points if p["label"] == baseline]
            hw = sorted((p for p in points if p["hw_label"] == baseline),
                        key=lambda p: p["world_size"])
            base = (exact or hw or [None])[0]
        if base is None:
            base = _default_baseline(points)
        entries = []
        for p in points:
            p["baseline_label"] = base["label"]
            p["speedup_vs_baseline"] = (p["throughput_samples_per_s"]
                                        / base["throughput_samples_per_s"])
            entries.append({k: p[k] for k in (
                "label", "hw_label", "device", "threads", "world_size", "throughput_samples_per_s",
                "speedup_vs_baseline", "price_usd_per_hour", "cost_per_epoch_usd",
                "cost_per_1e6_samples_usd")})
        comparisons.append({"model": model, "mode": mode, "baseline_label": base["label"],
                            "entries": entries})
    return comparisons
