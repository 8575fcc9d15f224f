"""results/report: tables and plots of a scaling study (a directory of scalebench run files)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import urllib.parse
from typing import Any, Dict, List, Optional, Sequence

from . import analysis
from . import reportpredict
from . import warnings as report_warnings
from .runfile import MATH_ATTRS, IncompleteRun, RunFileError, find_run_files, load_run

PROG = "report"
EXIT_BAD_INPUT = 2
FORMATS = ("png", "svg", "pdf")

EXAMPLES = """\
examples:
  results/report runs/study                  # tables, plots and report.html into runs/study
  results/report runs/study --out /tmp/r --format svg --no-html
  results/report a.h5 b.h5 --baseline cpu-t1 --price cpu-t8=0.40

"""

DESCRIPTION = """\
Summarise a scaling study: every scalebench run file (*.h5, *.hdf5) under STUDY_DIR, or the
files given, into summary.csv, summary.json, plots, report.html and a table on stdout.

report.html (unless --no-html) is one self-contained page: the plots as inline SVG, the summary
tables, each run's metadata (model, device, layout and hosts, scalebench build and library
versions, BLAS, launch) and the warnings below, with a link to each run's timeline
(timelines/<run>.trace.json, a Chrome trace) where scalebench_results.timeline is installed.

Warnings (after the table, and at the top of report.html): a host oversubscribed (its ranks x
threads per rank above the CPUs in the union of their cpu_affinity; CPU runs), the reference
(netlib) BLAS (CPU runs), a run with fewer than {min_steps} measured steps (the fewest with
which the order-statistic interval of the median reaches 95%), runs of the study built from
different scalebench builds or library versions, ranks of a run or runs of one curve on
different device models.

Runs are grouped by model, scaling mode, device and threads (and split further where dataset,
backend, overlap, bucket size or the fixed batch differ); runs of a group with the same number
of ranks N on the same number of nodes are repeats and are pooled. Warm-up steps are excluded;
a step's time is that of its slowest rank (step_s: the phases' span); throughput is samples
over the median wall time per step (wall_s: step start to next step start, schema version 3;
step_s for older files). The median step time of one run has an order-statistic 95%
confidence interval over its steps (ignoring run-to-run variance); with repeats, a t-interval
over the repeats' medians; speedup and efficiency carry intervals from their two points'.
Incomplete runs (.partial files, status other than completed) are listed on stderr and
skipped. Files are read in slices along the step axis, so memory stays bounded
however many steps a run has (see scalebench_results/analysis.py).

Files written with --record-ranks stats or sample:K hold only some ranks' columns: the step
time, throughput, phases, communication concurrency and memory peaks still come from every rank
(/rank_stats); per-rank medians, imbalance, the slowest rank and the bandwidth come from the
recorded ranks (summary.json: rank_figures_from, recorded_ranks; table: * after a sampled
imbalance, - where rank 0 alone was recorded).

A multi-node study (e.g. STUDY/nodes-1, nodes-2, ... from slurm/study-nodes.sh) is one group
per configuration: its curves are drawn against nodes (ranks in the tick labels), speedup is
over the fewest nodes, and the tables give nodes, ranks per node, hosts and whether the
allreduces crossed nodes. Groups all on one node are drawn against ranks N.

Bus bandwidth: per bucket and measured step the collective's time is the fastest recorded
rank's allreduce duration (the last rank to arrive times the collective itself); algbw =
bytes / median of that, busbw = algbw * 2(n-1)/n; the arrival skew (max - min of the ranks'
durations) is given beside it. Where a configuration has a --no-overlap twin, the report
gives what overlap saved: the difference of the median step times, with an interval.
"""

EPILOG = """\
labels: each group has a hardware label such as cpu-t8 or cuda-t4 (device and threads per
rank), each of its points a label such as cpu-t8-np4, or cpu-t8-nodes2-np8 on 2 nodes.
--baseline takes either (a hardware label means its smallest N); default: the cpu point with
the fewest threads, then ranks.
--price cpu-t8-np4=3.20 is the hourly price of that whole run; --price cpu-t8=0.40 is per
rank and is multiplied by N. Cost per epoch = epoch samples / throughput / 3600 * price,
with epoch samples = steps_per_epoch * global_batch from the file; cost per 1e6 samples is
always given.

exit status: 0 ok; 2 bad input (no run files, unreadable or foreign file, bad option).
"""


class InputError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """--help starts with example command lines; error messages keep the plain usage."""

    def format_help(self) -> str:
        return EXAMPLES + super().format_help()


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = _Parser(prog=PROG, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                description=DESCRIPTION.replace(
                    "{min_steps}", str(report_warnings.MIN_MEASURED_STEPS)))
    p.add_argument("paths", nargs="+", metavar="STUDY_DIR|FILE.h5",
                   help="a study directory (searched recursively) or run files")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: the study directory, or the directory "
                        "holding the files)")
    p.add_argument("--baseline", metavar="LABEL",
                   help="baseline of the hardware comparison (see labels below)")
    p.add_argument("--price", metavar="LABEL=USD_PER_HOUR", action="append", default=[],
                   help="hourly price of a hardware or point label; repeatable")
    p.add_argument("--format", default="png,svg",
                   help="plot formats, comma separated, of png, svg, pdf (default: png,svg)")
    p.add_argument("--no-plots", action="store_true", help="write only the tables")
    html = p.add_mutually_exclusive_group()
    html.add_argument("--html", dest="html", action="store_true", default=True,
                      help="write report.html (the default)")
    html.add_argument("--no-html", dest="html", action="store_false",
                      help="do not write report.html (nor the timelines)")
    p.add_argument("--no-timelines", action="store_true",
                   help="report.html without the runs' timeline files")
    p.add_argument("--no-predict", action="store_true",
                   help="no predicted curve (results/predict from each group's smallest run "
                        "and the study's `scalebench allreduce` files; docs/prediction.md)")
    return p.parse_args(argv)


def _default_out(paths: Sequence[str]) -> str:
    if len(paths) == 1 and os.path.isdir(paths[0]):
        return paths[0]
    dirs = [p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in paths]
    return os.path.commonpath([os.path.abspath(d) for d in dirs])


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


CSV_COLUMNS = (
    "kind", "label", "group", "file", "model", "mode", "device", "device_name", "threads",
    "world_size", "nodes", "ranks_per_node", "hosts", "crosses_nodes", "buckets_crossing_nodes",
    "x_axis", "baseline_nodes", "repeats", "measured_steps", "median_step_s", "step_ci_low_s",
    "step_ci_high_s", "step_ci_coverage", "global_samples_per_step", "throughput_samples_per_s",
    "throughput_ci_low", "throughput_ci_high", "throughput_time_source", "median_wall_s",
    "wall_ci_low_s", "wall_ci_high_s", "step_ci_method", "pooled_step_ci_low_s",
    "pooled_step_ci_high_s", "speedup", "speedup_ci_low", "speedup_ci_high", "efficiency",
    "efficiency_ci_low", "efficiency_ci_high", "step_time_ratio", "step_time_ratio_ci_low",
    "step_time_ratio_ci_high", "median_buffer_sync_s", "median_data_s", "median_forward_s",
    "median_backward_s", "median_comm_exposed_s", "median_optimizer_s", "median_compute_s",
    "median_control_s", "median_other_s", "median_unaccounted_s", "exposed_comm_share",
    "comm_concurrent_share", "median_gradient_bytes", "median_buffer_sync_bytes",
    "median_comm_bytes", "schema_version", "peak_rss_bytes", "peak_rss_bytes_per_rank",
    "peak_device_allocated_bytes",
    "peak_device_reserved_bytes", "imbalance", "slowest_rank", "busy_imbalance",
    "busy_slowest_rank", "rank_median_step_s", "recorded_ranks", "record_ranks",
    "rank_figures_from", "most_often_slowest_rank", "most_often_slowest_share",
    "median_rank_spread", "busbw_factor", "busbw_peak_bytes_per_s",
    "busbw_peak_message_bytes", "epoch_samples", "baseline_label", "speedup_vs_baseline",
    "price_usd_per_hour", "price_basis", "cost_per_epoch_usd", "cost_per_1e6_samples_usd",
    *MATH_ATTRS, "files", "predicted_step_s", "predicted_step_s_p10", "predicted_step_s_p90",
    "predicted_step_error", "predicted_throughput_samples_per_s", "predicted_speedup",
    "predicted_efficiency",
)


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"  # as booleans are in the run files
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    if isinstance(v, (list, tuple)):
        return ";".join(_csv_value(x) for x in v)
    return str(v)


def write_csv(path: str, runs: List[Dict[str, Any]], groups: List[Dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for kind, rows in (("group", [p for g in groups for p in g["points"]]), ("run", runs)):
            for row in rows:
                math_attrs = row.get("math") or {}  # a run's math libraries (schema 3)
                w.writerow([kind if c == "kind" else _csv_value(row.get(c, math_attrs.get(c)))
                            for c in CSV_COLUMNS])


def _fmt(v: Optional[float], spec: str, none: str = "-") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        width = re.match(r"\d*", spec).group()
        return format(none, ">" + width)
    return format(v, spec)


def _out_of_memory_record(path: str) -> Optional[Dict[str, Any]]:
    """What an `oom` run file says about where memory ran out, or None for any other file."""
    try:
        run = load_run(path, allow_incomplete=True)
    except (RunFileError, IncompleteRun, OSError, KeyError, ValueError):
        return None
    if run.status != "oom":
        return None
    return {"path": path, "model": run.model, "world_size": run.world_size,
            "batch_per_rank": run.attr("oom_batch_per_rank"), "step": run.attr("oom_step"),
            "ranks": run.attr("oom_ranks"), "peak_rss_bytes": run.attr("oom_peak_rss_bytes"),
            "device_peak_allocated_bytes": run.attr("oom_device_peak_allocated_bytes")}


def _shows_nodes(g: Dict[str, Any]) -> bool:
    """Whether a group needs the node columns: some point on several nodes or crossing them.
    A group all on one node keeps the table it always had."""
    return any(p.get("nodes", 1) > 1 or p.get("crosses_nodes") for p in g["points"])


def _node_cells(p: Dict[str, Any]) -> str:
    return (f"{p['nodes']:>5} {p['ranks_per_node']:>6} "
            f"{'yes' if p['crosses_nodes'] else 'no':>6} ")


def _group_heading(g: Dict[str, Any]) -> str:
    if g.get("x_axis") == "nodes":
        nodes = g["baseline_nodes"]
        return (f"{g['group']}  (against nodes; speedup over {nodes} node{'s' * (nodes != 1)}, "
                f"N={g['baseline_world_size']})")
    return f"{g['group']}  (speedup over N={g['baseline_world_size']})"


def _imbalance_cell(p: Dict[str, Any]) -> str:
    """"+3.1% (r5)" over every rank; "+3.1% (r5)*" over a sample of the ranks; "-" where the
    recorded ranks tell none (stats mode, or pooled repeats that recorded different ranks)."""
    if p.get("imbalance") is None or p.get("slowest_rank") is None:
        return "-"
    sampled = "*" if p.get("rank_figures_from") not in (None, "all") else ""
    return f"{(p['imbalance'] - 1) * 100:+.1f}% (r{p['slowest_rank']}){sampled}"


def _wall_cell(p: Dict[str, Any]) -> str:
    """The median wall time per step (ms) that throughput comes from; "-" without wall_s."""
    return _fmt(p["median_wall_s"] * 1e3 if p.get("median_wall_s") is not None else None,
                "9.2f")


def _throughput_cell(p: Dict[str, Any]) -> str:
    """samples/s, marked ^ where it comes from step_s (files without wall_s)."""
    mark = "^" if p.get("throughput_time_source") == "step_s" else " "
    return _fmt(p["throughput_samples_per_s"], "11.1f") + mark


def bandwidth_lines(groups: List[Dict[str, Any]]) -> List[str]:
    """The bandwidth table: per point with buckets, per message size the busbw (collective
    time = fastest recorded rank) and the arrival skew beside it."""
    rows = [(g, p) for g in groups for p in g["points"] if p.get("allreduce_bandwidth")]
    if not rows:
        return []
    lines = ["allreduce bandwidth (per bucket and step the collective time is the fastest "
             "recorded rank's duration; busbw = bytes / median of it * 2(n-1)/n; skew = "
             "median max - min of the ranks' durations)",
             f"  {'group':<28} {'point':<22} {'MiB':>9} {'busbw GB/s':>11} "
             f"{'coll. ms':>9} {'skew ms':>9}"]
    bounded = False
    for g, p in rows:
        mark = ""
        if p.get("bandwidth_note"):
            mark, bounded = "*", True
        for e in p["allreduce_bandwidth"]:
            skew = e.get("median_arrival_skew_s")
            lines.append(
                f"  {g['group']:<28} {p['label'] + mark:<22} {e['bytes'] / analysis.MIB:9.2f} "
                f"{e['busbw_bytes_per_s'] / 1e9:11.3f} {e['median_duration_s'] * 1e3:9.3f} "
                f"{_fmt(skew * 1e3 if skew is not None else None, '9.3f')}")
    if bounded:
        lines.append("  * ranks sampled (--record-ranks stats|sample:K): the collective time is "
                     "the fastest RECORDED rank's, an upper bound (busbw a lower bound)")
    return lines + [""]


def overlap_lines(savings: List[Dict[str, Any]]) -> List[str]:
    """What overlap saved, per configuration with a --no-overlap twin."""
    if not savings:
        return []
    lines = ["what overlap saved (no-overlap twin's median step time minus the overlap one; "
             "intervals from the two 95% intervals' endpoints)",
             f"  {'group':<28} {'point':<18} {'step ms':>9} {'no-overlap':>10} "
             f"{'saved ms [interval]':<27} {'throughput x [interval]':<24} {'concurrent':>10}"]
    for e in savings:
        saved = (f"{e['step_saved_s'] * 1e3:.2f} [{e['step_saved_ci_low_s'] * 1e3:.2f}, "
                 f"{e['step_saved_ci_high_s'] * 1e3:.2f}]")
        ratio = (f"{_fmt(e['throughput_ratio'], '.3f')} "
                 f"[{_fmt(e['throughput_ratio_ci_low'], '.3f')}, "
                 f"{_fmt(e['throughput_ratio_ci_high'], '.3f')}]")
        share = e.get("comm_concurrent_share")
        share_cell = f"{share * 100:9.1f}%" if share is not None else f"{'-':>10}"
        lines.append(f"  {e['group']:<28} {e['label']:<18} {e['median_step_s'] * 1e3:9.2f} "
                     f"{e['median_step_s_no_overlap'] * 1e3:10.2f} {saved:<27} {ratio:<24} "
                     f"{share_cell}")
    lines.append("  concurrent: comm_concurrent_share, the share of bucket communication time "
                 "that ran while compute did (not what it saved)")
    return lines + [""]


def _ms(v: Optional[float]) -> Optional[float]:
    return None if v is None else v * 1e3


def text_table(groups: List[Dict[str, Any]], comparisons: List[Dict[str, Any]],
               savings: Optional[List[Dict[str, Any]]] = None) -> str:
    lines: List[str] = []
    head = (f"{'N':>4}  {'median step ms [95% CI]':<27} {'wall ms':>9} {'samples/s':>11}  "
            f"{'speedup':>8} {'effic.':>7} {'exp.comm':>8} {'peak RSS MiB':>13} "
            f"{'imbalance':>15}")
    node_head = f"{'nodes':>5} {'r/node':>6} {'x-node':>6} "
    pred_head = f"  {'predicted ms':>12} {'error':>8}"
    for g in groups:
        nodes = _shows_nodes(g)
        curve = reportpredict.has_curve(g)
        lines.append(_group_heading(g))
        lines.append((node_head if nodes else "") + head + (pred_head if curve else ""))
        for p in g["points"]:
            step = (f"{p['median_step_s'] * 1e3:.2f} [{p['step_ci_low_s'] * 1e3:.2f}, "
                    f"{p['step_ci_high_s'] * 1e3:.2f}]")
            imb = _imbalance_cell(p)
            reps = f"  x{p['repeats']}" if p["repeats"] > 1 else ""
            lines.append(
                (_node_cells(p) if nodes else "") +
                f"{p['world_size']:>4}  {step:<27} {_wall_cell(p)} {_throughput_cell(p)} "
                f"{_fmt(p['speedup'], '8.2f')} {_fmt(p['efficiency'] * 100, '6.1f')}% "
                f"{_fmt(p['exposed_comm_share'] * 100, '7.1f')}% "
                f"{p['peak_rss_bytes'] / analysis.MIB:13.1f} {imb:>15}"
                + (f"  {_fmt(_ms(p.get('predicted_step_s')), '12.2f')} "
                   f"{reportpredict.error_cell(p):>8}" if curve else "") + reps)
        lines.append("")
    reasons = reportpredict.reason_lines(groups)
    if reasons:
        lines += reasons
        if any(reportpredict.has_curve(g) for g in groups):
            lines.append("predicted ms: results/predict's median step time at the point; "
                         "error: predicted / measured median step time - 1 (the profile "
                         "point is the prediction's own input)")
        lines.append("")
    points = [p for g in groups for p in g["points"]]
    lines.append("step: max over ranks of step_s (the phases' span); wall: of wall_s (step "
                 "start to next step start), which samples/s comes from")
    if any(p.get("throughput_time_source") == "step_s" for p in points):
        lines.append("samples/s ^: from step_s, the file has no wall_s (schema version 1-2)")
    if any(p["repeats"] > 1 for p in points):
        lines.append("xR: R repeats; their CI is a t-interval over the repeats' medians "
                     "(between-run variance); one run's CI is over its steps only")
    lines.append("")
    if any(p.get("rank_figures_from") not in (None, "all") or p.get("imbalance") is None
           for p in points if p["world_size"] > 1):
        lines.append("imbalance: * over the recorded ranks only (--record-ranks sample:K); - "
                     "not known from the recorded ranks (stats mode, or repeats that recorded "
                     "different ranks)")
        lines.append("")
    lines += bandwidth_lines(groups)
    lines += overlap_lines(savings or [])
    for c in comparisons:
        lines.append(f"hardware comparison: {c['model']} {c['mode']}, baseline {c['baseline_label']}")
        lines.append(f"  {'label':<28} {'samples/s':>11} {'vs base':>8} {'USD/h':>8} "
                     f"{'USD/epoch':>10} {'USD/1e6 samples':>16}")
        for e in c["entries"]:
            lines.append(
                f"  {e['label']:<28} {_fmt(e['throughput_samples_per_s'], '11.1f')} "
                f"{_fmt(e['speedup_vs_baseline'], '7.2f')}x {_fmt(e['price_usd_per_hour'], '8.2f')} "
                f"{_fmt(e['cost_per_epoch_usd'], '10.4f')} "
                f"{_fmt(e['cost_per_1e6_samples_usd'], '16.4f')}")
        if any(e["price_usd_per_hour"] is not None and e["cost_per_epoch_usd"] is None
               for e in c["entries"]):
            lines.append("  (epoch size not recorded for some runs: use the cost per 1e6 samples)")
        lines.append("")
    priced = [p for g in groups for p in g["points"] if p.get("price_usd_per_hour") is not None]
    if priced and not comparisons:
        lines.append("cost")
        for p in priced:
            epoch = (f"{p['cost_per_epoch_usd']:.4f} USD/epoch" if p["cost_per_epoch_usd"]
                     is not None else "epoch size not recorded")
            lines.append(f"  {p['label']:<28} {epoch}, "
                         f"{p['cost_per_1e6_samples_usd']:.4f} USD per 1e6 samples")
        lines.append("")
    return "\n".join(lines)


def run_report(args: argparse.Namespace) -> int:
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(f"bad --format {args.format!r}: choose from {', '.join(FORMATS)}")
    prices: Dict[str, float] = {}
    for text in args.price:
        label, price = analysis.parse_price(text)
        prices[label] = price

    for p in args.paths:
        if not os.path.exists(p):
            raise InputError(f"{p}: no such file or directory")
    files = find_run_files(args.paths)
    if not files:
        raise InputError(f"no run files (*.h5, *.hdf5, or their .partial) in "
                         f"{', '.join(args.paths)}")

    runs, summaries, skipped, out_of_memory = [], {}, [], []
    allreduce_files: List[str] = []
    for path in files:
        if reportpredict.is_allreduce_file(path):
            allreduce_files.append(path)  # a bandwidth sweep: the prediction's levels
            continue
        try:
            run = load_run(path)
            mode = str(run.attr("mode", "train"))
            if mode != "train":
                # find_max_batch and infer files are results of their own, not scaling points.
                skipped.append({"path": path, "reason": f"{path}: mode {mode}, not a training run"})
                continue
            summaries[path] = analysis.analyze_run(run)
            runs.append(run)
        except IncompleteRun as e:
            skipped.append({"path": path, "reason": str(e)})
            oom = _out_of_memory_record(path)
            if oom:
                out_of_memory.append(oom)
        except analysis.UnusableRun as e:
            skipped.append({"path": path, "reason": f"{path}: {e}"})
    for s in skipped:
        print(f"{PROG}: skipped {s['reason']}", file=sys.stderr)
    if allreduce_files:
        print(f"{PROG}: {len(allreduce_files)} `scalebench allreduce` file(s) in the inputs: "
              f"not scaling points" + ("" if args.no_predict else ", levels of the predicted "
                                       "curve"), file=sys.stderr)
    for o in out_of_memory:
        # The hardware studies counted a batch that does not fit as a result: say so, per run.
        print(f"out of memory: {o['model']} on {o['world_size']} rank(s), batch {o['batch_per_rank']}/rank, "
              f"at step {o['step']} on rank(s) {o['ranks']} ({o['path']})")
    if not runs:
        raise InputError(f"no completed runs to report ({len(skipped)} skipped)")

    groups = analysis.group_runs(runs)
    labels = analysis.run_labels(groups)
    run_rows = []
    for run in runs:
        row = summaries[run.path]
        row["group"], row["label"] = labels[run.path]
        run_rows.append(row)
    group_rows = analysis.analyze_groups(groups)
    if not args.no_predict:
        reportpredict.predict_groups(group_rows, groups, allreduce_files)
    comparisons = analysis.compare_hardware(group_rows, args.baseline, prices)
    savings = analysis.overlap_savings(group_rows)

    out = args.out or _default_out(args.paths)
    os.makedirs(out, exist_ok=True)
    doc = {
        "tool": "scalebench_results",
        "definitions": {
            "step_time": "max over ranks of step_s per step (the span of the phases), warm-up "
                         "steps excluded",
            "wall_time": "max over ranks of wall_s per step (start of a step to the start of "
                         "the next: phases + control_s + other_s); schema version 3 files only",
            "throughput": "median over steps of the global samples / median wall time "
                          "(throughput_time_source wall_s); files without wall_s (schema 1-2, "
                          "or repeats of which one is) use the median step time "
                          "(throughput_time_source step_s, throughput_time_note)",
            "ci": analysis.CI_METHOD + " over the measured steps for one run (it ignores "
                  "run-to-run variance); with >= 2 repeats " + analysis.REPEAT_CI_METHOD
                  + " (mean -+ t_0.975,r-1 s/sqrt(r), widened to hold the pooled median; 95% "
                  "for independent repeats with roughly normal medians), step_ci_method says "
                  "which; pooled_step_ci_* is the order-statistic interval over the pooled "
                  "steps. The wall time's interval likewise; throughput's is the inverted "
                  "interval of its time",
            "speedup_ci": "ratio_interval of the point's and the baseline's throughput "
                          "intervals: [lo / base_hi, hi / base_lo], holding the ratio whenever "
                          "both intervals hold (>= 0.9025 for independent 95% intervals); "
                          "efficiency's scaled by N_base / N, step_time_ratio's from the step "
                          "intervals; [1, 1] at the baseline",
            "phases": "per step averaged over ranks, then median over steps: buffer_sync "
                      "(schema 3; inside forward before), data, forward, backward, "
                      "comm_exposed, optimizer (the step); control and other (schema 3: "
                      "outside the step, within the wall time; control_s where the file has "
                      "it); median_unaccounted_s = median step time minus the phases' "
                      "medians, >= 0 (gaps and the medians' non-additivity; the old "
                      "median_other_s), median_other_s = the median of other_s",
            "comm_bytes": "per rank and step, averaged over ranks, median over steps: "
                          "median_gradient_bytes (bytes_reduced), median_buffer_sync_bytes, "
                          "median_comm_bytes (their sum; gradient bytes alone without "
                          "buffer_sync_bytes)",
            "exposed_comm_share": "median comm_exposed_s / median step time",
            "comm_concurrent_share": "1 - total comm_exposed_s / total comm_busy_s: the share "
                                     "of bucket communication time that ran concurrently with "
                                     "compute (formerly comm_overlap); it says nothing of what "
                                     "overlap saved, which overlap_savings gives",
            "overlap_savings": "per point with a --no-overlap twin (same group key but root "
                               "attribute overlap 0): no-overlap median step time minus the "
                               "overlap one, and the throughput ratio, with "
                               + analysis.OVERLAP_INTERVAL_NOTE,
            "imbalance": "slowest rank's median step_s / median over ranks of per-rank medians",
            "busbw": "per bucket and measured step the collective time is the fastest "
                     "recorded rank's duration (min over ranks: the last to arrive times the "
                     "collective itself); per message size algbw = bytes / median of those "
                     "over the steps and buckets of that size, busbw = algbw * 2(n-1)/n; "
                     "median_arrival_skew_s = median of max - min of the ranks' durations. In "
                     "stats and sample:K files over the recorded ranks only: the collective "
                     "time an upper bound, the skew a lower bound (bandwidth_note). Over the "
                     "recorded bucket rows only (--record-buckets every:K: steps s % K == 0, "
                     "/buckets/step); bench/busbw_compare.py uses the same function",
            "large_runs": "files are read in slices along the step axis; beyond 2^20 "
                          "rank-steps (per-rank medians) or 2^21 bucket durations (bucket "
                          "medians) the medians are bracketed by log-bucket sketches and made "
                          "exact by reading the datasets again (rank_medians_exact, "
                          "bucket_durations_exact false where a sketch estimate remains: "
                          "within 0.025% and 0.01%)",
            "speedup": "throughput / throughput of the group's first point (fewest nodes on a "
                       "nodes axis, else smallest N); efficiency = speedup * N_base / N, N ranks",
            "x_axis": "nodes where a group's points differ in node count, one point per node "
                      "count; else ranks N",
            "crosses_nodes": "some bucket's /buckets/spans_nodes is 1; without that dataset, "
                             "nodes > 1",
            "hosts": "distinct /ranks/hostname values, in rank order",
            "math": "per run, the file's root attributes on the math libraries and settings "
                    "(schema 3: blas, lapack and their libraries, onednn, thread counts, TF32 "
                    "and cuDNN flags, autocast); informational, also summary.csv columns",
            "units": "seconds, bytes, samples, bytes/s; shares and ratios as fractions",
            "prediction": "per group (unless --no-predict): results/predict's prediction "
                          "(scalebench_results/predict.py, run in the report) from the "
                          "group's runs and the study's scalebench allreduce file of most "
                          "ranks on the group's device; status predicted or not predicted "
                          "with a one-line reason. Per point predicted_step_s (median, p10, "
                          "p90 over the profile's replayed steps), predicted_wall_s, "
                          "predicted_throughput_samples_per_s (global batch / predicted "
                          "wall), predicted_speedup and _efficiency over the group's "
                          "baseline point as the measured ones, predicted_step_error = "
                          "predicted / measured median step time - 1 (docs/prediction.md)",
            "record_ranks": "--record-ranks all|stats|sample:K of the run(s). In stats and "
                            "sample:K files /steps and /buckets hold the recorded ranks' "
                            "columns only (recorded_ranks: world rank ids) and /rank_stats the "
                            "min/median/max/mean/max_rank over every rank per step. "
                            "figures_from_all_ranks are over every rank in every mode (from "
                            "/rank_stats there: slowest step = max of step_s, global samples = "
                            "round(mean of samples * world_size), phases = means, "
                            "comm_concurrent_share totals = means * world_size, memory "
                            "peaks = max of the max "
                            "column); figures_from_recorded_ranks are over the ranks named in "
                            "rank_figures_from (all, rank 0, sample:K) and the per-rank lists "
                            "are parallel to recorded_ranks; in stats mode (rank 0 only) no "
                            "imbalance or slowest_rank is given. Repeats of different modes "
                            "pool the figures from all ranks and the bucket durations of each "
                            "repeat's recorded ranks (bucket_figures_from), but not per-rank "
                            "figures unless they recorded the same ranks",
            "figures_from_all_ranks": list(analysis.FIGURES_FROM_ALL_RANKS),
            "figures_from_recorded_ranks": list(analysis.FIGURES_FROM_RECORDED_RANKS),
            "most_often_slowest_rank": "the rank holding the max step_s in the most measured "
                                       "steps (lowest rank on ties; /rank_stats max_rank in "
                                       "stats and sample:K files), over every rank",
            "median_rank_spread": "median over measured steps of max / median over every "
                                  "rank of step_s in that step",
        },
        "runs": run_rows,
        "groups": group_rows,
        "hardware_comparisons": comparisons,
        "overlap_savings": savings,
        "skipped": skipped,
        "out_of_memory": out_of_memory,
        "allreduce_files": allreduce_files,
    }
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(_clean(doc), f, indent=2, allow_nan=False)
        f.write("\n")
    write_csv(os.path.join(out, "summary.csv"), run_rows, group_rows)
    written = [os.path.join(out, "summary.csv"), os.path.join(out, "summary.json")]
    svgs: Optional[List[Any]] = [] if args.html and not args.no_plots else None
    if not args.no_plots:
        from . import plots  # matplotlib import is slow; not needed for --no-plots
        written += plots.make_all(group_rows, comparisons, out, formats, svg_sink=svgs)

    found = report_warnings.study_warnings(runs, summaries, groups)
    table = text_table(group_rows, comparisons, savings)
    print(table)
    warning_text = report_warnings.warning_lines(found)
    if warning_text:
        print("\n".join(warning_text))
    if args.html:
        written += write_html(args, out, runs, summaries, group_rows, comparisons, found, svgs,
                              written, table + "\n" + "\n".join(warning_text), skipped)
    print(f"{len(runs)} run(s) in {len(group_rows)} group(s); {len(skipped)} skipped; "
          f"wrote {len(written)} files to {out}")
    return 0


def write_html(args: argparse.Namespace, out: str, runs: List[Any],
               summaries: Dict[str, Dict[str, Any]], group_rows: List[Dict[str, Any]],
               comparisons: List[Dict[str, Any]], found: List[Any], svgs: Optional[List[Any]],
               written: List[str], text: str, skipped: List[Dict[str, Any]]) -> List[str]:
    """report.html (and the timelines it links); returns the paths written."""
    from . import htmlreport
    paths: List[str] = []
    if args.no_timelines:
        available, note, timelines = False, "not written (--no-timelines)", {}
    else:
        available, note, timelines = htmlreport.write_timelines(runs, out)
        paths += [os.path.join(out, urllib.parse.unquote(t["href"]))
                  for t in timelines.values() if t.get("href")]
    plot_files: Dict[str, List[str]] = {}
    for path in written:
        stem, ext = os.path.splitext(os.path.basename(path))
        if ext in (".png", ".svg", ".pdf"):
            plot_files.setdefault(stem, []).append(path)
    study = ", ".join(args.paths)
    page = htmlreport.render(
        title=f"scalebench report: {os.path.basename(os.path.abspath(args.paths[0]))}"
              + (f" and {len(args.paths) - 1} more" if len(args.paths) > 1 else ""),
        study=study, groups=group_rows, comparisons=comparisons, runs=runs, run_rows=summaries,
        warnings=found, plots=svgs, plot_files=plot_files, timelines=timelines,
        timelines_available=available, timelines_note=note, text=text, skipped=skipped)
    path = os.path.join(out, "report.html")
    htmlreport.write_atomic(path, page)
    return paths + [path]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse_args(argv)
    try:
        return run_report(args)
    except (InputError, RunFileError, analysis.BadOption) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
