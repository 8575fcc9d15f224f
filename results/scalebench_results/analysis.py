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
- Repeats (runs of one group with the same world size) are pooled step by step.
- Speedup S(N) = X(N) / X(N_min), efficiency E(N) = S(N) * N_min / N, with X the throughput and
  N_min the smallest world size in the group (normally 1); for weak scaling also
  T(N) / T(N_min), the growth of the step time.
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


# --- grouping ---------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "x"


def variant_of(run: Any) -> Dict[str, Any]:
    """Settings besides model, mode, device and threads that change what a step measures.
    Runs that differ in one of them are not repeats of each other and go to separate groups."""
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
    runs_by_n: Dict[int, List[Any]] = field(default_factory=dict)


def group_runs(runs: Iterable[Any]) -> List[Group]:
    groups: Dict[Tuple, Group] = {}
    for run in runs:
        variant = variant_of(run)
        key = (run.model, run.mode, run.device, run.threads,
               tuple(sorted((k, repr(v)) for k, v in variant.items())))
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key, run.model, run.mode, run.device, run.threads, variant)
        g.runs_by_n.setdefault(run.world_size, []).append(run)

    # Name variant settings only where they tell groups of one family apart.
    families: Dict[Tuple, List[Group]] = {}
    for g in groups.values():
        families.setdefault((g.model, g.mode, g.device, g.threads), []).append(g)
    for fam in families.values():
        varying = [k for k in fam[0].variant
                   if len({repr(g.variant.get(k)) for g in fam}) > 1]
        for g in fam:
            suffix = "".join(f"-{k}{_slug(str(g.variant.get(k)))}" for k in varying)
            g.hw_label = f"{g.device}-t{g.threads}{suffix}"
            g.label = f"{g.model} {g.mode} {g.hw_label}"
    return sorted(groups.values(), key=lambda g: (g.model, g.mode, g.device != "cpu",
                                                  g.device, g.threads, g.hw_label))


def point_label(group: Group, n: int) -> str:
    return f"{group.hw_label}-np{n}"


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
        "nodes": run.attr("nodes"),
        "tag": run.attr("tag", ""),
        "steps_recorded": run.n_steps,
        "epoch_samples": run.epoch_samples(),
    }


def analyze_run(run: Any) -> Dict[str, Any]:
    """Identity and every derived figure of one run (raises UnusableRun)."""
    return {**run_identity(run), **summarize_series(measured_series(run))}


def run_labels(groups: List[Group]) -> Dict[str, Tuple[str, str]]:
    """Run path -> (group label, point label)."""
    return {r.path: (g.label, point_label(g, n))
            for g in groups for n, runs in g.runs_by_n.items() for r in runs}


def analyze_groups(groups: List[Group]) -> List[Dict[str, Any]]:
    """Per group: one point per world size with repeats pooled, speedup and efficiency."""
    out = []
    for g in groups:
        points = []
        for n in sorted(g.runs_by_n):
            runs = g.runs_by_n[n]
            series = [measured_series(r) for r in runs]
            point = summarize_series(pool_series(series))
            epoch = {r.epoch_samples() for r in runs} - {None}
            repeat_medians = [float(np.median(s.slowest_step_s)) for s in series]
            points.append({
                "group": g.label,
                "label": point_label(g, n),
                "hw_label": g.hw_label,
                "model": g.model,
                "mode": g.mode,
                "device": g.device,
                "threads": g.threads,
                "repeats": len(runs),
                "files": [r.name for r in runs],
                "repeat_median_step_s": repeat_medians,
                "repeat_spread": (max(repeat_medians) / min(repeat_medians) - 1.0
                                  if min(repeat_medians) > 0 else None),
                "epoch_samples": epoch.pop() if len(epoch) == 1 else None,
                **point,
            })
        base = points[0]
        n_min = base["world_size"]
        for p in points:
            speedup = p["throughput_samples_per_s"] / base["throughput_samples_per_s"]
            p["baseline_world_size"] = n_min
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
            "baseline_world_size": n_min,
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
