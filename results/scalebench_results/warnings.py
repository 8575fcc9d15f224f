"""What makes a study's figures not what they seem: warnings the report prints under its table
and puts at the top of report.html.

Pure functions of runfile.RunData objects (their attributes and /ranks, already read by
load_run: nothing here opens a file), so that each check can be tested on its own:

- oversubscribed: on some host, ranks x compute threads per rank exceed the CPUs those ranks
  may run on (the union of their /ranks/cpu_affinity lists). Ranks then share cores, and the
  point's step time and efficiency measure the sharing, not the machine. CPU runs only, as the
  trainer's own warning: a CUDA rank's intra-op threads are mostly idle.
- reference-blas: LibTorch computed with the reference (netlib) BLAS, many times slower than an
  optimised one; CPU runs only, for the same reason.
- few-steps: fewer measured steps than the order-statistic interval of the median needs to
  reach its level (MIN_MEASURED_STEPS, 6 for 95%): such a run's interval is [min, max] with a
  coverage below the level (analysis.median_ci).
- mixed-builds: runs of the study made with different scalebench builds or library versions
  (tool_version/git_revision, version_*, BLAS, LAPACK, oneDNN): a difference between their
  points may be the build's.
- mixed-hosts: ranks of one run on different device models (/ranks/device_name: GPU model, or
  "cpu: " and the CPU model), or the runs of one scaling curve (an analysis group) on different
  ones: the slowest device sets every step's pace, and a curve then compares machines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from . import analysis

OVERSUBSCRIBED = "oversubscribed"
REFERENCE_BLAS = "reference-blas"
FEW_STEPS = "few-steps"
MIXED_BUILDS = "mixed-builds"
MIXED_HOSTS = "mixed-hosts"
KINDS = (OVERSUBSCRIBED, REFERENCE_BLAS, FEW_STEPS, MIXED_BUILDS, MIXED_HOSTS)

# Hosts (or file names) named in one warning before "and K more": a warning of a 512-host run
# must stay one readable line.
SHOWN = 3


def min_measured_steps(level: float = analysis.CI_LEVEL) -> int:
    """The fewest measured steps whose order-statistic interval of the median reaches `level`
    (the interval the report gives one run: analysis.median_ci_indices). 6 for 95%: with n
    steps the widest interval, [min, max], covers 1 - 2^(1-n), 96.9% at n = 6, 93.8% at 5."""
    n = 1
    while analysis.median_ci_indices(n, level)[2] < level:
        n += 1
    return n


MIN_MEASURED_STEPS = min_measured_steps()


@dataclass(frozen=True)
class ReportWarning:
    kind: str                  # one of KINDS
    message: str               # one line, in words
    runs: Tuple[str, ...] = ()  # file names of the runs it is about

    def text(self) -> str:
        return f"{self.kind}: {self.message}"


def _plural(n: int, word: str, plural: Optional[str] = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _some(names: Sequence[str], shown: int = SHOWN) -> str:
    """"a, b, c and 4 more": a bounded list of names."""
    names = list(names)
    head = ", ".join(names[:shown])
    return head + (f" and {len(names) - shown} more" if len(names) > shown else "")


def parse_cpu_list(text: str) -> Set[int]:
    """The kernel's cpulist format, as /ranks/cpu_affinity holds it: "0-3,8" -> {0, 1, 2, 3, 8}.
    ValueError on anything else ("unknown", "", a backwards range), as the trainer's
    parse_cpu_list (src/runtime/cpu_budget.cpp): a host's budget is never guessed."""
    cpus: Set[int] = set()
    for part in str(text).strip().split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ValueError(f"cpu list {text!r}: {part!r} is not a CPU number or range")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"cpu list {text!r}: range {part!r} runs backwards")
        cpus.update(range(lo, hi + 1))
    return cpus


@dataclass(frozen=True)
class HostLoad:
    host: str
    ranks: int                 # ranks on the host
    threads_per_rank: int      # compute (intra-op) threads each rank runs
    cpus: Optional[int]        # CPUs in the union of those ranks' affinity; None if unknown

    @property
    def load(self) -> Optional[float]:
        """Compute threads per CPU; None where the CPUs are unknown."""
        return self.ranks * self.threads_per_rank / self.cpus if self.cpus else None

    @property
    def oversubscribed(self) -> bool:
        return bool(self.cpus) and self.ranks * self.threads_per_rank > self.cpus


def _column(run: Any, name: str) -> List[str]:
    values = getattr(run, "ranks", {}).get(name)
    return [] if values is None else [str(v) for v in values]


def threads_per_rank(run: Any) -> int:
    """The compute threads of each rank: root attribute intra_op_threads (what LibTorch ran
    with, schema 3), else `threads` (the same figure, older files), else the config's."""
    for value in (run.attr("intra_op_threads"), run.attr("threads"),
                  getattr(run, "config", {}).get("threads")):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1:
            return int(value)
    return max(int(getattr(run, "threads", 0) or 0), 1)


def host_loads(run: Any) -> List[HostLoad]:
    """One entry per host of the run, in order of first appearance (/ranks/hostname and
    cpu_affinity per world rank): its ranks, their threads and the CPUs they may run on."""
    hosts = _column(run, "hostname")
    affinity = _column(run, "cpu_affinity")
    threads = threads_per_rank(run)
    order: Dict[str, List[int]] = {}
    for r, host in enumerate(hosts):
        order.setdefault(host, []).append(r)
    loads = []
    for host, ranks in order.items():
        cpus: Optional[Set[int]] = set()
        for r in ranks:
            try:
                cpus |= parse_cpu_list(affinity[r])
            except (ValueError, IndexError):
                cpus = None  # one rank's CPUs unknown: the host's budget is unknown
                break
        loads.append(HostLoad(host, len(ranks), threads, None if cpus is None else len(cpus)))
    return loads


def _who(run: Any, labels: Optional[Mapping[str, str]]) -> str:
    """"cpu-t1-np4 (mlp-np4.h5)", or the file name alone where the run has no label."""
    label = (labels or {}).get(run.path)
    return f"{label} ({run.name})" if label else run.name


def oversubscription(run: Any, labels: Optional[Mapping[str, str]] = None) -> List[ReportWarning]:
    if run.device != "cpu":
        return []
    over = sorted((h for h in host_loads(run) if h.oversubscribed), key=lambda h: -h.load)
    if not over:
        return []
    parts = [f"{_plural(h.ranks, 'rank')} x {_plural(h.threads_per_rank, 'thread')} on "
             f"{_plural(h.cpus, 'CPU')} of host {h.host}" for h in over[:SHOWN]]
    more = f" (and {len(over) - SHOWN} more hosts)" if len(over) > SHOWN else ""
    return [ReportWarning(
        OVERSUBSCRIBED,
        f"{_who(run, labels)}: {'; '.join(parts)}{more}: oversubscribed, efficiency at this "
        f"point is not the machine's (ranks share cores; use ranks x threads <= CPUs per host)",
        (run.name,))]


def is_reference_blas(run: Any) -> bool:
    """Whether the file says LibTorch ran on the reference (netlib) BLAS: the `blas`
    attribute the trainer writes ("reference BLAS (netlib)"), or, where it is absent, the
    library path of Debian's reference alternative (.../blas/libblas.so.3)."""
    blas = run.attr("blas")
    if isinstance(blas, str) and blas:
        text = blas.lower()
        return "reference" in text or "netlib" in text
    path = run.attr("blas_library")
    return isinstance(path, str) and re.search(r"/blas/libblas\.so", path) is not None


def reference_blas(run: Any, labels: Optional[Mapping[str, str]] = None) -> List[ReportWarning]:
    if run.device != "cpu" or not is_reference_blas(run):
        return []
    library = run.attr("blas_library") or "?"
    return [ReportWarning(
        REFERENCE_BLAS,
        f"{_who(run, labels)}: computed with the reference (netlib) BLAS ({library}): CPU "
        f"matrix products run many times slower than with an optimised BLAS (OpenBLAS, BLIS), "
        f"so its figures are not the machine's", (run.name,))]


def measured_steps_of(run: Any, summary: Optional[Mapping[str, Any]] = None) -> Optional[int]:
    """Measured (non-warm-up) steps: the report's own count (analysis' measured_steps) where
    given, else the writer's summary_measured_steps, else steps - warmup_steps; None if the
    file says none of them."""
    candidates = [(summary or {}).get("measured_steps"), run.attr("summary_measured_steps")]
    steps, warm = run.attr("steps"), run.attr("warmup_steps")
    if isinstance(steps, int) and isinstance(warm, int):
        candidates.append(steps - warm)
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def few_steps(run: Any, summary: Optional[Mapping[str, Any]] = None,
              labels: Optional[Mapping[str, str]] = None) -> List[ReportWarning]:
    n = measured_steps_of(run, summary)
    if n is None or n >= MIN_MEASURED_STEPS:
        return []
    level = analysis.CI_LEVEL * 100
    if n < 1:
        detail = "no interval at all"
    else:
        coverage = analysis.median_ci_indices(n)[2] * 100
        detail = f"its interval is [min, max] with {coverage:.1f}% coverage"
    return [ReportWarning(
        FEW_STEPS,
        f"{_who(run, labels)}: {_plural(n, 'measured step')}, fewer than the "
        f"{MIN_MEASURED_STEPS} a {level:g}% order-statistic interval of the median step time "
        f"needs: {detail} (run more --steps)", (run.name,))]


def build_of(run: Any) -> Dict[str, str]:
    """The build and library identity of a run, as "what" -> value: the scalebench build
    (tool_version and git_revision, else version_scalebench), every other version_<library>
    attribute, and the math libraries (blas, lapack, onednn). Only what the file records."""
    out: Dict[str, str] = {}
    version, git = run.attr("tool_version"), run.attr("git_revision")
    if version is not None or git is not None:
        out["scalebench"] = f"{version if version is not None else '?'} (git {git or '?'})"
    elif run.attr("version_scalebench") is not None:
        out["scalebench"] = str(run.attr("version_scalebench"))
    for key in sorted(k for k in getattr(run, "attrs", {}) if k.startswith("version_")):
        if key != "version_scalebench":
            out[key[len("version_"):]] = str(run.attr(key))
    for key in ("blas", "lapack", "onednn"):
        if run.attr(key) is not None:
            out[key] = str(run.attr(key))
    return out


def mixed_builds(runs: Sequence[Any]) -> List[ReportWarning]:
    """One warning per build item on which the runs differ. A run whose file does not record
    the item (an older schema) is left out of that comparison: absent is not different."""
    builds = [(run, build_of(run)) for run in runs]
    items = list(dict.fromkeys(k for _, b in builds for k in b))
    out = []
    for item in items:
        by_value: Dict[str, List[str]] = {}
        for run, b in builds:
            if item in b:
                by_value.setdefault(b[item], []).append(run.name)
        if len(by_value) < 2:
            continue
        values = "; ".join(f"{value!r} in {_plural(len(names), 'run')} ({_some(names)})"
                           for value, names in sorted(by_value.items(), key=lambda kv: -len(kv[1])))
        out.append(ReportWarning(
            MIXED_BUILDS,
            f"runs made with different {item} builds or versions: {values}: differences "
            f"between their points may be the build's, not the scaling's",
            tuple(n for names in by_value.values() for n in names)))
    return out


def devices_by_host(run: Any) -> Dict[str, List[str]]:
    """Device model (/ranks/device_name) -> the hosts whose ranks ran on it, in rank order."""
    hosts = _column(run, "hostname")
    out: Dict[str, List[str]] = {}
    for r, name in enumerate(_column(run, "device_name")):
        host = hosts[r] if r < len(hosts) else f"rank {r}"
        if host not in out.setdefault(name, []):
            out[name].append(host)
    return out


def mixed_devices_in_run(run: Any, labels: Optional[Mapping[str, str]] = None
                         ) -> List[ReportWarning]:
    devices = devices_by_host(run)
    if len(devices) < 2:
        return []
    parts = "; ".join(f"{name!r} on {_some(hosts)}" for name, hosts in devices.items())
    return [ReportWarning(
        MIXED_HOSTS,
        f"{_who(run, labels)}: ranks ran on different devices: {parts}: the slowest sets every "
        f"step's pace", (run.name,))]


def mixed_devices_in_groups(groups: Iterable[Any]) -> List[ReportWarning]:
    """Per scaling curve (analysis.Group): its runs on different device models. GPU models
    already split groups (analysis.variant_of); CPU models do not, so a study whose rank
    counts ran on different CPUs would draw them as one machine's curve."""
    out = []
    for g in groups:
        by_device: Dict[str, List[str]] = {}
        runs = [r for key in g.point_keys() for r in g.runs_by_point[key]]
        for run in runs:
            for name in devices_by_host(run):
                by_device.setdefault(name, []).append(run.name)
        if len(by_device) < 2:
            continue
        parts = "; ".join(f"{name!r} in {_plural(len(names), 'run')} ({_some(names)})"
                          for name, names in by_device.items())
        out.append(ReportWarning(
            MIXED_HOSTS,
            f"curve {g.label}: its runs ran on different devices: {parts}: its speedup and "
            f"efficiency compare machines, not rank counts",
            tuple(dict.fromkeys(r.name for r in runs))))
    return out


def study_warnings(runs: Sequence[Any],
                   summaries: Optional[Mapping[str, Mapping[str, Any]]] = None,
                   groups: Optional[Sequence[Any]] = None) -> List[ReportWarning]:
    """Every warning of a study, per run first (in the runs' order), then across runs.
    summaries: run path -> analysis.analyze_run row (its measured_steps); groups:
    analysis.group_runs(runs), computed here when not given."""
    runs = list(runs)
    if groups is None:
        groups = analysis.group_runs(runs) if runs else []
    labels = {path: point for path, (_, point) in analysis.run_labels(list(groups)).items()}
    out: List[ReportWarning] = []
    for run in runs:
        out += oversubscription(run, labels)
        out += reference_blas(run, labels)
        out += few_steps(run, (summaries or {}).get(run.path), labels)
        out += mixed_devices_in_run(run, labels)
    out += mixed_builds(runs)
    out += mixed_devices_in_groups(groups)
    return out


def warning_lines(warnings: Sequence[ReportWarning]) -> List[str]:
    """The terminal's block: a heading and one line per warning; nothing without warnings."""
    if not warnings:
        return []
    return ([f"warnings ({len(warnings)}): figures that are not what they seem"]
            + [f"  ! {w.text()}" for w in warnings] + [""])
