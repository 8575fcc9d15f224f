"""The communication model of results/predict (docs/prediction.md): alpha-beta costs of ring and
hierarchical allreduces, the MPI backend's slicing, fits of (alpha, beta) from `scalebench
allreduce` files, and link specs such as `100Gbit,5us`.

A level (one node's shared memory or NVLink; the network between nodes) is a pair
(alpha, beta): the latency of one ring step and the time per byte of one link, both in seconds.
A ring allreduce of S bytes among n ranks takes 2(n-1) steps each way round the ring (n-1 of
reduce-scatter, n-1 of allgather), each moving S/n bytes over every link at once:

    ring(S, n) = 2(n-1) alpha + 2(n-1)/n S beta        (0 for n = 1)

The log-latency algorithms (docs/prediction.md, "Algorithm per message size"):

    NCCL double binary tree:        tree(S, n) = 2 ceil(log2 n) alpha + 2 S beta
    Open MPI recursive doubling:    rd(S, n)   = L(n) (alpha + S beta),
                                    L(n) = log2 n (n a power of two), floor(log2 n) + 2 else

`--algorithm auto` chooses per call as the library does: Open MPI's tuned fixed decision
(recursive doubling below 10000 bytes, ring above), NCCL's tuner (the algorithm of least
modelled time: tree below the crossover size, ring above; across nodes only, a node's own level
is a ring); `ring` or `tree` force one (tree = the backend's log-latency algorithm).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import h5py
import numpy as np

MIB = 1048576
# The MPI backend's largest slice in elements when --mpi-chunk-mb is 0 (MPI counts are int):
# kMaxElementsPerCall in src/comm/mpi_communicator.cpp.
MAX_ELEMENTS_PER_CALL = (2 ** 31 - 1) // 2
ALLREDUCE_FORMAT = "scalebench-allreduce"
DTYPE_BYTES = {"float32": 4, "float64": 8}


@dataclass(frozen=True)
class Level:
    """One level of the machine: per-step latency alpha (s) and per-byte time beta (s/B) of
    one link, and where the figures come from (a spec, or a fit with its quality).

    segments: from an allreduce file, (bytes, alpha, beta) fitted around each measured message
    size (Fit.local). A message takes the parameters of the measured size nearest to it on a
    log scale: one straight line through 1 KiB..64 MiB cannot follow both a cache-resident
    4 MiB (9.5 GB/s here) and a 64 MiB message that streams from memory (3.7 GB/s). alpha and
    beta are then the whole-range fit, reported for reference."""
    alpha: float
    beta: float
    source: str
    segments: Tuple[Tuple[float, float, float], ...] = ()
    # True for a level fitted from an allreduce file: its times already hold the algorithm the
    # library chose at each measured size, so `auto` keeps the form it was inverted with
    # (fitted_as) instead of choosing again
    fitted: bool = False
    fitted_as: str = "ring"
    # From the file's `<scope>+compute` rows (`scalebench allreduce --beside-compute`): the
    # level as it runs while every rank computes beside it on the same cores (a level of its
    # own, fitted as this one is), None where the file has no such rows. On that beside level,
    # compute_rates: (bytes, the compute load's rate beside the collective over its rate
    # alone) per measured size, in ascending size.
    beside: Optional["Level"] = None
    compute_rates: Tuple[Tuple[float, float], ...] = ()

    def at(self, nbytes: float) -> Tuple[float, float]:
        """(alpha, beta) for a message of `nbytes` bytes per rank."""
        if not self.segments:
            return self.alpha, self.beta
        if nbytes <= 0:
            return self.segments[0][1], self.segments[0][2]
        x = math.log(nbytes)
        best = min(self.segments, key=lambda seg: abs(math.log(seg[0]) - x))
        return best[1], best[2]

    def compute_rate(self, nbytes: float) -> float:
        """The compute load's rate beside a message of `nbytes` bytes (a beside level's
        compute_rates): piecewise linear in log(bytes) between the measured sizes, the
        nearest end's value outside them; NaN where none was measured."""
        if not self.compute_rates:
            return math.nan
        xs = [math.log(b) for b, _ in self.compute_rates]
        ys = [r for _, r in self.compute_rates]
        if nbytes <= 0:
            return ys[0]
        return float(np.interp(math.log(nbytes), xs, ys))

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return 1.0 / self.beta if self.beta > 0 else math.inf

    def as_dict(self) -> Dict[str, Any]:
        out = {"alpha_s": self.alpha, "beta_s_per_byte": self.beta,
               "bandwidth_bytes_per_s": (None if math.isinf(self.bandwidth_bytes_per_s)
                                         else self.bandwidth_bytes_per_s),
               "source": self.source}
        if self.beside is not None:
            out["beside_compute"] = dict(self.beside.as_dict(), compute_rate=[
                {"bytes": b, "rate": r} for b, r in self.beside.compute_rates])
        return out


def ring_allreduce_s(nbytes: float, n: int, alpha: float, beta: float) -> float:
    """Time of one ring allreduce of `nbytes` bytes per rank among `n` ranks on one level."""
    if n <= 1:
        return 0.0
    return 2.0 * (n - 1) * alpha + 2.0 * (n - 1) / n * nbytes * beta


# --- the algorithms, and which one a library picks ------------------------------------------

ALGORITHMS = ("auto", "ring", "tree")
BACKENDS = ("mpi", "nccl")
# Open MPI's tuned fixed decision for MPI_Allreduce (ompi_coll_tuned_allreduce_intra_dec_fixed,
# ompi/mca/coll/tuned/coll_tuned_decision_fixed.c, Open MPI 1.x-3.1): recursive doubling for
# messages below this many bytes, (segmented) ring above.
OMPI_RECURSIVE_DOUBLING_BELOW = 10000


def ceil_log2(n: int) -> int:
    """ceil(log2 n) for n >= 1: the depth of a binary tree of n ranks."""
    return max(int(n) - 1, 0).bit_length()


def recursive_doubling_steps(n: int) -> int:
    """Exchange steps of Open MPI's recursive doubling among n ranks: log2 n for a power of two;
    otherwise floor(log2 n) among the largest power of two, plus one step before (the extra
    ranks hand their data in) and one after (they get the result)."""
    if n <= 1:
        return 0
    k = int(n).bit_length() - 1
    return k if (1 << k) == n else k + 2


def tree_allreduce_s(nbytes: float, n: int, alpha: float, beta: float) -> float:
    """NCCL's double binary tree allreduce: a reduce up and a broadcast down a tree of depth
    ceil(log2 n), pipelined, two trees each carrying half the data. Latency 2 ceil(log2 n)
    alpha; bandwidth 2 S beta, as NCCL's tuner costs it (tuning.cc: a tree's algorithm
    bandwidth is half the bus bandwidth, ratio .5)."""
    if n <= 1:
        return 0.0
    return 2.0 * ceil_log2(n) * alpha + 2.0 * nbytes * beta


def recursive_doubling_allreduce_s(nbytes: float, n: int, alpha: float, beta: float) -> float:
    """Open MPI's recursive doubling allreduce: L(n) steps, each exchanging the whole message
    with one partner: L(n) (alpha + S beta), L = recursive_doubling_steps."""
    if n <= 1:
        return 0.0
    return recursive_doubling_steps(n) * (alpha + nbytes * beta)


def coefficients(name: str, backend: str, n: int) -> Tuple[float, float]:
    """(latency steps, bytes moved per byte of message) of an algorithm among n ranks: its time
    is c_alpha alpha + c_beta S beta. name: "ring" or "tree" (the backend's log-latency
    algorithm: NCCL's double binary tree, Open MPI's recursive doubling)."""
    if n <= 1:
        return 0.0, 0.0
    if name == "ring":
        return 2.0 * (n - 1), 2.0 * (n - 1) / n
    if name != "tree":
        raise ValueError(f"algorithm {name!r}: expected ring or tree")
    if backend == "nccl":
        return 2.0 * ceil_log2(n), 2.0
    steps = float(recursive_doubling_steps(n))
    return steps, steps


def algorithm_label(name: str, backend: str) -> str:
    """What a name means for a backend: ring, double binary tree, recursive doubling."""
    if name == "tree":
        return "double binary tree" if backend == "nccl" else "recursive doubling"
    return name


def choose_algorithm(algorithm: str, backend: str, nbytes: float, n: int, alpha: float,
                     beta: float, across_nodes: bool) -> str:
    """The algorithm ("ring" or "tree") of one allreduce call of nbytes bytes among n ranks.

    Forced (`ring`, `tree`): that one. `auto`, as the library picks:
    - mpi (Open MPI tuned, fixed decision): tree (recursive doubling) below
      OMPI_RECURSIVE_DOUBLING_BELOW bytes, ring from there on;
    - nccl: within one node a ring (NCCL's tree within a node is a chain: no log latency);
      across nodes the one of least modelled time, as NCCL's tuner picks (ties: ring). With
      the costs above that is tree below the crossover size
          S* = n alpha (n - 1 - ceil(log2 n)) / beta        (0 for n <= 2: always ring)
      and ring above it."""
    if algorithm in ("ring", "tree"):
        return algorithm
    if algorithm != "auto":
        raise ValueError(f"algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    if n <= 1:
        return "ring"
    if backend == "nccl":
        if not across_nodes:
            return "ring"
        ring = ring_allreduce_s(nbytes, n, alpha, beta)
        tree = tree_allreduce_s(nbytes, n, alpha, beta)
        return "tree" if tree < ring else "ring"
    return "tree" if nbytes < OMPI_RECURSIVE_DOUBLING_BELOW else "ring"


def nccl_tree_crossover_bytes(n: int, alpha: float, beta: float) -> float:
    """S* of choose_algorithm: below it NCCL's tree is modelled faster than the ring."""
    if n <= 2 or beta <= 0:
        return 0.0 if beta > 0 else math.inf
    return n * alpha * (n - 1 - ceil_log2(n)) / beta


def allreduce_s(name: str, backend: str, nbytes: float, n: int, alpha: float,
                beta: float) -> float:
    """One call of the named algorithm (coefficients)."""
    ca, cb = coefficients(name, backend, n)
    return ca * alpha + cb * nbytes * beta


def slice_count(nbytes: int, chunk_bytes: int, element_bytes: int = 4) -> int:
    """Calls the MPI backend makes for a message of `nbytes` bytes: it reduces in slices of
    chunk_bytes // element_bytes elements (at least 1; 0 = one call, up to MPI's int count),
    as allreduce_mean_in_place in src/comm/mpi_communicator.cpp."""
    count = int(nbytes) // element_bytes
    if count <= 0:
        return 1 if nbytes > 0 else 0
    per_call = (MAX_ELEMENTS_PER_CALL if chunk_bytes <= 0
                else min(max(int(chunk_bytes) // element_bytes, 1), MAX_ELEMENTS_PER_CALL))
    return -(-count // per_call)


def chunk_bytes_of(mpi_chunk_mb: Any, backend: str) -> int:
    """The slice size in bytes the backend used (`mpi_chunk_mb` MiB on MPI, as
    CommOptions::from_mpi_chunk_mb truncates it; NCCL does not slice: 0)."""
    if backend != "mpi" or not isinstance(mpi_chunk_mb, (int, float)) or mpi_chunk_mb <= 0:
        return 0
    return int(float(mpi_chunk_mb) * MIB)


@dataclass(frozen=True)
class Topology:
    """Where the ranks of a predicted point sit, and the levels their traffic crosses."""
    nodes: int
    ranks_per_node: int
    intra: Optional[Level]
    inter: Optional[Level]
    # True: the ranks_per_node cross-node flows of the hierarchical allreduce share one node
    # link (one NIC per node), so each gets 1/p of its bandwidth; False: each rank has a link
    # of its own (one NIC per GPU, as DGX nodes have).
    shared_link: bool = False
    # the allreduce algorithm per call (ALGORITHMS; auto: as `backend` would pick it)
    algorithm: str = "auto"
    backend: str = "mpi"

    @property
    def world_size(self) -> int:
        return self.nodes * self.ranks_per_node

    def needed_levels(self) -> List[str]:
        """The levels an allreduce of this topology uses: "intra", "inter", both or none."""
        out = []
        if self.ranks_per_node > 1:
            out.append("intra")
        if self.nodes > 1:
            out.append("inter")
        return out

    def latency_s(self) -> float:
        """The latency part of one allreduce call: what a tiny message (the per-step control
        agreement) costs."""
        return self.allreduce_call_s(0.0)

    def _phases(self, nbytes: float, size: float) -> List[Tuple[str, Level, float, int, float,
                                                            float, bool]]:
        """(level name, level, bytes it carries, ranks, alpha, beta, across nodes) per level
        the call crosses."""
        p, nn = self.ranks_per_node, self.nodes
        out = []
        if p > 1:
            assert self.intra is not None, "topology needs the intra-node level"
            alpha, beta = self.intra.at(size)
            out.append(("intra", self.intra, nbytes, p, alpha, beta, False))
        if nn > 1:
            assert self.inter is not None, "topology needs the inter-node level"
            alpha, beta = self.inter.at(size / p)
            out.append(("inter", self.inter, nbytes / p, nn, alpha,
                        beta * (p if self.shared_link else 1), True))
        return out

    def _algorithm(self, level: Level, nbytes: float, n: int, alpha: float, beta: float,
                   across: bool) -> str:
        if level.fitted and self.algorithm == "auto":
            return level.fitted_as  # the file's times hold the library's own choice
        return choose_algorithm(self.algorithm, self.backend, nbytes, n, alpha, beta, across)

    def algorithms_of(self, nbytes: float) -> Dict[str, str]:
        """{level: algorithm label} an allreduce call of nbytes bytes per rank uses."""
        return {name: algorithm_label(self._algorithm(lv, b, n, a, be, across), self.backend)
                for name, lv, b, n, a, be, across in self._phases(nbytes, nbytes)}

    def allreduce_call_s(self, nbytes: float, size_of: Optional[float] = None,
                         choose_by: Optional[float] = None) -> float:
        """One allreduce call of `nbytes` bytes per rank.

        One level: one allreduce among its ranks, of the algorithm chosen for the call
        (ring: 2(n-1) alpha + 2(n-1)/n S beta; tree: see coefficients). Two levels
        (p = ranks_per_node > 1 and N = nodes > 1): the hierarchical allreduce,
        reduce-scatter within the node, an allreduce across nodes of the S/p bytes each rank
        then holds (the p ranks of a node in p allreduces side by side), allgather within
        the node; with rings throughout:
            2(p-1) alpha_intra + 2(p-1)/p S beta_intra
          + 2(N-1) alpha_inter + 2(N-1)/N (S/p) beta_inter
        (beta_inter x p where the p flows share one node link: shared_link). The cross-node
        part takes the algorithm chosen for its S/p bytes; the in-node reduce-scatter and
        allgather are a ring's halves. Each level's parameters are those of the message it
        carries (S within the node, S/p across); `size_of` (default nbytes) is the S they are
        looked up for, `choose_by` (default nbytes) the S the algorithm is chosen for.
        """
        size = nbytes if size_of is None else size_of
        pick = nbytes if choose_by is None else choose_by
        t = 0.0
        for _, _, part in self._call_parts(nbytes, size, pick):
            t += part
        return t

    def _call_parts(self, nbytes: float, size: float, pick: float
                    ) -> List[Tuple[str, Level, float]]:
        """(level name, level, seconds) of one allreduce call per level it crosses
        (allreduce_call_s is their sum)."""
        phases = self._phases(nbytes, size)
        out = []
        for name, lv, b, n, alpha, beta, across in phases:
            if name == "intra" and len(phases) == 2:
                algo = "ring"  # reduce-scatter + allgather halves of a ring
            else:
                share = pick / self.ranks_per_node if across and name == "inter" else pick
                algo = self._algorithm(lv, share, n, alpha, beta, across)
            out.append((name, lv, allreduce_s(algo, self.backend, b, n, alpha, beta)))
        return out

    def beside_topology(self) -> Optional["Topology"]:
        """This topology with every level it uses replaced by that level's beside-compute fit
        (Level.beside): what its allreduces cost while every rank computes beside them on the
        same cores. None where a level it uses has none (or no compute rate)."""
        swap = {}
        for name in self.needed_levels():
            lv = getattr(self, name)
            if lv is None or lv.beside is None or not lv.beside.compute_rates:
                return None
            swap[name] = lv.beside
        return replace(self, **swap)

    def bucket_parts(self, nbytes: int, chunk_bytes: int, element_bytes: int = 4
                     ) -> List[Tuple[str, Level, float, float]]:
        """(level name, level, the size its parameters are looked up for, seconds) of each
        level a bucket's allreduce crosses: bucket_s split by level (its slices summed per
        level; their sum is bucket_s up to rounding). The size is the bucket's S within the
        node, S/p across nodes, as allreduce_call_s looks them up."""
        if self.world_size <= 1 or nbytes <= 0:
            return []
        k = slice_count(nbytes, chunk_bytes, element_bytes)
        whole = float(nbytes)
        if k <= 1:
            calls = [(1.0, whole)]
        else:
            per_call = (MAX_ELEMENTS_PER_CALL if chunk_bytes <= 0
                        else min(max(int(chunk_bytes) // element_bytes, 1),
                                 MAX_ELEMENTS_PER_CALL))
            full = float(per_call * element_bytes)
            calls = [(float(k - 1), full), (1.0, whole - (k - 1) * full)]
        out: Dict[str, List[Any]] = {}
        for count, b in calls:
            for name, lv, t in self._call_parts(b, whole, b):
                entry = out.setdefault(name, [lv, whole if name == "intra"
                                              else whole / self.ranks_per_node, 0.0])
                entry[2] += count * t
        return [(name, lv, size, t) for name, (lv, size, t) in out.items()]

    def bucket_s(self, nbytes: int, chunk_bytes: int, element_bytes: int = 4) -> float:
        """A bucket's allreduce: the sum over the MPI backend's slices, each one call (k - 1
        full slices and the rest), each call's algorithm chosen for the slice's size. With
        one algorithm for every slice (the bandwidth terms linear in the bytes) this is k
        calls' latency plus the bandwidth part of the whole bucket."""
        if self.world_size <= 1 or nbytes <= 0:
            return 0.0
        k = slice_count(nbytes, chunk_bytes, element_bytes)
        # The parameters of the bucket's whole size: an allreduce file's time for S bytes is
        # itself the sum over S's slices, so it already holds what slicing S costs.
        whole = float(nbytes)
        if k <= 1:
            return self.allreduce_call_s(whole, size_of=whole)
        per_call = (MAX_ELEMENTS_PER_CALL if chunk_bytes <= 0
                    else min(max(int(chunk_bytes) // element_bytes, 1), MAX_ELEMENTS_PER_CALL))
        full = float(per_call * element_bytes)
        last = whole - (k - 1) * full
        return ((k - 1) * self.allreduce_call_s(full, size_of=whole)
                + self.allreduce_call_s(last, size_of=whole))


# --- link specs -----------------------------------------------------------------------------

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
# per second, divided by (not multiplied by 1e-6): 5us is exactly the float 5e-06
_LATENCY = {"ns": 1e9, "us": 1e6, "µs": 1e6, "ms": 1e3, "s": 1.0}
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_BANDWIDTH_RE = re.compile(r"^(" + _NUMBER + r")\s*([kKMGT]?)(bit|bit/s|bps|B/s)$")
_LATENCY_RE = re.compile(r"^(" + _NUMBER + r")\s*(ns|us|µs|ms|s)$")
SPEC_HELP = ("BANDWIDTH,LATENCY such as 100Gbit,5us or 450GB/s,2us (a positive bandwidth in "
             "bit/s: Mbit, Gbit, or bytes/s: MB/s, GB/s; latency in ns, us, ms or s)")


def parse_link(spec: str) -> Tuple[float, float]:
    """(alpha s, beta s/B) of a spec `BANDWIDTH,LATENCY`: `100Gbit,5us`, `450GB/s,2us`. The
    bandwidth is one link's, one direction (what a ring step moves per link); decimal prefixes,
    as link speeds are quoted. One ValueError, naming the spec, for anything else."""
    parts = [p.strip() for p in str(spec).split(",")]
    bad = ValueError(f"link spec {spec!r}: expected {SPEC_HELP}")
    if len(parts) != 2:
        raise bad
    bw, lat = _BANDWIDTH_RE.match(parts[0]), _LATENCY_RE.match(parts[1])
    if bw is None or lat is None:
        raise bad
    value, prefix, unit = float(bw.group(1)), bw.group(3), bw.group(4)
    bytes_per_s = value * _PREFIX[prefix] / (1.0 if unit == "B/s" else 8.0)
    alpha = float(lat.group(1)) / _LATENCY[lat.group(3)]
    if not (bytes_per_s > 0 and math.isfinite(bytes_per_s)) or not math.isfinite(alpha):
        raise bad
    return alpha, 1.0 / bytes_per_s


# --- fits from allreduce files --------------------------------------------------------------

@dataclass
class Fit:
    """(alpha, beta) of one scope of one allreduce file, with the fit's quality."""
    path: str
    scope: str
    group_size: int
    nodes: int
    ranks_per_node: int
    a_s: float                 # fitted latency of one call, a in time = a k + b S
    b_s_per_byte: float        # fitted time per byte of one call
    alpha: float               # per ring step: a / (2(n-1))
    beta: float                # per link: b n / (2(n-1))
    sizes: int                 # message sizes fitted
    min_bytes: int
    max_bytes: int
    median_rel_residual: float
    max_rel_residual: float
    chunk_bytes: int
    notes: List[str]
    # (bytes, a, b) fitted over each measured size and its neighbours (three sizes; two at
    # the ends), and that local model's relative residuals at the measured sizes
    local: List[Tuple[int, float, float]] = field(default_factory=list)
    local_median_rel_residual: float = math.nan
    local_max_rel_residual: float = math.nan
    backend: str = "mpi"       # the file's backend attribute: which library's algorithms
    # The fit of the file's `<scope>+compute` rows (`scalebench allreduce --beside-compute`:
    # the same sweep while every rank runs a compute load beside it), fitted as this one is;
    # None where the file has no such rows (files written before them, or without the flag).
    beside: Optional["Fit"] = None
    # On a beside fit: (bytes, the load's rate beside the collective over its rate alone,
    # /sizes/compute_rate) per measured size with a finite positive rate, ascending
    compute_rate: List[Tuple[int, float]] = field(default_factory=list)
    # On a beside fit: the file's compute_threads and compute_load attributes (None if absent)
    compute_threads: Optional[int] = None
    compute_load: Optional[str] = None

    def level(self, algorithm: str = "ring", backend: str = "mpi") -> Level:
        """The level: each per-size fit (a, b) turned into (alpha, beta) with the coefficients
        of `algorithm` ("ring" by default, or "tree": the backend's log-latency algorithm)
        among the file's group size, so that at that size the level gives back the measured
        times whichever algorithm is assumed; they differ in how they scale with n. With
        `<scope>+compute` rows, Level.beside is their level, inverted alike, and holds their
        compute rates."""
        ca, cb = coefficients(algorithm, backend, self.group_size)
        how = "" if algorithm == "ring" else f", inverted as {algorithm_label(algorithm, backend)}"
        beside = (self.beside.level(algorithm, backend)
                  if self.beside is not None and self.beside.compute_rate else None)
        return Level(self.a_s / ca, self.b_s_per_byte / cb,
                     f"fit of {self.path} scope {self.scope} ({self.group_size} ranks), per "
                     f"size range{how}",
                     tuple((float(size), a / ca, b / cb) for size, a, b in self.local),
                     fitted=True, fitted_as=algorithm, beside=beside,
                     compute_rates=tuple((float(b), float(r)) for b, r in self.compute_rate))

    def as_dict(self) -> Dict[str, Any]:
        out = self._plain_dict()
        if self.beside is not None:
            b = self.beside._plain_dict()
            b.update(compute_rate=[{"bytes": x, "rate": r} for x, r in self.beside.compute_rate],
                     compute_threads=self.beside.compute_threads,
                     compute_load=self.beside.compute_load)
            out["beside_compute"] = b
        else:
            out["beside_compute"] = None
        return out

    def _plain_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "scope": self.scope, "group_size": self.group_size,
                "nodes": self.nodes, "ranks_per_node": self.ranks_per_node,
                "call_latency_s": self.a_s, "call_time_per_byte_s": self.b_s_per_byte,
                "alpha_s": self.alpha, "beta_s_per_byte": self.beta,
                "bandwidth_bytes_per_s": 1.0 / self.beta if self.beta > 0 else None,
                "sizes": self.sizes, "min_bytes": self.min_bytes, "max_bytes": self.max_bytes,
                "median_rel_residual": self.median_rel_residual,
                "max_rel_residual": self.max_rel_residual, "mpi_chunk_bytes": self.chunk_bytes,
                "per_size": [{"bytes": size, "call_latency_s": a, "call_time_per_byte_s": b}
                             for size, a, b in self.local],
                "per_size_median_rel_residual": self.local_median_rel_residual,
                "per_size_max_rel_residual": self.local_max_rel_residual,
                "backend": self.backend, "notes": self.notes}


def fit_call(slices: np.ndarray, nbytes: np.ndarray, times: np.ndarray
             ) -> Tuple[float, float, List[str]]:
    """(a, b) of time = a k + b S, least squares weighted by 1/time (each row's relative
    error counts alike, so the small sizes that fix the latency are not drowned by the large
    ones). k is the calls a message took: the file's times are sums over the MPI backend's
    slices, so each slice pays the latency once while the per-byte term sums to b S. A
    negative coefficient (noise on a flat curve) is set to 0 and the other refitted alone."""
    k = np.asarray(slices, np.float64)
    s = np.asarray(nbytes, np.float64)
    t = np.asarray(times, np.float64)
    design = np.column_stack([k / t, s / t])
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    notes: List[str] = []
    if a < 0:
        notes.append(f"fitted latency {a:.3g} s < 0: set to 0, bandwidth refitted alone")
        a, b = 0.0, float(np.sum(s / t) / np.sum((s / t) ** 2))
    elif b < 0:
        notes.append(f"fitted time per byte {b:.3g} s < 0: set to 0, latency refitted alone")
        a, b = float(np.sum(k / t) / np.sum((k / t) ** 2)), 0.0
    return float(a), float(b), notes


def local_fits(slices: np.ndarray, nbytes: np.ndarray, times: np.ndarray
               ) -> Tuple[List[Tuple[int, float, float]], np.ndarray]:
    """fit_call over each distinct size and its neighbours on the size axis (three sizes, two
    at the ends): [(bytes, a, b)] in ascending size, and each size's relative residual under
    its own local model. Duplicate sizes (repeated rows) are averaged first."""
    sizes = np.unique(np.asarray(nbytes, np.int64))
    t = np.array([np.mean(np.asarray(times)[np.asarray(nbytes) == x]) for x in sizes])
    k = np.array([np.asarray(slices)[np.asarray(nbytes) == x][0] for x in sizes], np.float64)
    out: List[Tuple[int, float, float]] = []
    resid = []
    for i, size in enumerate(sizes):
        lo, hi = max(0, i - 1), min(len(sizes), i + 2)
        a, b, _ = fit_call(k[lo:hi], sizes[lo:hi], t[lo:hi])
        out.append((int(size), a, b))
        resid.append(abs(a * k[i] + b * size - t[i]) / t[i])
    return out, np.asarray(resid)


def _attr(f: h5py.File, name: str, default: Any = None) -> Any:
    v = f.attrs.get(name, default)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


BESIDE_COMPUTE = "+compute"  # the scope suffix of `scalebench allreduce --beside-compute` rows


def is_beside_compute_scope(scope: str) -> bool:
    """Whether a /sizes/scope value names rows measured beside a compute load (`all+compute`,
    `intra+compute`, `inter+compute`): not the collective alone, so never a plain figure."""
    return str(scope).endswith(BESIDE_COMPUTE)


def fit_allreduce_file(path: str) -> List[Fit]:
    """One Fit per scope of a completed `scalebench allreduce` file (docs/hdf5-layout.md,
    "Allreduce files"), scopes of one rank left out. Rows of scope `S+compute` (`--beside-
    compute`: the sweep while every rank computes beside it) are not a scope of their own:
    they are fitted the same way into the `S` fit's `beside`, with their /sizes/compute_rate
    (NaN, or no column, in files without them). `S+compute` rows without `S` rows come back as
    a Fit of scope `S+compute`, which no level takes (levels_from notes it). ValueError (one
    line) for a file that is not one, did not complete, or has fewer than two sizes in a
    scope."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: cannot be read as HDF5 ({e})") from None
    with f:
        if _attr(f, "format") != ALLREDUCE_FORMAT:
            raise ValueError(f"{path}: not a scalebench allreduce file (format attribute is "
                             f"{_attr(f, 'format')!r})")
        if _attr(f, "status") != "completed":
            raise ValueError(f"{path}: allreduce sweep status is {_attr(f, 'status')!r}, not "
                             f"'completed'")
        if "sizes" not in f or "scope" not in f["sizes"]:
            raise ValueError(f"{path}: no /sizes/scope (schema version 1 files are not read)")
        sizes = f["sizes"]
        scope = np.asarray(sizes["scope"].asstr()[()], dtype=object)
        group = np.asarray(sizes["group_size"][()], np.int64)
        nbytes = np.asarray(sizes["bytes"][()], np.int64)
        time_s = np.asarray(sizes["time_s"][()], np.float64)
        rate = (np.asarray(sizes["compute_rate"][()], np.float64) if "compute_rate" in sizes
                else np.full(nbytes.shape, np.nan))
        backend = str(_attr(f, "backend", "mpi"))
        chunk = chunk_bytes_of(_attr(f, "mpi_chunk_mb", 0.0), backend)
        elem = DTYPE_BYTES.get(str(_attr(f, "dtype", "float32")), 4)
        nodes = int(_attr(f, "nodes", 1))
        rpn = int(_attr(f, "ranks_per_node", 1))
        threads = _attr(f, "compute_threads")
        load = _attr(f, "compute_load")

    def fit_scope(name: str) -> Optional[Fit]:
        rows = (scope == name) & (nbytes > 0) & np.isfinite(time_s) & (time_s > 0)
        n = int(group[scope == name].max())
        if n <= 1:
            return None
        if len(np.unique(nbytes[rows])) < 2:
            raise ValueError(f"{path}: scope {name} has fewer than two message sizes with a "
                             f"positive time: latency and bandwidth cannot both be fitted")
        k = np.array([slice_count(int(b), chunk, elem) for b in nbytes[rows]], np.float64)
        a, b, notes = fit_call(k, nbytes[rows], time_s[rows])
        resid = np.abs((a * k + b * nbytes[rows] - time_s[rows]) / time_s[rows])
        local, local_resid = local_fits(k, nbytes[rows], time_s[rows])
        fit = Fit(path=path, scope=name, group_size=n, nodes=nodes, ranks_per_node=rpn,
                  a_s=a, b_s_per_byte=b, alpha=a / (2.0 * (n - 1)),
                  beta=b * n / (2.0 * (n - 1)), sizes=int(rows.sum()),
                  min_bytes=int(nbytes[rows].min()), max_bytes=int(nbytes[rows].max()),
                  median_rel_residual=float(np.median(resid)),
                  max_rel_residual=float(resid.max()), chunk_bytes=chunk, notes=notes,
                  local=local, local_median_rel_residual=float(np.median(local_resid)),
                  local_max_rel_residual=float(local_resid.max()),
                  backend=backend if backend in BACKENDS else "mpi")
        if is_beside_compute_scope(name):
            known = rows & np.isfinite(rate) & (rate > 0)
            fit.compute_rate = [(int(x), float(np.mean(rate[known & (nbytes == x)])))
                                for x in np.unique(nbytes[known])]
            if not fit.compute_rate:
                fit.notes.append("no finite compute_rate in its rows: the rows are not used "
                                 "(the compute load's rate beside the collective is unknown)")
            fit.compute_threads = int(threads) if isinstance(threads, (int, float)) else None
            fit.compute_load = str(load) if load is not None else None
        return fit

    names = list(dict.fromkeys(scope.tolist()))
    fits = []
    for name in names:
        if is_beside_compute_scope(name) and name[:-len(BESIDE_COMPUTE)] in names:
            continue  # fitted into its plain scope's fit below
        fit = fit_scope(name)
        if fit is None:
            continue
        if name + BESIDE_COMPUTE in names:
            fit.beside = fit_scope(name + BESIDE_COMPUTE)
        fits.append(fit)
    if not fits:
        raise ValueError(f"{path}: no scope with more than one rank to fit")
    return fits


def level_of_fit(fit: Fit) -> Optional[str]:
    """Which level a fitted scope measures: `intra` (the ranks of a node), `inter` (one rank
    per node: the network), `all` on one node (intra) or on one rank per node (inter); None
    for `all` across nodes of several ranks each, which mixes both levels."""
    if fit.scope == "intra":
        return "intra"
    if fit.scope == "inter":
        return "inter"
    if fit.scope == "all" and fit.nodes <= 1:
        return "intra"
    if fit.scope == "all" and fit.ranks_per_node <= 1:
        return "inter"
    return None


def levels_from(fits: Sequence[Fit]) -> Tuple[Dict[str, Fit], List[str]]:
    """{level: fit} of the fits, and notes on those not used. Two fits of one level:
    ValueError (which one to trust is the user's call)."""
    out: Dict[str, Fit] = {}
    notes: List[str] = []
    for fit in fits:
        level = level_of_fit(fit)
        if level is None and is_beside_compute_scope(fit.scope):
            notes.append(f"{fit.path}: scope {fit.scope} has no rows of scope "
                         f"{fit.scope[:-len(BESIDE_COMPUTE)]} (the collective alone) to go "
                         f"with: not used")
            continue
        if level is None:
            notes.append(f"{fit.path}: scope all across {fit.nodes} nodes of several ranks "
                         f"mixes both levels; not used (the intra and inter scopes are)")
            continue
        if level in out:
            raise ValueError(f"two fits of the {level} level: {out[level].path} scope "
                             f"{out[level].scope} and {fit.path} scope {fit.scope}; give one")
        out[level] = fit
    return out, notes
