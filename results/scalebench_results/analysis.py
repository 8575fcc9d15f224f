"""Derived figures of runs and scaling groups. Pure numpy: no plotting, and no file access of
its own: a run's rows come in slices from runfile.RunData.iter_step_blocks and
iter_bucket_blocks.

Definitions (the report's documentation refers here):

- Warm-up steps (any rank's `warmup` flag set) are excluded from every time statistic.
- Step time of a step = max over ranks of `step_s`: the slowest rank sets the pace. In schema
  version 3 step_s is the span of the phases (buffer_sync, data, forward, backward,
  comm_exposed, optimizer); the ranks' control agreement (`control_s`) and the rest of the wall
  time (`other_s`: recording the previous step, memory probes, progress output) come after it.
- Wall time of a step = max over ranks of `wall_s` (schema version 3: start of the step to the
  start of the next on that rank; phases + control_s + other_s): what a step really costs.
- Median step (and wall) time of ONE run comes with a 95% distribution-free confidence
  interval from order statistics of its measured steps: with the sorted times x(1) <= ... <=
  x(n), the interval is [x(l), x(n+1-l)] for the largest l whose binomial coverage
  1 - 2 P(Bin(n, 1/2) <= l-1) is >= 95%. Below 6 steps no interval reaches 95%; [min, max] is
  given with its actual coverage (`step_ci_coverage`). Deterministic, no resampling. It treats
  the steps as independent draws of one run: it ignores run-to-run variance (another process
  placement, another machine state), which is why repeats get another interval.
- Repeats (>= 2 runs of one configuration, a group point): the median step time is the median
  of the pooled steps, but its interval comes from the BETWEEN-RUN variance: a t-interval on
  the r repeats' median step times (each run one observation), mean -+ t_{0.975, r-1} s /
  sqrt(r) with s their standard deviation (repeat_interval), widened where needed to hold the
  pooled median. Its coverage is 95% for independent repeats whose medians are roughly normal
  (medians of many steps are), and it is wide for few repeats (t_{0.975,1} = 12.7): honest
  about how little two runs tell. Pooling steps as if independent would give a far narrower
  interval whenever runs differ systematically; that interval is kept as
  `pooled_step_ci_low_s`/`_high_s`. `step_ci_method` says which interval a point carries; the
  wall time's interval is made the same way from the repeats' median wall times.
- Throughput = median over steps of the global samples per step (sum over ranks of `samples`)
  / median wall time, in samples/s; its interval is the wall-time interval inverted. Files
  without wall_s (schema versions 1-2; a pool of repeats of which one lacks it) use the median
  step time instead: `throughput_time_source` says "wall_s" or "step_s" (with
  `throughput_time_note`). The step time figures stay step_s's in every case.
- Speedup, efficiency and weak scaling's step-time ratio carry intervals from their two
  points' (ratio_interval): S in [X_lo / X_base_hi, X_hi / X_base_lo], E that times
  N_base / N, T / T_base from the step-time intervals; [1, 1] at the baseline. The endpoints'
  ratio holds the true ratio whenever both intervals hold theirs: for independent 95%
  intervals with probability >= 0.9025; conservative (wider than a delta-method interval).
- Phase times (buffer_sync, data, forward, backward, comm_exposed, optimizer; control and other
  outside the step) are averaged over ranks in each step, then the median over steps is taken
  (as in the trainer's own summary). In synchronous data parallelism the ranks wait for each
  other inside comm_exposed, so the rank average charges imbalance to exposed communication
  rather than hiding it. `median_compute_s` is the median of forward+backward;
  `median_unaccounted_s` is what the medians of the step's phases leave of the median step
  time (>= 0: gaps between phases, and medians do not add up; it was called median_other_s
  before schema version 3); `median_other_s` is now the median of the other_s field (None
  without it), `median_control_s` of control_s (files of versions 1-2 may have it),
  `median_buffer_sync_s` of buffer_sync_s (None for versions 1-2, whose forward_s includes
  the buffer broadcast: `breakdown_note`).
- Communicated bytes per rank and step (averaged over ranks, median over steps):
  `median_gradient_bytes` (bytes_reduced), `median_buffer_sync_bytes` (buffer_sync_bytes, the
  model buffers broadcast; version 3) and `median_comm_bytes`, their sum (the gradient bytes
  alone without buffer_sync_bytes).
- Exposed communication share = median comm_exposed / median step time (a ratio of medians;
  the file's `summary_exposed_comm_share` is a median of per-step ratios instead).
- Concurrent communication share (`comm_concurrent_share`, formerly `comm_overlap`) = 1 -
  total comm_exposed_s / total comm_busy_s: the share of the bucket allreduces' time that ran
  while the backward pass computed. It does not say what overlap saved (concurrent
  communication slows compute on shared cores); where the study has a `--no-overlap` twin of
  a configuration (the same group key but root attribute overlap 0), `overlap_savings` gives
  that per point: the no-overlap median step time minus the overlap one, and the throughput
  ratio, with intervals from the two points' intervals' endpoints (>= 0.9025 for independent
  95% intervals, as for speedup).
- Imbalance = slowest rank's median `step_s` / median over ranks of the per-rank medians.
  Because the allreduce synchronises the ranks, `step_s` differs little between ranks; the
  busy imbalance (same, on `step_s - comm_exposed_s`, the time a rank did not wait for
  communication) names the rank that actually holds the others back.
- Allreduce bandwidth (one definition, collective_times; bench/busbw_compare.py calls
  bandwidth_of_run): per bucket and measured step the collective's time is the FASTEST
  recorded rank's duration (min over ranks of the durations > 0): ranks enter a bucket's
  allreduce at different moments, an early rank's duration includes waiting for the last to
  arrive, and the last to arrive times the collective itself (what `scalebench allreduce`
  measures after a barrier). Per message size, algbw = bytes / median of those collective
  times over the measured steps and the buckets of that size (`samples` counts the
  collectives), busbw = algbw * 2(n-1)/n (the ring allreduce's bus factor, as in nccl-tests);
  none for n=1. The arrival skew, `median_arrival_skew_s`, is the median of max - min of the
  ranks' durations per collective, shown beside it. In modes stats and sample:K the min and
  max are over the recorded ranks only: the collective time is then an upper bound (busbw a
  lower bound) and the skew a lower bound, none from rank 0 alone (`bandwidth_note`). A file
  written with `--record-buckets every:K` holds bucket rows only for the steps s with
  s % K == 0, named by /buckets/step: each bucket row is a measured step when the /steps row
  with that step value is (a bucket row whose step /steps lacks is left out), and the medians
  are over the recorded rows only. Older files without /buckets/step have one bucket row per
  /steps row, in the same order.

Recording modes (`--record-ranks`, runfile.RunData.record_ranks): a file in mode all holds
every rank's columns and every figure above is computed from them. Files in modes stats and
sample:K hold the columns of the recorded ranks only (RunData.recorded_ranks: [0] for stats,
K evenly spaced ranks from rank 0 for sample:K) and /rank_stats: per step min, median, max,
mean and max_rank of each field over every rank. From those, exactly as in mode all up to
floating-point rounding (FIGURES_FROM_ALL_RANKS):
- measured steps: /rank_stats/warmup max == 0 (no rank in warm-up);
- step time of a step: /rank_stats/step_s max, wall time: wall_s max; global samples:
  round(samples mean x world size); phases and bytes averaged over ranks: the field's mean
  (every /steps field has its /rank_stats); the totals behind `comm_concurrent_share`:
  means x world size, summed over steps; memory peaks (max over ranks): the max column's max
  over every step; `most_often_slowest_rank`: the rank most often named by step_s max_rank
  (in mode all: np.argmax per step, the lowest rank on ties), `median_rank_spread`: median
  over steps of step_s max / median.
From the recorded ranks only (FIGURES_FROM_RECORDED_RANKS, `rank_figures_from` says which:
"all", "rank 0", "sample:K"): per-rank medians, imbalance and busy imbalance, slowest_rank
(a world rank id), the per-rank peak lists (parallel to `recorded_ranks`), and the bucket
durations behind the bandwidth (the recorded ranks' /buckets columns). With rank 0 alone
(stats) no imbalance or slowest rank is given (None). Repeats pool whatever their modes: the
figures from all ranks and the bucket durations of each repeat's recorded ranks
(`bucket_figures_from`); the per-rank figures only where every repeat recorded the same
ranks, else they are None and `rank_figures_note` says why.

Memory and exactness (the report streams: it never holds a whole [step, rank] dataset):

- A run's /steps rows are read in slices along the step axis (runfile.BLOCK_BYTES, 16 MiB of
  rows at a time for the fields read together, whole 64-row chunks, at most 4,096 rows) and
  reduced at once: per step, the max over ranks of step_s, the sum over ranks of samples, the
  mean over ranks of each phase and byte count, the max / median spread, the max of wall_s
  (up to 15 float64 per measured step are
  kept: the median step time, its CI, throughput and phase medians stay exact at any length);
  per rank, the slowest-step count (one int64) and the running max of
  the memory peaks; the totals of comm_exposed_s and comm_busy_s (summed slice by slice beyond
  the exact limit below: equal up to rounding). /buckets/duration_s is read the same way.
- Per-rank medians over steps (of step_s and of busy time: `rank_median_step_s`,
  `imbalance`, `slowest_rank`, `busy_imbalance`, `busy_slowest_rank`) are exact. For runs of
  up to EXACT_RANK_STEPS = 2^20 rank-steps (n_steps x world size of the file; a pool of
  repeats: up to that many in all) they come from the per-rank values themselves. Beyond
  that, the streaming pass fills a per-rank LogSketch (DDSketch's log-spaced bins, relative
  accuracy RANK_SKETCH_ALPHA = 0.025 %, 8,192 bins centred on each rank's median of the first
  slice: 32 KiB per rank and quantity, independent of the steps), which brackets each rank's
  two middle order statistics within one bin; then step_s and comm_exposed_s of the run (of
  every repeat, for a pool) are read again in slices (REFINE_RANK_MEDIANS): the values below
  each bracket are counted and those inside collected (at most REFINE_COLLECT = 2^20 values
  in all) to pick the order statistic exactly; where more would be collected, a read first
  narrows each bracket to one of 256 linear sub-bins, up to REFINE_PASSES = 4 reads. Usually
  one extra read of two datasets suffices. A median still not pinned down keeps the sketch's
  estimate (within 0.025 %); `rank_medians_exact` is then False.
- Collective-time and arrival-skew medians per message size (bandwidth) are exact as well:
  from the values (one per bucket row and bucket) for runs of up to EXACT_BUCKET_VALUES =
  2^21 bucket durations read (bucket rows x ranks x buckets; a pool: in all); beyond that a
  LogSketch row per size and quantity (relative accuracy
  BUCKET_SKETCH_ALPHA = 0.01 %, 65,536 bins, ~+-700x around the first slice's median;
  `samples` is an exact count) brackets each median and /buckets/duration_s (with /steps
  warmup, and step where /buckets/step exists) is read again the same way
  (REFINE_BUCKET_MEDIANS); `bucket_durations_exact` is False only where a median kept the
  sketch's estimate.
- So every figure is exact at any size, except: beyond EXACT_RANK_STEPS the totals behind
  `comm_concurrent_share` are summed slice by slice (equal up to floating-point rounding),
  and a median the refinement could not pin down within REFINE_PASSES reads (only for values crowded
  closer than ~1e-13 relative, and not all equal) keeps its sketch's estimate. Memory per run:
  one slice of rows, about 15 float64 per measured step, 64 KiB per rank for the sketches,
  1 MiB per message size, and at most REFINE_COLLECT values collected near the medians.
- Every figure of a run below both limits is computed as before the report streamed, to the
  bit. A run's reduced series is kept for its group point while it is small
  (SERIES_CACHE_BYTES), else its file is read again for the pool of repeats; a point without
  repeats reuses the run's figures.
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

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

# Phases every file has; in schema version 3 buffer_sync_s is a phase too (before, the buffer
# broadcast was inside forward_s), and control_s and other_s complete the step's wall time.
PHASES = ("data_s", "forward_s", "backward_s", "comm_exposed_s", "optimizer_s")
OPTIONAL_TIMES = ("buffer_sync_s", "control_s", "other_s")  # where the file has them
BYTE_FIELDS = ("bytes_reduced", "buffer_sync_bytes")         # the latter from version 3
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


# t_{0.975, df} for df = 1..30 (two-sided 95%); beyond, the Cornish-Fisher expansion
T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
        2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
        2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)
REPEAT_CI_METHOD = ("t-interval (95%) over the repeats' median step times: between-run "
                    "variance")


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with df >= 1 degrees of freedom (within 1e-4)."""
    if df < 1:
        raise ValueError("df >= 1")
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959964
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def repeat_interval(medians: Sequence[float]) -> Tuple[float, float]:
    """95% t-interval of the mean of r >= 2 repeats' medians: mean -+ t_{0.975, r-1} s / sqrt(r),
    s their sample standard deviation. Each repeat's median is one observation, so the
    interval carries the run-to-run variance (and the within-run noise of each median); its
    coverage is 95% for independent repeats whose medians are roughly normal (a median of
    many steps is), less if they are few and skewed."""
    m = np.asarray(medians, dtype=np.float64)
    r = m.size
    if r < 2:
        raise ValueError("at least two repeats")
    half = t975(r - 1) * float(np.std(m, ddof=1)) / math.sqrt(r)
    centre = float(np.mean(m))
    return centre - half, centre + half


def ratio_interval(num: Tuple[float, float], den: Tuple[float, float]) -> Tuple[float, float]:
    """Interval of a ratio of two positive quantities from theirs: [num_lo / den_hi,
    num_hi / den_lo] (interval endpoints; it holds the ratio whenever both intervals hold
    their quantities: for two independent 95% intervals with probability >= 0.9025)."""
    (nlo, nhi), (dlo, dhi) = num, den
    lo = nlo / dhi if dhi > 0 else float("nan")
    hi = nhi / dlo if dlo > 0 else float("inf")
    return lo, hi


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if np.size(values) else float("nan")


# --- bounded-memory per-rank and per-size quantiles --------------------------------------------

# Where the exact figures stop and the sketches start (see the module docstring).
EXACT_RANK_STEPS = 1 << 20       # n_steps x world_size of a run (per pooled point: of each run)
EXACT_BUCKET_VALUES = 1 << 21    # bucket rows x world_size x n_buckets of a run
RANK_SKETCH_ALPHA = 2.5e-4       # relative accuracy of a per-rank median from a sketch
RANK_SKETCH_BINS = 8192          # bins per rank: +-60x around the centre at 0.025%
REFINE_RANK_MEDIANS = True       # sketched per-rank medians made exact by re-reading slices
REFINE_BUCKET_MEDIANS = True     # sketched bucket duration medians, the same way
REFINE_PASSES = 4                # at most this many extra reads of step_s, comm_exposed_s
REFINE_COLLECT = 1 << 20         # values near the medians collected at once, at most
REFINE_SUB_BINS = 256            # else: linear bins per median and pass
BUCKET_SKETCH_ALPHA = 1e-4       # relative accuracy of a per-size bucket duration median
BUCKET_SKETCH_BINS = 1 << 16     # bins per message size: +-700x around the centre at 0.01%
SERIES_CACHE_BYTES = 8 * 1024 * 1024  # a run's series up to this size is kept for its group


class LogSketch:
    """Quantiles of the values of each of `rows` rows (ranks, message sizes) in bounded memory.

    DDSketch's mapping: a value x > 0 falls in bin k = ceil(log_gamma(x)), gamma = (1 + alpha)
    / (1 - alpha), and a quantile that falls in bin k is estimated as 2 gamma^k / (gamma + 1),
    within a relative `alpha` of every value of that bin. Each row keeps `bins` consecutive
    bins, centred on the median bin of the first values the row is given; a value beyond them
    is counted in the end bin on its side (counts stay exact; only a quantile that falls in an
    end bin that took such values is off). Values <= 0 are counted as 0 (positive_only=False)
    or dropped, NaN is dropped. Medians are numpy's: the mean of the two middle order
    statistics.
    """

    def __init__(self, rows: int, alpha: float, bins: int, positive_only: bool,
                 dtype: Any = np.int64):
        self.rows, self.alpha, self.bins, self.positive_only = rows, alpha, bins, positive_only
        self.gamma = (1.0 + alpha) / (1.0 - alpha)
        self.log_gamma = math.log(self.gamma)
        self.counts = np.zeros((rows, bins), dtype)
        self.zeros = np.zeros(rows, np.int64)
        self.offset = np.zeros(rows, np.int64)     # bin index k of column 0, per row
        self.centred = np.zeros(rows, bool)

    @property
    def nbytes(self) -> int:
        return int(self.counts.nbytes + self.zeros.nbytes + self.offset.nbytes + self.rows)

    def copy(self) -> "LogSketch":
        out = LogSketch(self.rows, self.alpha, self.bins, self.positive_only, self.counts.dtype)
        out.counts[:] = self.counts
        out.zeros[:], out.offset[:], out.centred[:] = self.zeros, self.offset, self.centred
        return out

    def add_columns(self, block: np.ndarray) -> None:
        """Column r of `block` [n, rows] holds values of row r."""
        block = np.asarray(block, dtype=np.float64)
        row = np.broadcast_to(np.arange(self.rows, dtype=np.int64), block.shape)
        self.add(row.ravel(), block.ravel())

    def add(self, row: np.ndarray, values: np.ndarray) -> None:
        """Values with the row each belongs to (two 1-D arrays of one length)."""
        v = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(v)
        if not self.positive_only:
            zero = keep & (v <= 0)
            if zero.any():
                self.zeros += np.bincount(row[zero], minlength=self.rows)
        keep &= v > 0
        row, v = row[keep], v[keep]
        if not v.size:
            return
        k = np.clip(np.ceil(np.log(v) / self.log_gamma), -(1 << 40), 1 << 40).astype(np.int64)
        new = ~self.centred[row]
        if new.any():
            self._centre(row[new], k[new])
        j = np.clip(k - self.offset[row], 0, self.bins - 1)
        flat = row * self.bins + j
        counts = self.counts.reshape(-1)
        if self.counts.size <= max(1 << 22, 4 * flat.size):
            counts += np.bincount(flat, minlength=self.counts.size).astype(counts.dtype)
        else:  # a bincount over every bin would outweigh the values: count the bins hit
            hit, n = np.unique(flat, return_counts=True)
            counts[hit] += n.astype(counts.dtype)

    def _centre(self, row: np.ndarray, k: np.ndarray) -> None:
        order = np.lexsort((k, row))
        rs, ks = row[order], k[order]
        rows, first, n = np.unique(rs, return_index=True, return_counts=True)
        self.offset[rows] = ks[first + (n - 1) // 2] - self.bins // 2
        self.centred[rows] = True

    def merge(self, other: "LogSketch") -> None:
        """Adds `other`'s counts (same rows, alpha and bins) to this sketch."""
        adopt = other.centred & ~self.centred
        self.offset[adopt] = other.offset[adopt]
        self.centred |= other.centred
        self.zeros += other.zeros
        r, j = np.nonzero(other.counts)
        jj = np.clip(j + (other.offset - self.offset)[r], 0, self.bins - 1)
        np.add.at(self.counts, (r, jj), other.counts[r, j])

    def count(self) -> np.ndarray:
        """[rows] values counted (zeros included where they are kept)."""
        return self.counts.sum(axis=1, dtype=np.int64) + self.zeros

    def _order_statistic(self, rows: slice, i: np.ndarray) -> np.ndarray:
        t = i - self.zeros[rows]                         # position among the positive values
        cum = np.cumsum(self.counts[rows], axis=1, dtype=np.int64)
        j = (cum <= np.maximum(t, 0)[:, None]).sum(axis=1)
        j = np.minimum(j, self.bins - 1)
        value = 2.0 * np.exp((self.offset[rows] + j) * self.log_gamma) / (self.gamma + 1.0)
        return np.where(t < 0, 0.0, value)

    def medians(self) -> np.ndarray:
        """[rows] median of each row's values; NaN for a row without values."""
        n = self.count()
        out = np.full(self.rows, np.nan)
        step = max(1, (1 << 20) // self.bins)           # bound the cumulative counts' memory
        for lo in range(0, self.rows, step):
            rows = slice(lo, min(lo + step, self.rows))
            nr = n[rows]
            a = self._order_statistic(rows, np.maximum(nr - 1, 0) // 2)
            b = self._order_statistic(rows, nr // 2)
            out[rows] = np.where(nr > 0, (a + b) / 2.0, np.nan)
        return out


    def bracket(self, i: np.ndarray, vmin: np.ndarray, vmax: np.ndarray):
        """For order statistic i (0-based, [rows]) of each row: an interval [low, high] that
        holds it by this sketch's bins (widened by a hair against rounding, clamped to the
        row's [vmin, vmax]) and the sketch's count in it."""
        low = np.full(self.rows, -np.inf)
        high = np.full(self.rows, np.inf)
        crowd = self.zeros.copy()
        t = i - self.zeros
        step = max(1, (1 << 20) // self.bins)
        for lo in range(0, self.rows, step):
            rows = slice(lo, min(lo + step, self.rows))
            cum = np.cumsum(self.counts[rows], axis=1, dtype=np.int64)
            j = np.minimum((cum <= np.maximum(t[rows], 0)[:, None]).sum(axis=1), self.bins - 1)
            k = self.offset[rows] + j
            pos = t[rows] >= 0
            idx = np.arange(rows.start, rows.stop)[pos]
            jp, kp = j[pos], k[pos]
            low[idx] = np.where(jp > 0, np.exp((kp - 1) * self.log_gamma) * (1 - 1e-9), -np.inf)
            high[idx] = np.where(jp < self.bins - 1, np.exp(kp * self.log_gamma) * (1 + 1e-9),
                                 np.inf)
            crowd[idx] = self.counts[idx, jp]
            high[np.arange(rows.start, rows.stop)[~pos]] = 0.0
        return np.maximum(low, vmin), np.minimum(high, vmax), crowd

def refine_medians(sketches: Sequence[LogSketch], vmins: Sequence[np.ndarray],
                   vmaxs: Sequence[np.ndarray], feed: Any) -> Tuple[List[np.ndarray], bool]:
    """Exact medians of every row of each sketch, from the sketches and a few more reads of
    the values they were filled with. feed() yields (sketch index, rows, values [n, C]):
    column c of values holds values of row rows[c] of that sketch (rows None: column c is row
    c). Each sketch brackets the row's two middle order statistics within one bin (clamped to
    the row's [vmin, vmax]); a read counts the values below each bracket and collects those
    inside (REFINE_COLLECT values at most), from which the order statistic is picked, or where
    more would be collected, bins them linearly (REFINE_SUB_BINS) to narrow the bracket for
    the next read, up to REFINE_PASSES reads. Returns the medians per sketch (numpy's: the
    mean of the two middle values) and whether all came out exact; a median not pinned down
    keeps its sketch's estimate."""
    q_of, row, order, low, high, crowd, n_all = [], [], [], [], [], [], []
    for qi, sk in enumerate(sketches):
        n = sk.count()
        for i in (np.maximum(n - 1, 0) // 2, n // 2):
            lo, hi, c = sk.bracket(i, vmins[qi], vmaxs[qi])
            q_of.append(np.full(sk.rows, qi)), row.append(np.arange(sk.rows))
            order.append(i), low.append(lo), high.append(hi), crowd.append(c), n_all.append(n)
    q_of, row, order = np.concatenate(q_of), np.concatenate(row), np.concatenate(order)
    low, high, crowd = np.concatenate(low), np.concatenate(high), np.concatenate(crowd)
    n_all = np.concatenate(n_all)
    value = np.full(q_of.size, np.nan)
    done = n_all == 0
    sub = REFINE_SUB_BINS
    for _ in range(REFINE_PASSES):
        t_all = np.nonzero(~done)[0]
        if not t_all.size:
            break
        collect = int(crowd[t_all].sum()) <= REFINE_COLLECT
        below = np.zeros(t_all.size, np.int64)
        inside_n = np.zeros(t_all.size, np.int64)
        mn = np.full(t_all.size, np.inf)
        mx = np.full(t_all.size, -np.inf)
        got_v: List[np.ndarray] = []
        got_t: List[np.ndarray] = []
        hist = None if collect else np.zeros((t_all.size, sub), np.int64)
        lo_t, hi_t = low[t_all], high[t_all]
        width = np.where(hi_t > lo_t, hi_t - lo_t, 1.0) / sub
        q_t, row_t = q_of[t_all], row[t_all]
        for qi, rows, values in feed():
            if rows is None:
                sel = np.nonzero(q_t == qi)[0]
                cols = row_t[sel]
            else:
                col_of = np.full(sketches[qi].rows, -1)
                col_of[np.asarray(rows)] = np.arange(len(rows))
                cols = np.where(q_t == qi, col_of[row_t], -1)
                sel = np.nonzero(cols >= 0)[0]
                cols = cols[sel]
            if not sel.size or not values.shape[0]:
                continue
            v = values[:, cols]
            below[sel] += (v < lo_t[sel]).sum(axis=0)
            inside = (v >= lo_t[sel]) & (v <= hi_t[sel])
            inside_n[sel] += inside.sum(axis=0)
            mn[sel] = np.minimum(mn[sel], np.where(inside, v, np.inf).min(axis=0))
            mx[sel] = np.maximum(mx[sel], np.where(inside, v, -np.inf).max(axis=0))
            r, c = np.nonzero(inside)
            if collect:
                got_v.append(v[r, c])
                got_t.append(sel[c])
            else:
                b = np.clip(((v[r, c] - lo_t[sel][c]) / width[sel][c]).astype(np.int64),
                            0, sub - 1)
                hist += np.bincount(sel[c] * sub + b, minlength=hist.size).reshape(hist.shape)
        pos = order[t_all] - below
        ok = (pos >= 0) & (pos < inside_n)
        done[t_all[~ok]] = True                     # keeps the sketch's estimate
        same = ok & (mn == mx)
        value[t_all[same]] = mn[same]
        done[t_all[same]] = True
        idx = np.nonzero(ok & ~same)[0]
        if collect:
            vals = np.concatenate(got_v) if got_v else np.zeros(0)
            tids = np.concatenate(got_t) if got_t else np.zeros(0, np.int64)
            srt = np.lexsort((vals, tids))
            vals, tids = vals[srt], tids[srt]
            first = np.searchsorted(tids, np.arange(t_all.size))
            value[t_all[idx]] = vals[first[idx] + pos[idx]]
            done[t_all[idx]] = True
        elif idx.size:
            cum = np.cumsum(hist[idx], axis=1)
            b = np.minimum((cum <= pos[idx][:, None]).sum(axis=1), sub - 1)
            new_lo = lo_t[idx] + width[idx] * b
            new_hi = np.where(b == sub - 1, hi_t[idx], new_lo + width[idx])
            low[t_all[idx]] = np.maximum(new_lo - 1e-12 * np.abs(new_lo), mn[idx])
            high[t_all[idx]] = np.minimum(new_hi + 1e-12 * np.abs(new_hi), mx[idx])
            crowd[t_all[idx]] = hist[idx, b]
    exact = bool(np.all(done & (~np.isnan(value) | (n_all == 0))))
    out, at = [], 0
    for sk in sketches:
        a = value[at:at + sk.rows]
        b = value[at + sk.rows:at + 2 * sk.rows]
        at += 2 * sk.rows
        med = (a + b) / 2.0
        out.append(np.where(np.isnan(med) & (sk.count() > 0), sk.medians(), med))
    return out, exact


class RankValues:
    """Per-rank values over the measured steps: step_s, busy (step_s - comm_exposed_s) for
    per-rank medians, comm_exposed_s and comm_busy_s for their totals. Exact ([steps, ranks]
    matrices) for a run of at most EXACT_RANK_STEPS rank-steps and for pools of such runs of
    at most that many in all; otherwise a LogSketch per quantity and running totals. The
    columns (`world_size` of them) are the file's recorded ranks: every rank in mode all."""

    MEDIANS = ("step", "busy")
    TOTALS = ("exposed", "comm_busy")

    def __init__(self, world_size: int, exact: bool, sources: Sequence[Any] = ()):
        self.world_size, self.exact = world_size, exact
        self.sources = list(sources)     # the runs whose rows these are (for refinement)
        self.parts: Dict[str, List[np.ndarray]] = {n: [] for n in self.MEDIANS + self.TOTALS}
        self.sketches: Dict[str, LogSketch] = {}
        self.totals: Dict[str, float] = {n: 0.0 for n in self.TOTALS}
        self.vmin = {n: np.full(world_size, np.inf) for n in self.MEDIANS}
        self.vmax = {n: np.full(world_size, -np.inf) for n in self.MEDIANS}
        self.refined: Optional[Dict[str, np.ndarray]] = None
        self.refined_exact = False
        if not exact:
            self.sketches = {n: LogSketch(world_size, RANK_SKETCH_ALPHA, RANK_SKETCH_BINS,
                                          positive_only=False, dtype=np.int32)
                             for n in self.MEDIANS}

    @property
    def nbytes(self) -> int:
        return (sum(a.nbytes for p in self.parts.values() for a in p)
                + sum(s.nbytes for s in self.sketches.values()))

    def add(self, step: np.ndarray, exposed: np.ndarray, comm_busy: np.ndarray) -> None:
        """Measured rows [m, ranks] of step_s, comm_exposed_s and comm_busy_s."""
        values = {"step": step, "busy": step - exposed, "exposed": exposed,
                  "comm_busy": comm_busy}
        if self.exact:
            for name, v in values.items():
                self.parts[name].append(v)
            return
        for name in self.MEDIANS:
            self.sketches[name].add_columns(values[name])
            if step.shape[0]:
                self.vmin[name] = np.fmin(self.vmin[name], values[name].min(axis=0))
                self.vmax[name] = np.fmax(self.vmax[name], values[name].max(axis=0))
        for name in self.TOTALS:
            self.totals[name] += float(values[name].sum())

    def _matrix(self, name: str) -> np.ndarray:
        parts = self.parts[name]
        if len(parts) != 1:
            parts[:] = [np.concatenate(parts, axis=0) if parts
                        else np.zeros((0, self.world_size))]
        return parts[0]

    def medians(self, name: str) -> np.ndarray:
        if self.exact:
            return np.median(self._matrix(name), axis=0)
        if REFINE_RANK_MEDIANS and self.sources:
            return self._refine_now()[name]
        return self.sketches[name].medians()

    @property
    def medians_exact(self) -> bool:
        """Whether medians() is exact (and not a sketch's estimate) for every rank."""
        if self.exact:
            return True
        if not (REFINE_RANK_MEDIANS and self.sources):
            return False
        self._refine_now()
        return self.refined_exact

    def _refine_now(self) -> Dict[str, np.ndarray]:
        if self.refined is None:
            self.refined = self._refine()
        return self.refined

    def _blocks(self):
        """The measured rows of the sources again: {"step": [m, K], "busy": [m, K]} (K: the
        recorded ranks' columns)."""
        for run in self.sources:
            for _, blk in run.iter_step_blocks((*_warmup_fields(run), "step_s",
                                                "comm_exposed_s")):
                if not blk["step_s"].shape[0]:
                    continue
                meas = _measured_rows(run, blk)
                m = np.asarray(blk["step_s"], dtype=np.float64)[meas]
                yield {"step": m,
                       "busy": m - np.asarray(blk["comm_exposed_s"], dtype=np.float64)[meas]}

    def _refine(self) -> Dict[str, np.ndarray]:
        """Exact per-rank medians: see refine_medians."""
        def feed():
            for blk in self._blocks():
                for qi, name in enumerate(self.MEDIANS):
                    yield qi, None, blk[name]
        sketches = [self.sketches[name] for name in self.MEDIANS]
        meds, self.refined_exact = refine_medians(
            sketches, [self.vmin[n] for n in self.MEDIANS], [self.vmax[n] for n in self.MEDIANS],
            feed)
        return dict(zip(self.MEDIANS, meds))

    def total(self, name: str) -> float:
        return float(self._matrix(name).sum()) if self.exact else self.totals[name]

    @classmethod
    def pool(cls, items: Sequence["RankValues"]) -> "RankValues":
        ws = items[0].world_size
        if (all(v.exact for v in items)
                and sum(v._matrix("step").size for v in items) <= EXACT_RANK_STEPS):
            out = cls(ws, exact=True)
            for name in out.parts:
                out.parts[name] = [np.concatenate([v._matrix(name) for v in items], axis=0)]
            return out
        out = cls(ws, exact=False, sources=[r for v in items for r in v.sources])
        for v in items:
            for name in cls.MEDIANS:
                if v.exact:
                    m = v._matrix(name)
                    out.sketches[name].add_columns(m)
                    if m.shape[0]:
                        out.vmin[name] = np.fmin(out.vmin[name], m.min(axis=0))
                        out.vmax[name] = np.fmax(out.vmax[name], m.max(axis=0))
                else:
                    out.sketches[name].merge(v.sketches[name])
                    out.vmin[name] = np.fmin(out.vmin[name], v.vmin[name])
                    out.vmax[name] = np.fmax(out.vmax[name], v.vmax[name])
            for name in cls.TOTALS:
                out.totals[name] += v.total(name)
        return out


def collective_times(dur: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per bucket row and bucket of durations [rows, ranks, n_buckets]: (the collective's
    time, the arrival skew), each [rows, n_buckets]. The collective's time is the FASTEST
    rank's duration (min over the ranks given of the durations > 0): ranks enter a bucket's
    allreduce at different moments, an early rank's duration includes waiting for the last to
    arrive, and the last to arrive times the collective itself. The arrival skew is max - min
    of those durations (0 for one rank). NaN where no rank has a duration > 0 (not recorded).
    Given only some ranks' columns, the min is an upper bound of the collective's time and
    the skew a lower bound of the ranks' arrival skew."""
    d = np.where(np.asarray(dur, dtype=np.float64) > 0, dur, np.nan)
    if d.shape[1] == 0:
        empty = np.full((d.shape[0], d.shape[2]), np.nan)
        return empty, empty.copy()
    lo = np.fmin.reduce(d, axis=1)
    return lo, np.fmax.reduce(d, axis=1) - lo


class BucketDurations:
    """Per message size (bucket bytes), over the measured bucket rows and the buckets of that
    size: the collectives' times and arrival skews (collective_times). Exact (the values) for a
    run of at most EXACT_BUCKET_VALUES bucket durations (bucket rows x recorded ranks x
    buckets, as read) and for pools of such runs of at most that many in all; otherwise a
    LogSketch row per size and quantity (exact counts). Skews are kept only from rows of at
    least two recorded ranks."""

    QUANTITIES = ("collective", "skew")

    def __init__(self, sizes: Sequence[int], exact: bool, sources: Sequence[Any] = ()):
        self.sizes = sorted({int(b) for b in sizes if b > 0})
        self.exact = exact
        self.sources = list(sources)     # the runs whose rows these are (for refinement)
        self.values: Dict[str, Dict[int, List[np.ndarray]]] = {
            q: {b: [] for b in self.sizes} for q in self.QUANTITIES}
        self.sketch: Dict[str, LogSketch] = {}
        self.vmin = {q: np.full(len(self.sizes), np.inf) for q in self.QUANTITIES}
        self.vmax = {q: np.full(len(self.sizes), -np.inf) for q in self.QUANTITIES}
        self.refined: Optional[Tuple[Dict[str, np.ndarray], bool]] = None
        self.durations = 0               # bucket durations read (rows x ranks x buckets)
        if not exact and self.sizes:
            # collective times > 0 only; skews of 0 (ranks arriving together) are values
            self.sketch = {q: LogSketch(len(self.sizes), BUCKET_SKETCH_ALPHA, BUCKET_SKETCH_BINS,
                                        positive_only=(q == "collective"))
                           for q in self.QUANTITIES}

    @property
    def nbytes(self) -> int:
        return (sum(a.nbytes for per in self.values.values() for p in per.values() for a in p)
                + sum(sk.nbytes for sk in self.sketch.values()))

    @staticmethod
    def _by_size(dur: np.ndarray, bucket_bytes: np.ndarray):
        """(bytes, {quantity: values}) per bucket of a block of rows [m, ranks, n_buckets]."""
        coll, skew = collective_times(dur)
        two = dur.shape[1] >= 2
        for b, nbytes in enumerate(np.asarray(bucket_bytes, dtype=np.int64)):
            if nbytes <= 0:
                continue
            keep = ~np.isnan(coll[:, b])
            vals = {"collective": coll[keep, b]}
            vals["skew"] = skew[keep, b] if two else np.zeros(0)
            yield int(nbytes), vals

    def add(self, dur: np.ndarray, bucket_bytes: np.ndarray) -> None:
        """Measured bucket rows [m, ranks, n_buckets]."""
        self.durations += int(dur.size)
        for nbytes, vals in self._by_size(dur, bucket_bytes):
            row = self.sizes.index(nbytes)
            for q, v in vals.items():
                if self.exact:
                    self.values[q][nbytes].append(v)
                    continue
                self.sketch[q].add(np.full(v.size, row, np.int64), v)
                if v.size:
                    self.vmin[q][row] = min(self.vmin[q][row], v.min())
                    self.vmax[q][row] = max(self.vmax[q][row], v.max())

    @property
    def medians_exact(self) -> bool:
        if self.exact or not self.sketch:
            return True
        return bool(REFINE_BUCKET_MEDIANS and self.sources and self._medians()[1])

    def _medians(self) -> Tuple[Dict[str, np.ndarray], bool]:
        if self.refined is None:
            if REFINE_BUCKET_MEDIANS and self.sources:
                def feed():
                    for run in self.sources:
                        for dur in _measured_bucket_blocks(run):
                            for nbytes, vals in self._by_size(dur, run.bucket_bytes):
                                for qi, q in enumerate(self.QUANTITIES):
                                    yield qi, [self.sizes.index(nbytes)], vals[q][:, None]
                meds, exact = refine_medians(
                    [self.sketch[q] for q in self.QUANTITIES],
                    [self.vmin[q] for q in self.QUANTITIES],
                    [self.vmax[q] for q in self.QUANTITIES], feed)
                self.refined = (dict(zip(self.QUANTITIES, meds)), exact)
            else:
                self.refined = ({q: self.sketch[q].medians() for q in self.QUANTITIES}, False)
        return self.refined

    def _exact(self, q: str, nbytes: int) -> np.ndarray:
        parts = self.values[q][nbytes]
        if len(parts) != 1:
            parts[:] = [np.concatenate(parts) if parts else np.zeros(0)]
        return parts[0]

    def stats(self) -> List[Tuple[int, int, float, Optional[float]]]:
        """(bytes, collectives counted, median collective time, median arrival skew or None
        where no row had two ranks) per size with collectives."""
        if self.exact:
            out = []
            for b in self.sizes:
                c, k = self._exact("collective", b), self._exact("skew", b)
                if c.size:
                    out.append((b, int(c.size), float(np.median(c)),
                                float(np.median(k)) if k.size else None))
            return out
        if not self.sketch:
            return []
        n = self.sketch["collective"].count()
        nk = self.sketch["skew"].count()
        med = self._medians()[0]
        return [(b, int(n[i]), float(med["collective"][i]),
                 float(med["skew"][i]) if nk[i] > 0 else None)
                for i, b in enumerate(self.sizes) if n[i] > 0]

    @classmethod
    def pool(cls, items: Sequence["BucketDurations"]) -> "BucketDurations":
        sizes = sorted({b for v in items for b in v.sizes})
        durations = sum(v.durations for v in items)
        if all(v.exact for v in items) and durations <= EXACT_BUCKET_VALUES:
            out = cls(sizes, exact=True)
            out.durations = durations
            for v in items:
                for q in cls.QUANTITIES:
                    for b in v.sizes:
                        out.values[q][b].append(v._exact(q, b))
            return out
        out = cls(sizes, exact=False, sources=[r for v in items for r in v.sources])
        out.durations = durations
        for v in items:
            index = [sizes.index(b) for b in v.sizes]
            for q in cls.QUANTITIES:
                if v.exact:
                    for b, i in zip(v.sizes, index):
                        d = v._exact(q, b)
                        out.sketch[q].add(np.full(d.size, i, np.int64), d)
                        if d.size:
                            out.vmin[q][i] = min(out.vmin[q][i], d.min())
                            out.vmax[q][i] = max(out.vmax[q][i], d.max())
                elif v.sketch:
                    src = v.sketch[q]
                    part = LogSketch(len(sizes), BUCKET_SKETCH_ALPHA, BUCKET_SKETCH_BINS,
                                     src.positive_only)
                    part.counts[index] = src.counts
                    part.zeros[index] = src.zeros
                    part.offset[index] = src.offset
                    part.centred[index] = src.centred
                    out.sketch[q].merge(part)
                    out.vmin[q][index] = np.fmin(out.vmin[q][index], v.vmin[q])
                    out.vmax[q][index] = np.fmax(out.vmax[q][index], v.vmax[q])
        return out


# --- one run ----------------------------------------------------------------------------------

@dataclass
class StepSeries:
    """The measured (non-warm-up) steps of a run, or of pooled repeats, reduced over ranks.

    The per-step vectors, the totals, the slowest-rank counts and the memory maxima are over
    every rank in every recording mode (from /rank_stats in stats and sample:K files); the
    per-rank parts (rank_values, *_per_rank) are over the recorded ranks (recorded_ranks, the
    world rank of each column), and None for pooled repeats that recorded different ranks."""
    world_size: int
    slowest_step_s: np.ndarray            # [m]     max over ranks of step_s
    global_samples: np.ndarray            # [m]     sum over ranks of samples
    # name -> [m], averaged over ranks: PHASES always, OPTIONAL_TIMES where every run has them
    phases: Dict[str, np.ndarray]
    compute_s: np.ndarray                 # [m]     forward + backward, averaged over ranks
    rank_values: Optional[RankValues]     # per-rank medians and totals (exact or sketched)
    peak_rss_per_rank: Optional[np.ndarray]  # [K]  max over all steps, warm-up included
    peak_dev_alloc_per_rank: Optional[np.ndarray]  # [K] -1 where not measured
    peak_dev_reserved_per_rank: Optional[np.ndarray]
    bucket_durations: BucketDurations     # per message size, the recorded ranks' rows
    # [K] int64 world rank of each per-rank column; None: pooled repeats differ in them
    recorded_ranks: Optional[np.ndarray] = None
    record_ranks: Tuple[str, ...] = ("all",)  # the runs' --record-ranks modes
    # over every rank, max over all steps (warm-up included); -1 where not measured
    peak_rss: int = -1
    peak_dev_alloc: int = -1
    peak_dev_reserved: int = -1
    rank_spread: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [m] max / median
    slowest_count: Optional[np.ndarray] = None  # [ws] steps each rank held the step_s max
    # exposed and comm_busy totals over every rank; None: rank_values' (mode all)
    totals: Optional[Dict[str, float]] = None
    # [m] max over ranks of wall_s; None where a run lacks wall_s (schema versions 1-2)
    slowest_wall_s: Optional[np.ndarray] = None
    # name -> [m] bytes per rank and step, averaged over ranks: BYTE_FIELDS where every run
    # has them
    comm_bytes: Dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def measured_steps(self) -> int:
        return int(self.slowest_step_s.size)

    def total(self, name: str) -> float:
        """Sum over the measured steps and every rank of comm_exposed_s ("exposed") or
        comm_busy_s ("comm_busy")."""
        return self.totals[name] if self.totals is not None else self.rank_values.total(name)

    @property
    def nbytes(self) -> int:
        vectors = [self.slowest_step_s, self.global_samples, self.compute_s, self.rank_spread,
                   *self.phases.values(), self.peak_rss_per_rank, self.peak_dev_alloc_per_rank,
                   self.peak_dev_reserved_per_rank, self.slowest_count, self.slowest_wall_s,
                   *self.comm_bytes.values()]
        return (sum(v.nbytes for v in vectors if v is not None)
                + (self.rank_values.nbytes if self.rank_values is not None else 0)
                + self.bucket_durations.nbytes)


PEAK_FIELDS = ("peak_rss_bytes", "device_peak_allocated_bytes", "device_peak_reserved_bytes")
RS = "rank_stats/"   # runfile.RANK_STATS_PREFIX: iter_step_blocks reads these from /rank_stats
RS_MIN, RS_MEDIAN, RS_MAX, RS_MEAN, RS_MAX_RANK = range(5)  # runfile.RANK_STATS_COLUMNS

# Which figures come from where in files of `--record-ranks stats|sample:K` (summary.json
# definitions; in mode all every figure is over every rank).
FIGURES_FROM_ALL_RANKS = (
    "measured_steps", "median_step_s", "step_ci_low_s", "step_ci_high_s",
    "global_samples_per_step", "throughput_samples_per_s", "throughput_ci_low",
    "throughput_ci_high", "median_data_s", "median_forward_s", "median_backward_s",
    "median_comm_exposed_s", "median_optimizer_s", "median_compute_s", "median_other_s",
    "median_buffer_sync_s", "median_control_s", "median_unaccounted_s", "median_wall_s",
    "wall_ci_low_s", "wall_ci_high_s", "median_gradient_bytes", "median_buffer_sync_bytes",
    "median_comm_bytes", "exposed_comm_share", "comm_concurrent_share", "peak_rss_bytes",
    "peak_device_allocated_bytes", "peak_device_reserved_bytes", "most_often_slowest_rank",
    "most_often_slowest_share", "median_rank_spread", "speedup", "efficiency",
    "step_time_ratio")
FIGURES_FROM_RECORDED_RANKS = (
    "rank_median_step_s", "imbalance", "slowest_rank", "busy_imbalance", "busy_slowest_rank",
    "peak_rss_bytes_per_rank", "peak_device_allocated_bytes_per_rank", "allreduce_bandwidth",
    "busbw_peak_bytes_per_s", "busbw_peak_message_bytes")


def _warmup_fields(run: Any) -> Tuple[str, ...]:
    """The fields that tell the measured rows: /rank_stats/warmup (over every rank) where the
    file has /rank_stats, else /steps/warmup (every rank's column)."""
    return (RS + "warmup",) if getattr(run, "has_rank_stats", False) else ("warmup",)


def _measured_rows(run: Any, blk: Dict[str, np.ndarray]) -> np.ndarray:
    """[rows] bool: no rank's warm-up flag set (read with _warmup_fields)."""
    if getattr(run, "has_rank_stats", False):
        return np.asarray(blk[RS + "warmup"], dtype=np.float64)[:, RS_MAX] == 0
    return np.asarray(blk["warmup"]).max(axis=1) == 0


def rank_figures_from(recorded: Optional[np.ndarray], world_size: int) -> Optional[str]:
    """"all" where every rank's column was recorded, "rank 0" where only rank 0's (stats
    mode), "sample:K" for K recorded ranks; None where pooled repeats recorded different
    ranks."""
    if recorded is None:
        return None
    if len(recorded) == world_size:
        return "all"
    return "rank 0" if len(recorded) == 1 else f"sample:{len(recorded)}"


def _measured_bucket_rows(bucket_step: np.ndarray, step_index: np.ndarray,
                          measured: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Whether each bucket row (by its /buckets/step value) is a measured step: the row of
    /steps with that step value is. A bucket row whose step /steps lacks counts as not
    measured."""
    if not step_index.size:
        return np.zeros(bucket_step.shape, bool)
    sorted_steps = step_index[order]
    pos = np.minimum(np.searchsorted(sorted_steps, bucket_step), step_index.size - 1)
    return (sorted_steps[pos] == bucket_step) & measured[order[pos]]


def _measured_bucket_blocks(run: Any, measured: Optional[np.ndarray] = None,
                            step_index: Optional[np.ndarray] = None):
    """The measured bucket rows of a run, slice by slice ([m, ranks, n_buckets] durations).
    measured ([n_steps] bool) and, for files with /buckets/step, step_index ([n_steps]
    /steps/step) are read from the file when not given."""
    aligned = not getattr(run, "has_bucket_step", False)
    if run.n_bucket_rows == 0 or len(run.bucket_bytes) == 0:
        return
    if measured is None:
        measured = np.zeros(run.n_steps, bool)
        step_index = np.zeros(0 if aligned else run.n_steps, np.int64)
        warm = _warmup_fields(run)
        for start, blk in run.iter_step_blocks([*warm] + ([] if aligned else ["step"])):
            rows = blk[warm[0]].shape[0]
            if rows:
                measured[start:start + rows] = _measured_rows(run, blk)
                if not aligned:
                    step_index[start:start + rows] = blk["step"][:, 0]
    order = np.argsort(step_index, kind="stable") if not aligned else None
    for start, dur, bucket_step in run.iter_bucket_blocks():
        if bucket_step is None:
            meas = measured[start:start + dur.shape[0]]
            if meas.size < dur.shape[0]:  # cannot happen in a file load_run accepted
                meas = np.concatenate([meas, np.zeros(dur.shape[0] - meas.size, bool)])
        else:
            meas = _measured_bucket_rows(bucket_step, step_index, measured, order)
        yield dur[meas]


def _max_rank_counts(max_rank: np.ndarray, world_size: int, run: Any) -> np.ndarray:
    """[ws] counts of the /rank_stats max_rank values (world ranks carried as float64)."""
    r = np.asarray(max_rank, dtype=np.float64)
    bad = (r != np.round(r)) | (r < 0) | (r >= world_size) | np.isnan(r)
    if bad.any():
        from .runfile import RunFileError  # a malformed file: refused as load_run would
        raise RunFileError(f"{run.path}: /rank_stats/step_s max_rank holds "
                           f"{r[bad][0]!r}, not a rank of 0..{world_size - 1}")
    return np.bincount(r.astype(np.int64), minlength=world_size)


def _has_field(run: Any, name: str) -> bool:
    """Whether the run's /steps has the field (control_s, wall_s, ... are version-dependent)."""
    has = getattr(run, "has_field", None)
    return bool(has(name)) if callable(has) else name in getattr(run, "steps", {})


def measured_series(run: Any) -> StepSeries:
    """Per-step figures of a run (a runfile.RunData), warm-up excluded: the file's rows are
    read in slices (RunData.iter_step_blocks, iter_bucket_blocks) and only the reductions
    kept. Kept in run.cache while small (SERIES_CACHE_BYTES).

    Mode all: every figure from /steps. Modes stats and sample:K (the file has /rank_stats):
    the per-step figures over every rank from /rank_stats (warm-up: max of warmup; slowest
    step: max of step_s, slowest wall: max of wall_s; global samples: mean of samples x world
    size, rounded; phases and bytes per rank: their means; totals of comm_exposed_s,
    comm_busy_s: means x world size; memory peaks: max of the max column; slowest-rank counts:
    max_rank of step_s), the per-rank figures and the bucket durations from the recorded
    ranks' columns of /steps and /buckets."""
    cache = getattr(run, "cache", None)
    if cache is not None and "series" in cache:
        return cache["series"]
    ws, n = run.world_size, run.n_steps
    stats = bool(getattr(run, "has_rank_stats", False))
    recorded = np.asarray(getattr(run, "recorded_ranks", np.arange(ws)), dtype=np.int64)
    k = int(recorded.size)
    aligned = not getattr(run, "has_bucket_step", False)
    times = (*PHASES, *[t for t in OPTIONAL_TIMES if _has_field(run, t)])
    byte_fields = tuple(b for b in BYTE_FIELDS if _has_field(run, b))
    wall = _has_field(run, "wall_s")
    per_step = (*times, *byte_fields)          # averaged over ranks per step
    fields = ["step_s", "comm_exposed_s", "comm_busy_s", *PEAK_FIELDS]
    if stats:
        fields += [RS + name for name in ("warmup", "step_s", "samples", *per_step,
                                          "comm_busy_s", *PEAK_FIELDS)]
        fields += [RS + "wall_s"] if wall else []
    else:
        fields += ["warmup", "samples", *[p for p in per_step if p not in fields]]
        fields += ["wall_s"] if wall else []
    if not aligned:
        fields.append("step")
    measured = np.zeros(n, bool)
    step_index = np.zeros(n if not aligned else 0, np.int64)
    parts: Dict[str, List[np.ndarray]] = {k_: [] for k_ in ("slowest", "samples", "spread",
                                                            "wall", *per_step)}
    ranks = RankValues(k, exact=n * k <= EXACT_RANK_STEPS, sources=[run])
    peaks: Dict[str, Optional[np.ndarray]] = {name: None for name in PEAK_FIELDS}
    peak_all = {name: -1 for name in PEAK_FIELDS}
    slowest_count = np.zeros(ws, np.int64)
    totals = {"exposed": 0.0, "comm_busy": 0.0}
    for start, blk in run.iter_step_blocks(fields):
        rows = blk["step_s"].shape[0]
        meas = _measured_rows(run, blk) if rows else np.zeros(0, bool)
        measured[start:start + rows] = meas
        if not aligned:
            step_index[start:start + rows] = blk["step"][:, 0]
        m = np.asarray(blk["step_s"], dtype=np.float64)[meas]
        exposed = np.asarray(blk["comm_exposed_s"], dtype=np.float64)[meas]
        if stats:
            st = {name: np.asarray(blk[RS + name], dtype=np.float64)
                  for name in ("step_s", "samples", *per_step, "comm_busy_s", *PEAK_FIELDS)}
            step_max = st["step_s"][meas, RS_MAX]
            parts["slowest"].append(step_max)
            if wall:
                parts["wall"].append(np.asarray(blk[RS + "wall_s"], np.float64)[meas, RS_MAX])
            parts["samples"].append(np.round(st["samples"][meas, RS_MEAN] * ws))
            with np.errstate(divide="ignore", invalid="ignore"):
                parts["spread"].append(step_max / st["step_s"][meas, RS_MEDIAN])
            for p in per_step:
                parts[p].append(st[p][meas, RS_MEAN])
            slowest_count += _max_rank_counts(st["step_s"][meas, RS_MAX_RANK], ws, run)
            totals["exposed"] += float((st["comm_exposed_s"][meas, RS_MEAN] * ws).sum())
            totals["comm_busy"] += float((st["comm_busy_s"][meas, RS_MEAN] * ws).sum())
            for name in PEAK_FIELDS:
                if rows:
                    peak_all[name] = max(peak_all[name], int(st[name][:, RS_MAX].max()))
        else:
            parts["slowest"].append(m.max(axis=1) if m.size else np.zeros(0))
            if wall:
                w = np.asarray(blk["wall_s"], dtype=np.float64)[meas]
                parts["wall"].append(w.max(axis=1) if w.size else np.zeros(0))
            parts["samples"].append(np.asarray(blk["samples"], dtype=np.float64)[meas]
                                    .sum(axis=1))
            with np.errstate(divide="ignore", invalid="ignore"):
                parts["spread"].append(m.max(axis=1) / np.median(m, axis=1) if m.size
                                       else np.zeros(0))
            for p in per_step:
                parts[p].append(np.asarray(blk[p], dtype=np.float64)[meas].mean(axis=1)
                                if m.size else np.zeros(0))
            if m.size:
                slowest_count += np.bincount(np.argmax(m, axis=1), minlength=ws)
        ranks.add(m, exposed, np.asarray(blk["comm_busy_s"], dtype=np.float64)[meas])
        for name in PEAK_FIELDS:
            a = np.asarray(blk[name], dtype=np.int64).max(axis=0)
            peaks[name] = a if peaks[name] is None else np.maximum(peaks[name], a)
    for name in PEAK_FIELDS:
        if peaks[name] is None:
            peaks[name] = np.full(k, -1, np.int64)
        if not stats:
            peak_all[name] = int(peaks[name].max()) if k else -1

    nb = len(run.bucket_bytes)
    buckets = BucketDurations(np.asarray(run.bucket_bytes, dtype=np.int64),
                              exact=run.n_bucket_rows * k * nb <= EXACT_BUCKET_VALUES,
                              sources=[run])
    for dur in _measured_bucket_blocks(run, measured, step_index):
        buckets.add(dur, run.bucket_bytes)

    cat = {k_: np.concatenate(v) if v else np.zeros(0) for k_, v in parts.items()}
    phases = {p: cat[p] for p in times}
    series = StepSeries(
        world_size=ws,
        slowest_step_s=cat["slowest"],
        global_samples=cat["samples"],
        phases=phases,
        compute_s=phases["forward_s"] + phases["backward_s"],
        rank_values=ranks,
        peak_rss_per_rank=peaks["peak_rss_bytes"],
        peak_dev_alloc_per_rank=peaks["device_peak_allocated_bytes"],
        peak_dev_reserved_per_rank=peaks["device_peak_reserved_bytes"],
        bucket_durations=buckets,
        recorded_ranks=recorded,
        record_ranks=(str(getattr(run, "record_ranks", "all")),),
        peak_rss=peak_all["peak_rss_bytes"],
        peak_dev_alloc=peak_all["device_peak_allocated_bytes"],
        peak_dev_reserved=peak_all["device_peak_reserved_bytes"],
        rank_spread=cat["spread"],
        slowest_count=slowest_count,
        totals=totals if stats else None,
        slowest_wall_s=cat["wall"] if wall else None,
        comm_bytes={b: cat[b] for b in byte_fields},
    )
    if cache is not None and series.nbytes <= SERIES_CACHE_BYTES:
        cache["series"] = series
    return series


def pool_series(series: Sequence[StepSeries]) -> StepSeries:
    """Repeats of one configuration pooled step by step (per-rank peaks: max over repeats).

    Repeats of different recording modes pool: the per-step figures, totals, slowest-rank
    counts and memory maxima are over every rank in each (a per-step figure that some repeat
    lacks, e.g. wall_s or buffer_sync_s of a schema 1-2 file, is left out of the pool), and
    the bucket durations of each repeat's recorded ranks are pooled per message size. The
    per-rank figures pool only where every repeat recorded the same ranks; otherwise they are
    left out (rank_values, recorded_ranks and the per-rank peaks None), not mixed."""
    if len(series) == 1:
        return series[0]
    ws = series[0].world_size
    if any(s.world_size != ws for s in series):
        raise ValueError("pooling runs of different world sizes")
    first = series[0].recorded_ranks
    same = first is not None and all(
        s.recorded_ranks is not None and s.rank_values is not None
        and np.array_equal(s.recorded_ranks, first) for s in series)
    cat = lambda name: np.concatenate([getattr(s, name) for s in series], axis=0)  # noqa: E731
    per_rank = (lambda name: np.max([getattr(s, name) for s in series], axis=0)  # noqa: E731
                if same else None)
    totals = None
    if not (same and all(s.totals is None for s in series)):
        totals = {name: sum(s.total(name) for s in series) for name in RankValues.TOTALS}
    counts = [s.slowest_count for s in series]
    return StepSeries(
        world_size=ws,
        slowest_step_s=cat("slowest_step_s"),
        global_samples=cat("global_samples"),
        phases={p: np.concatenate([s.phases[p] for s in series]) for p in series[0].phases
                if all(p in s.phases for s in series)},
        compute_s=cat("compute_s"),
        rank_values=RankValues.pool([s.rank_values for s in series]) if same else None,
        peak_rss_per_rank=per_rank("peak_rss_per_rank"),
        peak_dev_alloc_per_rank=per_rank("peak_dev_alloc_per_rank"),
        peak_dev_reserved_per_rank=per_rank("peak_dev_reserved_per_rank"),
        bucket_durations=BucketDurations.pool([s.bucket_durations for s in series]),
        recorded_ranks=first if same else None,
        record_ranks=tuple(dict.fromkeys(m for s in series for m in s.record_ranks)),
        peak_rss=max(s.peak_rss for s in series),
        peak_dev_alloc=max(s.peak_dev_alloc for s in series),
        peak_dev_reserved=max(s.peak_dev_reserved for s in series),
        rank_spread=cat("rank_spread"),
        slowest_count=None if any(c is None for c in counts) else np.sum(counts, axis=0),
        totals=totals,
        # wall time only where every repeat has it: else all fall back to step_s together
        slowest_wall_s=(None if any(s.slowest_wall_s is None for s in series)
                        else cat("slowest_wall_s")),
        comm_bytes={b: np.concatenate([s.comm_bytes[b] for s in series])
                    for b in series[0].comm_bytes if all(b in s.comm_bytes for s in series)},
    )


def bus_factor(world_size: int) -> Optional[float]:
    return 2.0 * (world_size - 1) / world_size if world_size > 1 else None


def bandwidth_by_size(series: StepSeries) -> List[Dict[str, Any]]:
    """Allreduce bandwidth per message size (see module docstring); empty for one rank.
    `samples`: the collectives counted (measured bucket rows x buckets of the size);
    `median_duration_s`: median of their collective times (collective_times: the fastest
    recorded rank's duration); `median_arrival_skew_s`: median of their max - min over the
    recorded ranks (None where only one rank's columns were recorded)."""
    factor = bus_factor(series.world_size)
    if factor is None:
        return []
    out = []
    for nbytes, count, med, skew in series.bucket_durations.stats():
        algbw = nbytes / med
        out.append({
            "bytes": nbytes,
            "samples": count,
            "median_duration_s": med,
            "median_arrival_skew_s": skew,
            "algbw_bytes_per_s": algbw,
            "busbw_bytes_per_s": algbw * factor,
        })
    return out


def bandwidth_of_run(run: Any) -> List[Dict[str, Any]]:
    """The report's allreduce bandwidth per message size of one run file (a runfile.RunData),
    warm-up excluded: what bench/busbw_compare.py prints, so that the two cannot differ."""
    return bandwidth_by_size(measured_series(run))


def bandwidth_note(figures_from: Optional[str]) -> Optional[str]:
    """How exact the collective times are, from where the bucket rows come (None: every rank
    recorded, the collective time is the fastest rank's)."""
    if figures_from == "all":
        return None
    return ("the collective time is the fastest of the RECORDED ranks only (--record-ranks "
            f"{figures_from}): an upper bound of the collective's time, so algbw and busbw are "
            "lower bounds; the arrival skew over the recorded ranks is a lower bound (none "
            "from rank 0 alone)")


def _imbalance(medians: np.ndarray, ranks: np.ndarray) -> Tuple[float, int, List[float]]:
    """(slowest median / median of the medians, the slowest column's world rank, the
    medians) of per-rank medians whose columns are the world ranks `ranks`."""
    slowest = int(np.argmax(medians))
    typical = float(np.median(medians))
    ratio = float(medians[slowest] / typical) if typical > 0 else float("nan")
    return ratio, int(ranks[slowest]), [float(v) for v in medians]


def _rank_figures(s: StepSeries) -> Dict[str, Any]:
    """The figures of the recorded ranks (FIGURES_FROM_RECORDED_RANKS but the bandwidth), and
    where they come from (rank_figures_from)."""
    rv, ranks = s.rank_values, s.recorded_ranks
    source = rank_figures_from(ranks if rv is not None else None, s.world_size)
    out: Dict[str, Any] = {
        "record_ranks": ",".join(s.record_ranks),
        "rank_figures_from": source,
        "recorded_ranks": None if source is None else [int(r) for r in ranks],
        "rank_figures_note": None,
    }
    dev_alloc, dev_res = s.peak_dev_alloc_per_rank, s.peak_dev_reserved_per_rank
    has_dev = s.peak_dev_alloc > 0 or s.peak_dev_reserved > 0
    none = {key: None for key in ("rank_median_step_s", "imbalance", "slowest_rank",
                                  "busy_imbalance", "busy_slowest_rank",
                                  "peak_rss_bytes_per_rank",
                                  "peak_device_allocated_bytes_per_rank", "rank_medians_exact")}
    if source is None:
        out.update(none)
        out["rank_figures_note"] = (
            "the pooled repeats recorded different ranks (record_ranks "
            f"{', '.join(s.record_ranks)}): per-rank figures are not pooled; the figures "
            "over all ranks are")
        return out
    imb, slow_rank, rank_medians = _imbalance(rv.medians("step"), ranks)
    busy_imb, busy_rank, _ = _imbalance(rv.medians("busy"), ranks)
    out.update({
        "rank_median_step_s": rank_medians,
        "imbalance": imb,
        "slowest_rank": slow_rank,
        "busy_imbalance": busy_imb,
        "busy_slowest_rank": busy_rank,
        "peak_rss_bytes_per_rank": [int(v) for v in s.peak_rss_per_rank],
        "peak_device_allocated_bytes_per_rank": ([int(v) for v in dev_alloc] if has_dev
                                                 else None),
        # False where a large run's figures come from the sketches (module docstring)
        "rank_medians_exact": rv.medians_exact,
    })
    if source == "rank 0":
        # one rank of several: no imbalance can be told from it
        out.update({key: None for key in ("imbalance", "slowest_rank", "busy_imbalance",
                                          "busy_slowest_rank")})
        out["rank_figures_note"] = ("only rank 0's columns were recorded: per-rank figures "
                                    "are rank 0's, no imbalance; see most_often_slowest_rank")
    elif source != "all":
        out["rank_figures_note"] = (f"per-rank figures over the {len(ranks)} recorded ranks "
                                    f"(recorded_ranks) of {s.world_size}")
    return out


STEP_CI_METHOD_ONE_RUN = ("order statistic over the run's measured steps (one run: ignores "
                          "run-to-run variance)")


def _optional_median(s: StepSeries, name: str) -> Optional[float]:
    return _median(s.phases[name]) if name in s.phases else None


def _time_figures(s: StepSeries) -> Dict[str, Any]:
    """Step time (step_s, the phases' span) and wall time (wall_s, where every run has it)
    with their step-level intervals; throughput from the wall time where there is one, else
    from the step time (throughput_time_source)."""
    med, lo, hi, coverage = median_ci(s.slowest_step_s)
    out: Dict[str, Any] = {"median_step_s": med, "step_ci_low_s": lo, "step_ci_high_s": hi,
                           "step_ci_coverage": coverage, "step_ci_method": STEP_CI_METHOD_ONE_RUN,
                           "median_wall_s": None, "wall_ci_low_s": None, "wall_ci_high_s": None}
    if s.slowest_wall_s is not None and s.slowest_wall_s.size:
        wmed, wlo, whi, _ = median_ci(s.slowest_wall_s)
        out.update({"median_wall_s": wmed, "wall_ci_low_s": wlo, "wall_ci_high_s": whi})
        out["throughput_time_source"] = "wall_s"
        out["throughput_time_note"] = None
    else:
        out["throughput_time_source"] = "step_s"
        out["throughput_time_note"] = (
            "no wall_s (schema version 1-2 file, or repeats of which one is): throughput from "
            "step_s, which leaves out the control agreement and the recording between steps")
    samples = _median(s.global_samples)
    out["global_samples_per_step"] = samples
    out.update(_throughput(samples, *_time_interval(out)))
    return out


def _time_interval(figures: Dict[str, Any]) -> Tuple[float, float, float]:
    """(median, low, high) of the time throughput is computed from (throughput_time_source)."""
    if figures["throughput_time_source"] == "wall_s":
        return figures["median_wall_s"], figures["wall_ci_low_s"], figures["wall_ci_high_s"]
    return figures["median_step_s"], figures["step_ci_low_s"], figures["step_ci_high_s"]


def _throughput(samples: float, med: float, lo: float, hi: float) -> Dict[str, float]:
    """Throughput = samples per step / median time, its interval the time's inverted."""
    return {
        "throughput_samples_per_s": samples / med if med > 0 else float("nan"),
        "throughput_ci_low": samples / hi if hi > 0 else float("nan"),
        "throughput_ci_high": samples / lo if lo > 0 else float("inf"),  # unbounded
    }


def _phase_figures(s: StepSeries, med: float) -> Dict[str, Any]:
    """Phase medians (rank-averaged per step), the remainder of the step time they leave,
    the exposed share and the per-step communicated bytes."""
    phases = {f"median_{p}": _median(s.phases[p]) for p in PHASES}
    buffer_sync = _optional_median(s, "buffer_sync_s")
    compute = _median(s.compute_s)
    accounted = (phases["median_data_s"] + compute + phases["median_comm_exposed_s"]
                 + phases["median_optimizer_s"] + (buffer_sync or 0.0))
    grad = _median(s.comm_bytes["bytes_reduced"]) if "bytes_reduced" in s.comm_bytes else None
    buf = (_median(s.comm_bytes["buffer_sync_bytes"]) if "buffer_sync_bytes" in s.comm_bytes
           else None)
    both = (s.comm_bytes["bytes_reduced"] + s.comm_bytes["buffer_sync_bytes"]
            if grad is not None and buf is not None else None)
    return {
        **phases,
        "median_buffer_sync_s": buffer_sync,
        "median_control_s": _optional_median(s, "control_s"),
        "median_other_s": _optional_median(s, "other_s"),
        "median_compute_s": compute,
        "median_unaccounted_s": max(0.0, med - accounted),
        "breakdown_note": (None if buffer_sync is not None else
                           "schema version 1-2: forward_s includes the broadcast of the "
                           "model's buffers (no buffer_sync_s), and there is no other_s"),
        "exposed_comm_share": phases["median_comm_exposed_s"] / med if med > 0 else float("nan"),
        "median_gradient_bytes": grad,
        "median_buffer_sync_bytes": buf,
        "median_comm_bytes": _median(both) if both is not None else grad,
    }


def summarize_series(s: StepSeries) -> Dict[str, Any]:
    """Every derived figure of a run (or pooled repeats), as JSON-ready values."""
    if s.measured_steps == 0:
        raise UnusableRun("no measured (non-warm-up) steps")
    times = _time_figures(s)
    med = times["median_step_s"]
    busy_total = s.total("comm_busy")
    ranks = _rank_figures(s)
    bw = bandwidth_by_size(s)
    peak_bw = max(bw, key=lambda e: e["busbw_bytes_per_s"]) if bw else None
    has_dev = s.peak_dev_alloc > 0 or s.peak_dev_reserved > 0
    counts = s.slowest_count
    often = int(np.argmax(counts)) if counts is not None and counts.sum() > 0 else None
    spread = s.rank_spread[np.isfinite(s.rank_spread)]
    bucket_from = ranks["rank_figures_from"] or "recorded ranks of each repeat"
    return {
        "world_size": s.world_size,
        "measured_steps": s.measured_steps,
        **times,
        **_phase_figures(s, med),
        "comm_concurrent_share": (max(0.0, 1.0 - s.total("exposed") / busy_total)
                                  if busy_total > 0 else None),
        "peak_rss_bytes": int(s.peak_rss),
        "peak_rss_bytes_per_rank": ranks["peak_rss_bytes_per_rank"],
        "peak_device_allocated_bytes": int(s.peak_dev_alloc) if has_dev else None,
        "peak_device_allocated_bytes_per_rank": ranks["peak_device_allocated_bytes_per_rank"],
        "peak_device_reserved_bytes": int(s.peak_dev_reserved) if has_dev else None,
        "rank_median_step_s": ranks["rank_median_step_s"],
        "imbalance": ranks["imbalance"],
        "slowest_rank": ranks["slowest_rank"],
        "busy_imbalance": ranks["busy_imbalance"],
        "busy_slowest_rank": ranks["busy_slowest_rank"],
        # over every rank in every mode: the rank most often holding the step's max step_s
        # (lowest rank on ties), and the share of the measured steps it did
        "most_often_slowest_rank": often,
        "most_often_slowest_share": (float(counts[often] / counts.sum())
                                     if often is not None else None),
        # over every rank: median over steps of the step's max / median step_s over ranks
        "median_rank_spread": _median(spread),
        "record_ranks": ranks["record_ranks"],
        "rank_figures_from": ranks["rank_figures_from"],
        "recorded_ranks": ranks["recorded_ranks"],
        "rank_figures_note": ranks["rank_figures_note"],
        "busbw_factor": bus_factor(s.world_size),
        "allreduce_bandwidth": bw,
        "busbw_peak_bytes_per_s": peak_bw["busbw_bytes_per_s"] if peak_bw else None,
        "busbw_peak_message_bytes": peak_bw["bytes"] if peak_bw else None,
        # the ranks whose bucket rows the bandwidth comes from
        "bucket_figures_from": bucket_from,
        "bandwidth_note": bandwidth_note(bucket_from) if bw else None,
        # False where a large run's figures come from the sketches (module docstring)
        "rank_medians_exact": ranks["rank_medians_exact"],
        "bucket_durations_exact": s.bucket_durations.medians_exact,
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
        # The schedule asked for, not the one --overlap auto chose: an auto study's runs may
        # choose differently and are still one series (files before overlap_mode: the flag).
        "overlap": run.attr("overlap_mode") if run.attr("overlap_mode") is not None
        else run.attr("overlap"),
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
        "bucket_every": getattr(run, "bucket_every", None),
        "epoch_samples": run.epoch_samples(),
        "schema_version": getattr(run, "schema_version", None),
        "math": run_math(run),
        "file_comm_concurrent_share": getattr(run, "file_comm_concurrent_share", None),
    }


def run_math(run: Any) -> Optional[Dict[str, Any]]:
    """The root attributes on the math libraries and settings (runfile.MATH_ATTRS: BLAS,
    LAPACK, oneDNN, thread counts, TF32/cuDNN flags, autocast) that the file has; None for
    files without any (schema versions 1-2). Informational: they group nothing."""
    from .runfile import MATH_ATTRS
    found = {k: run.attr(k) for k in MATH_ATTRS if run.attr(k) is not None}
    return found or None


def analyze_run(run: Any) -> Dict[str, Any]:
    """Identity and every derived figure of one run (raises UnusableRun). The figures are
    kept in run.cache for the run's group point when it has no repeats."""
    figures = summarize_series(measured_series(run))
    cache = getattr(run, "cache", None)
    if cache is not None:
        cache["figures"] = copy.deepcopy(figures)
    return {**run_identity(run), **figures}


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


def _repeat_intervals(point: Dict[str, Any], step_medians: List[float],
                      wall_medians: List[Optional[float]]) -> None:
    """With >= 2 repeats, the intervals of the median step and wall times become the
    t-intervals over the repeats' medians (repeat_interval; widened to hold the pooled median
    where it falls outside), and the throughput's follows; the order-statistic interval over
    the pooled steps stays as pooled_step_ci_*. With one run the step-level interval stays,
    which ignores run-to-run variance (step_ci_method says which)."""
    point["pooled_step_ci_low_s"] = point["step_ci_low_s"]
    point["pooled_step_ci_high_s"] = point["step_ci_high_s"]
    if len(step_medians) < 2:
        return
    lo, hi = repeat_interval(step_medians)
    med = point["median_step_s"]
    # a time is > 0: a lower end below 0 (few repeats far apart) is clamped to 0, and the
    # throughput's upper end is then unbounded (inf, null in summary.json)
    point["step_ci_low_s"], point["step_ci_high_s"] = max(0.0, min(lo, med)), max(hi, med)
    point["step_ci_coverage"] = CI_LEVEL
    point["step_ci_method"] = f"{REPEAT_CI_METHOD} ({len(step_medians)} repeats)"
    if point["median_wall_s"] is not None and None not in wall_medians:
        lo, hi = repeat_interval(wall_medians)
        med = point["median_wall_s"]
        point["wall_ci_low_s"], point["wall_ci_high_s"] = max(0.0, min(lo, med)), max(hi, med)
    point.update(_throughput(point["global_samples_per_step"], *_time_interval(point)))


def _analyze_point(g: Group, key: PointKey) -> Dict[str, Any]:
    """One point of a group: its repeats pooled, with their spread; intervals from the
    repeats where there are several (_repeat_intervals)."""
    runs = g.runs_by_point[key]
    cached = getattr(runs[0], "cache", {}).get("figures") if len(runs) == 1 else None
    if cached is not None:
        point = copy.deepcopy(cached)
        repeat_medians = [point["median_step_s"]]
        wall_medians = [point["median_wall_s"]]
    else:
        # Repeats one at a time into the pool: at most two series held at once.
        pooled, repeat_medians, wall_medians = None, [], []
        for r in runs:
            s = measured_series(r)
            repeat_medians.append(float(np.median(s.slowest_step_s)))
            wall_medians.append(float(np.median(s.slowest_wall_s))
                                if s.slowest_wall_s is not None else None)
            pooled = s if pooled is None else pool_series([pooled, s])
        point = summarize_series(pooled)
    _repeat_intervals(point, repeat_medians, wall_medians)
    epoch = {r.epoch_samples() for r in runs} - {None}
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
        "repeat_median_wall_s": wall_medians,
        "repeat_spread": (max(repeat_medians) / min(repeat_medians) - 1.0
                          if min(repeat_medians) > 0 else None),
        "epoch_samples": epoch.pop() if len(epoch) == 1 else None,
        **point,
        **_point_topology(runs),
    }


def _scaling_intervals(p: Dict[str, Any], base: Dict[str, Any], mode: str) -> None:
    """Intervals of speedup, efficiency and (weak) step-time ratio from the two points'
    intervals (ratio_interval: endpoints). The baseline's own are [1, 1]."""
    if p is base:
        lo = hi = 1.0
        t_lo = t_hi = 1.0
    else:
        lo, hi = ratio_interval((p["throughput_ci_low"], p["throughput_ci_high"]),
                                (base["throughput_ci_low"], base["throughput_ci_high"]))
        t_lo, t_hi = ratio_interval((p["step_ci_low_s"], p["step_ci_high_s"]),
                                    (base["step_ci_low_s"], base["step_ci_high_s"]))
    scale = base["world_size"] / p["world_size"]
    p["speedup_ci_low"], p["speedup_ci_high"] = lo, hi
    p["efficiency_ci_low"], p["efficiency_ci_high"] = lo * scale, hi * scale
    weak = mode == "weak"
    p["step_time_ratio_ci_low"] = t_lo if weak else None
    p["step_time_ratio_ci_high"] = t_hi if weak else None


def analyze_groups(groups: List[Group]) -> List[Dict[str, Any]]:
    """Per group: one point per (nodes, world size) with repeats pooled, speedup and
    efficiency over the group's first point (see the module docstring), with intervals."""
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
            _scaling_intervals(p, base, g.mode)
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


# --- what overlap saved -----------------------------------------------------------------------

OVERLAP_INTERVAL_NOTE = (
    "difference (and ratio) of the two configurations' 95% intervals' endpoints: it holds the "
    "true difference whenever both intervals hold their medians, for independent runs with "
    "probability >= 0.9025; conservative")


def _twin_key(g: Dict[str, Any]) -> Tuple:
    return (g["model"], g["mode"], g["device"], g["threads"],
            tuple(sorted((k, repr(v)) for k, v in g["variant"].items() if k != "overlap")))


def overlap_savings(groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per point of a configuration run with overlap (root attribute overlap 1) whose
    --no-overlap twin (overlap 0, everything else of the group key equal: model, mode,
    device, threads, dataset, backend, bucket size, batch) has a point at the same nodes and
    world size: what overlap really saved, the no-overlap median step time minus the overlap
    one (and the throughput ratio), with intervals (OVERLAP_INTERVAL_NOTE). Unlike
    comm_concurrent_share, which says how much of the bucket communication ran while compute
    did, this is the time the step actually lost without overlap."""
    twins: Dict[Tuple, Dict[int, List[Dict[str, Any]]]] = {}
    for g in groups:
        side = _overlap_side(g["variant"].get("overlap"))
        if side is not None:
            twins.setdefault(_twin_key(g), {}).setdefault(side, []).append(g)
    out = []
    for pair in twins.values():
        for off in pair.get(0, []):
            off_points = {(q["nodes"], q["world_size"]): q for q in off["points"]}
            for on in pair.get(1, []):  # --overlap on and auto each against the off twin
                for p in on["points"]:
                    q = off_points.get((p["nodes"], p["world_size"]))
                    if q is not None:
                        out.append(_overlap_entry(on, off, p, q))
    return out


def _overlap_side(value: Any) -> Optional[int]:
    """1 for a configuration that overlaps (or may: --overlap auto), 0 for --overlap off, from
    the variant's overlap_mode (files since 2026-12-03) or overlap flag (before)."""
    if isinstance(value, str):
        return {"on": 1, "auto": 1, "off": 0}.get(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return int(value)
    return None


def _overlap_entry(on: Dict[str, Any], off: Dict[str, Any], p: Dict[str, Any],
                   q: Dict[str, Any]) -> Dict[str, Any]:
    """One point's saving: p with overlap, q without."""
    saved = q["median_step_s"] - p["median_step_s"]
    gain_lo, gain_hi = ratio_interval((p["throughput_ci_low"], p["throughput_ci_high"]),
                                      (q["throughput_ci_low"], q["throughput_ci_high"]))
    sources = {p["throughput_time_source"], q["throughput_time_source"]}
    return {
        "group": on["group"],
        "group_no_overlap": off["group"],
        "label": p["label"],
        "label_no_overlap": q["label"],
        "world_size": p["world_size"],
        "nodes": p["nodes"],
        "repeats": p["repeats"],
        "repeats_no_overlap": q["repeats"],
        "median_step_s": p["median_step_s"],
        "median_step_s_no_overlap": q["median_step_s"],
        "step_saved_s": saved,
        "step_saved_ci_low_s": q["step_ci_low_s"] - p["step_ci_high_s"],
        "step_saved_ci_high_s": q["step_ci_high_s"] - p["step_ci_low_s"],
        "step_saved_share": saved / q["median_step_s"] if q["median_step_s"] > 0 else None,
        "throughput_samples_per_s": p["throughput_samples_per_s"],
        "throughput_no_overlap": q["throughput_samples_per_s"],
        "throughput_ratio": (p["throughput_samples_per_s"] / q["throughput_samples_per_s"]
                             if q["throughput_samples_per_s"] > 0 else None),
        "throughput_ratio_ci_low": gain_lo,
        "throughput_ratio_ci_high": gain_hi,
        "throughput_time_source": ",".join(sorted(sources)),
        "comm_concurrent_share": p.get("comm_concurrent_share"),
        "comm_concurrent_share_no_overlap": q.get("comm_concurrent_share"),
        "interval_note": OVERLAP_INTERVAL_NOTE,
    }


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
