"""Plots of a study's group summaries (analysis.analyze_groups output). matplotlib, Agg."""

from __future__ import annotations

import io
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullLocator  # noqa: E402

MIB = 1024.0 * 1024.0
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 130,
    "savefig.bbox": "tight",
}
MARKERS = "osD^vP*Xh<>"
# stack entries left out where no point of the study has them (older files, no buffers)
OPTIONAL_STACK = ("median_buffer_sync_s", "median_control_s", "median_other_s")
PHASE_STACK = (  # (field, legend, colour): the step's phases, then outside the step
    ("median_compute_s", "compute (forward+backward)", "#4C72B0"),
    ("median_comm_exposed_s", "exposed communication", "#DD8452"),
    ("median_data_s", "data loading", "#55A868"),
    ("median_optimizer_s", "optimizer", "#8172B3"),
    ("median_buffer_sync_s", "buffer broadcast", "#64B5CD"),
    ("median_unaccounted_s", "unaccounted (within the step)", "#BBBBBB"),
    ("median_control_s", "control agreement (after the step)", "#937860"),
    ("median_other_s", "other: recording, probes (after the step)", "#DA8BC3"),
)


def _style(i: int) -> Dict[str, Any]:
    return {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)], "markersize": 6,
            "linewidth": 1.8}


def _n_axis(ax: Any, ns: Sequence[int]) -> None:
    """World sizes on a log2 axis, ticked at the sizes measured."""
    ns = sorted(set(int(n) for n in ns))
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    if len(ns) == 1:
        ax.set_xlim(ns[0] / 1.5, ns[0] * 1.5)
    ax.set_xlabel("ranks N")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _x(g: Dict[str, Any], p: Dict[str, Any]) -> int:
    """A point's x: its node count in a node series, else its world size."""
    return p["nodes"] if g.get("x_axis") == "nodes" else p["world_size"]


def _xs(g: Dict[str, Any]) -> List[int]:
    return [_x(g, p) for p in g["points"]]


def _tick_text(kind: str, x: int, points: List[Dict[str, Any]]) -> str:
    """A tick's text: on a nodes axis the nodes with the ranks below ("2 nodes", "4 ranks");
    on a ranks axis the bare N, with the nodes below only where some run spans several (a
    single-node study looks as it always did)."""
    if kind == "nodes":
        ranks = sorted({p["world_size"] for p in points})
        return f"{_plural(x, 'node')}\n{', '.join(map(str, ranks))} rank{'s' * (ranks != [1])}"
    nodes = sorted({p.get("nodes", 1) for p in points})
    if nodes == [1]:
        return f"{x:g}"
    return f"{x:g}\n{', '.join(map(str, nodes))} node{'s' * (nodes != [1])}"


def _x_axis(ax: Any, kind: str, groups: List[Dict[str, Any]]) -> None:
    """The x axis of one row of panels: nodes or ranks N on a log2 scale, ticked where
    measured, each tick naming the other count too where nodes are involved."""
    at: Dict[int, List[Dict[str, Any]]] = {}
    for g in groups:
        for p in g["points"]:
            at.setdefault(_x(g, p), []).append(p)
    _n_axis(ax, list(at))
    labels = [_tick_text(kind, x, at[x]) for x in sorted(at)]
    if any("\n" in t for t in labels):
        ax.set_xticklabels(labels)
    ax.set_xlabel("nodes (ranks below)" if kind == "nodes" else "ranks N")


def _axis_rows(groups: List[Dict[str, Any]]) -> List[Any]:
    """(x axis kind, groups) per row of panels: one row per kind present, ranks first, so a
    study of single-node groups gets the figure it always had and node series get their own
    row instead of sharing an axis that means something else."""
    rows: Dict[str, List[Dict[str, Any]]] = {}
    for g in groups:
        rows.setdefault(g.get("x_axis", "ranks"), []).append(g)
    return [(kind, rows[kind]) for kind in ("ranks", "nodes") if kind in rows]


def _row_figure(groups: List[Dict[str, Any]], cols: int, width: float, height: float = 5.0):
    """A figure with `cols` panels per x-axis row: (fig, [(kind, groups, axes of the row)])."""
    rows = _axis_rows(groups)
    fig, axes = plt.subplots(len(rows), cols, figsize=(width, height * len(rows)), squeeze=False)
    if len(rows) > 1:
        fig.subplots_adjust(hspace=0.4)  # room for the two-line node ticks above the next row
    return fig, [(kind, gs, list(axes[i])) for i, (kind, gs) in enumerate(rows)]


def _base_name(kind: str) -> str:
    return "nodes_min" if kind == "nodes" else "N_min"


def _bytes_label(v: float, _: Any = None) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if v >= size:
            return f"{v / size:g} {unit}"
    return f"{v:g} B"


def _save(fig: Any, out_dir: str, name: str, formats: Sequence[str],
          svg_sink: Optional[List[Tuple[str, str]]] = None) -> List[str]:
    """Writes the figure in each format; with svg_sink, also appends (name, SVG text) to it
    for report.html: the .svg file read back where one is written (the same bytes, rendered
    once), else rendered into a string."""
    paths = []
    for fmt in formats:
        path = os.path.join(out_dir, f"{name}.{fmt}")
        fig.savefig(path, format=fmt)
        paths.append(path)
    if svg_sink is not None:
        if "svg" in formats:
            with open(os.path.join(out_dir, f"{name}.svg"), encoding="utf-8") as f:
                svg_sink.append((name, f.read()))
        else:
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
            svg_sink.append((name, buf.getvalue()))
    plt.close(fig)
    return paths


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", frameon=True)


def _col(points: List[Dict[str, Any]], key: str, scale: float = 1.0) -> List[float]:
    return [float("nan") if p.get(key) is None else p[key] * scale for p in points]


def _ideal_lines(kind: str, groups: List[Dict[str, Any]]) -> List[Any]:
    """Ideal speedup N / N_base of each group, merged into as few lines as agree: [(base x,
    {x: ideal})]. On a ranks axis one line per baseline N over the row's N >= it; on a nodes
    axis the groups' own points (at fixed ranks per node the ideal is nodes / nodes_base)."""
    lines: List[Any] = []
    for g in sorted(groups, key=lambda g: _x(g, g["points"][0])):
        n_min, b_x = g["baseline_world_size"], _x(g, g["points"][0])
        if kind == "nodes":
            ideal = {p["nodes"]: p["world_size"] / n_min for p in g["points"]}
        else:
            ideal = {n: n / n_min for gg in groups for n in _xs(gg) if n >= n_min}
        for base, line in lines:
            if base == b_x and all(line.get(x, y) == y for x, y in ideal.items()):
                line.update(ideal)
                break
        else:
            lines.append((b_x, dict(ideal)))
    return lines


def _ideal_speedup(ax: Any, kind: str, groups: List[Dict[str, Any]]) -> None:
    x_min = min(x for g in groups for x in _xs(g))
    for b_x, line in _ideal_lines(kind, groups):
        xs = sorted(line)
        ax.plot(xs, [line[x] for x in xs], "k--", linewidth=1.2,
                label="ideal" if b_x == x_min else
                f"ideal (from {_plural(b_x, 'node') if kind == 'nodes' else f'N={b_x}'})")


def _yerr(points: List[Dict[str, Any]], key: str, scale: float = 1.0) -> List[List[float]]:
    """Error bars of `key` from its `key`_ci_low / _ci_high (0 where none)."""
    return _bars([(p.get(key), p.get(f"{key}_ci_low"), p.get(f"{key}_ci_high"))
                  for p in points], scale)


def _bars(values: List[Any], scale: float = 1.0) -> List[List[float]]:
    """[below, above] error bars of (value, low, high) triples; 0 where an end is unknown or
    unbounded (an interval from two repeats far apart can be)."""
    below, above = [], []
    for v, a, b in values:
        fin = [x is not None and math.isfinite(x) for x in (v, a, b)]
        below.append(max(0.0, (v - a) * scale) if fin[0] and fin[1] else 0.0)
        above.append(max(0.0, (b - v) * scale) if fin[0] and fin[2] else 0.0)
    return [below, above]


def _predicted(ax: Any, g: Dict[str, Any], i: int, key: str, scale: float = 1.0,
               band: Optional[Tuple[str, str]] = None) -> None:
    """The group's predicted curve (reportpredict: results/predict's points) on ax: dashed in
    the group's colour, its band shaded where given; nothing where the group has none."""
    if (g.get("prediction") or {}).get("status") != "predicted":
        return
    pts = [p for p in g["points"] if p.get(key) is not None]
    if not pts:
        return
    xs = [_x(g, p) for p in pts]
    colour = _style(i)["color"]
    ax.plot(xs, [p[key] * scale for p in pts], linestyle="--", marker="x", color=colour,
            linewidth=1.4, markersize=6, label=f"{g['group']}: predicted")
    if band and all(p.get(band[0]) is not None and p.get(band[1]) is not None for p in pts):
        ax.fill_between(xs, [p[band[0]] * scale for p in pts],
                        [p[band[1]] * scale for p in pts], color=colour, alpha=0.12,
                        label=f"{g['group']}: predicted 10-90 %")


def throughput_speedup_figure(groups: List[Dict[str, Any]]) -> Any:
    """The throughput and speedup figure, unsaved (tests read its axes)."""
    fig, rows = _row_figure(groups, 2, 13)
    for kind, gs, (ax1, ax2) in rows:
        for i, g in enumerate(gs):
            pts = g["points"]
            x = _col(pts, "throughput_samples_per_s")
            err = _bars([(p["throughput_samples_per_s"], p["throughput_ci_low"],
                          p["throughput_ci_high"]) for p in pts])
            ax1.errorbar(_xs(g), x, yerr=err, capsize=3, label=g["group"], **_style(i))
            ax2.errorbar(_xs(g), _col(pts, "speedup"), yerr=_yerr(pts, "speedup"), capsize=3,
                         label=g["group"], **_style(i))
            _predicted(ax1, g, i, "predicted_throughput_samples_per_s")
            _predicted(ax2, g, i, "predicted_speedup",
                       band=("predicted_speedup_p10", "predicted_speedup_p90"))
        _ideal_speedup(ax2, kind, gs)
        ax1.set_title("Throughput (median wall time per step, 95% CI)"
                      + ("\n(step time where a file has no wall_s)"
                         if any(p.get("throughput_time_source") == "step_s"
                                for g in gs for p in g["points"]) else ""))
        ax1.set_ylabel("throughput [samples/s]")
        ax1.set_ylim(bottom=0)
        ax2.set_title("Speedup S(N) = X(N) / X(N_min)" if kind == "ranks"
                      else "Speedup S = X / X(nodes_min), ideal N / N(nodes_min)")
        ax2.set_ylabel("speedup [x]")
        ax2.set_ylim(bottom=0)
        for ax in (ax1, ax2):
            _x_axis(ax, kind, gs)
            _legend(ax)
    fig.suptitle("Throughput and speedup", fontsize=13, y=1.03)
    return fig


def plot_throughput_speedup(groups, out_dir, formats, svg_sink=None):
    return _save(throughput_speedup_figure(groups), out_dir, "throughput_speedup", formats,
                 svg_sink)


def efficiency_figure(groups: List[Dict[str, Any]]) -> Any:
    """The efficiency and step time figure, unsaved."""
    fig, rows = _row_figure(groups, 2, 13)
    for kind, gs, (ax1, ax2) in rows:
        for i, g in enumerate(gs):
            pts = g["points"]
            ax1.errorbar(_xs(g), _col(pts, "efficiency", 100.0),
                         yerr=_yerr(pts, "efficiency", 100.0), capsize=3, label=g["group"],
                         **_style(i))
            t = _col(pts, "median_step_s", 1e3)
            err = _bars([(p["median_step_s"], p["step_ci_low_s"], p["step_ci_high_s"])
                         for p in pts], 1e3)
            ax2.errorbar(_xs(g), t, yerr=err, capsize=3, label=g["group"], **_style(i))
            _predicted(ax1, g, i, "predicted_efficiency", 100.0)
            _predicted(ax2, g, i, "predicted_step_s", 1e3,
                       band=("predicted_step_s_p10", "predicted_step_s_p90"))
        ax1.axhline(100.0, color="k", linestyle="--", linewidth=1.2, label="ideal")
        ax1.set_title("Parallel efficiency E(N) = S(N) N_min / N" if kind == "ranks"
                      else "Parallel efficiency E = S N(nodes_min) / N (per rank)")
        ax1.set_ylabel("efficiency [%]")
        top = max([p[k] * 100 for g in gs for p in g["points"]
                   for k in ("efficiency", "predicted_efficiency")
                   if p.get(k) is not None] + [100.0])
        ax1.set_ylim(0, top * 1.08)
        ax2.set_title("Median step time (slowest rank, 95% CI)")
        ax2.set_ylabel("step time [ms]")
        ax2.set_ylim(bottom=0)
        for ax in (ax1, ax2):
            _x_axis(ax, kind, gs)
            _legend(ax)
    fig.suptitle("Scaling efficiency", fontsize=13)
    return fig


def plot_efficiency(groups, out_dir, formats, svg_sink=None):
    return _save(efficiency_figure(groups), out_dir, "efficiency", formats, svg_sink)


def _panels(count: int, width: float = 5.2, height: float = 4.2):
    cols = min(3, count)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols + 1.5, height * rows + 0.6),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def breakdown_figure(groups: List[Dict[str, Any]]) -> Any:
    """The step time breakdown figure, unsaved: one panel per group, one legend for all."""
    fig, axes = _panels(len(groups))
    for ax, g in zip(axes, groups):
        pts = g["points"]
        pos = list(range(len(pts)))
        bottom = [0.0] * len(pts)
        for key, name, colour in PHASE_STACK:
            if key in OPTIONAL_STACK and not any(p.get(key) for g_ in groups
                                                 for p in g_["points"]):
                continue  # e.g. no buffer broadcast anywhere: no empty legend entry
            h = [(p.get(key) or 0.0) * 1e3 for p in pts]
            ax.bar(pos, h, bottom=bottom, color=colour, label=name, width=0.65)
            bottom = [b + v for b, v in zip(bottom, h)]
        ax.plot(pos, _col(pts, "median_step_s", 1e3), "k_", markersize=22, mew=2,
                label="median step time")
        if any(p.get("median_wall_s") is not None for p in pts):
            ax.plot(pos, _col(pts, "median_wall_s", 1e3), "r_", markersize=22, mew=2,
                    label="median wall time per step")
        kind = g.get("x_axis", "ranks")
        ax.set_xticks(pos)
        ax.set_xticklabels([_tick_text(kind, _x(g, p), [p]) for p in pts])
        ax.set_xlabel("nodes (ranks below)" if kind == "nodes" else "ranks N")
        ax.set_ylabel("time per step [ms]")
        ax.set_title(g["group"])
        ax.grid(axis="x", visible=False)
    entries: Dict[str, Any] = {}  # every panel's entries, once each (panels differ in them)
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, h)
    labels, handles = list(entries), list(entries.values())
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("Step time breakdown (medians of rank-averaged phases; schema 1-2 files: "
                 "buffer broadcast inside forward)", fontsize=13)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def plot_breakdown(groups, out_dir, formats, svg_sink=None):
    return _save(breakdown_figure(groups), out_dir, "breakdown", formats, svg_sink)


def _busbw_label(g: Dict[str, Any], p: Dict[str, Any]) -> str:
    where = f" on {_plural(p['nodes'], 'node')}" if p.get("nodes", 1) > 1 else ""
    return f"{g['group']}, N={p['world_size']}{where}"


def _busbw_panel(ax: Any, groups: List[Dict[str, Any]]) -> None:
    """Bus bandwidth against message size; colour tells the group, marker and line style the
    point (number of ranks, and nodes where several)."""
    keys = sorted({(p["world_size"], p.get("nodes", 1)) for g in groups for p in g["points"]
                   if p["world_size"] > 1})
    k = 0
    for i, g in enumerate(groups):
        for p in g["points"]:
            bw = p.get("allreduce_bandwidth") or []
            if not bw:
                continue
            j = keys.index((p["world_size"], p.get("nodes", 1)))
            style = {"color": f"C{i % 10}", "marker": MARKERS[j % len(MARKERS)],
                     "linestyle": ["-", "--", ":", "-."][j % 4], "markersize": 6,
                     "linewidth": 1.6}
            ax.plot([e["bytes"] for e in bw], [e["busbw_bytes_per_s"] / 1e9 for e in bw],
                    label=_busbw_label(g, p), **style)
            k += 1
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(_bytes_label))
    ax.set_title("In-training allreduce bus bandwidth\n(collective time: fastest recorded rank)")
    ax.set_xlabel("message size (bucket bytes)")
    ax.set_ylabel("bus bandwidth [GB/s]")
    ax.set_ylim(bottom=0)
    if k == 0:
        ax.text(0.5, 0.5, "no multi-rank runs with buckets", ha="center", va="center",
                transform=ax.transAxes, color="gray")
        ax.set_xscale("linear")
        ax.set_xticks([])
    if k > 6:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    else:
        _legend(ax)


def _skew_panel(ax: Any, groups: List[Dict[str, Any]]) -> None:
    """Median arrival skew (max - min of the ranks' bucket durations) against message size."""
    keys = sorted({(p["world_size"], p.get("nodes", 1)) for g in groups for p in g["points"]
                   if p["world_size"] > 1})
    k = 0
    for i, g in enumerate(groups):
        for p in g["points"]:
            bw = [e for e in p.get("allreduce_bandwidth") or []
                  if e.get("median_arrival_skew_s") is not None]
            if not bw:
                continue
            j = keys.index((p["world_size"], p.get("nodes", 1)))  # as in the busbw panel
            ax.plot([e["bytes"] for e in bw], [e["median_arrival_skew_s"] * 1e3 for e in bw],
                    color=f"C{i % 10}", marker=MARKERS[j % len(MARKERS)],
                    linestyle=["-", "--", ":", "-."][j % 4], linewidth=1.4,
                    label=_busbw_label(g, p))
            k += 1
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(_bytes_label))
    ax.set_title("Arrival skew at the allreduce\n(median max - min of the ranks' durations)")
    ax.set_xlabel("message size (bucket bytes)")
    ax.set_ylabel("arrival skew [ms]")
    ax.set_ylim(bottom=0)
    if k == 0:
        ax.text(0.5, 0.5, "no skew: one rank recorded, or no buckets", ha="center",
                va="center", transform=ax.transAxes, color="gray")
        ax.set_xscale("linear")
        ax.set_xticks([])
    elif k <= 6:
        _legend(ax)


def comm_figure(groups: List[Dict[str, Any]]) -> Any:
    """The communication figure, unsaved: exposed share, busbw and arrival skew per row."""
    fig, rows = _row_figure(groups, 3, 19)
    for kind, gs, (ax1, ax2, ax3) in rows:
        for i, g in enumerate(gs):
            ax1.plot(_xs(g), _col(g["points"], "exposed_comm_share", 100.0),
                     label=g["group"], **_style(i))
        _x_axis(ax1, kind, gs)
        ax1.set_title("Exposed communication share of the step")
        ax1.set_ylabel("exposed comm / step time [%]")
        ax1.set_ylim(bottom=0)
        _legend(ax1)
        _busbw_panel(ax2, gs)
        _skew_panel(ax3, gs)
    fig.suptitle("Communication", fontsize=13, y=1.03)
    return fig


def plot_comm(groups, out_dir, formats, svg_sink=None):
    return _save(comm_figure(groups), out_dir, "comm", formats, svg_sink)


def plot_memory(groups, out_dir, formats, svg_sink=None):
    has_dev = any(p.get("peak_device_allocated_bytes") for g in groups for p in g["points"])
    fig, rows = _row_figure(groups, 2 if has_dev else 1, 13 if has_dev else 7.5)
    for kind, gs, axes in rows:
        ax1 = axes[0]
        for i, g in enumerate(gs):
            pts = g["points"]
            style = _style(i)
            ax1.plot(_xs(g), _col(pts, "peak_rss_bytes", 1 / MIB), label=f"{g['group']} (max)",
                     **style)
            xs, ys = [], []
            for p in pts:
                for v in p.get("peak_rss_bytes_per_rank") or []:  # the recorded ranks'
                    xs.append(_x(g, p))
                    ys.append(v / MIB)
            ax1.scatter(xs, ys, s=18, color=style["color"], alpha=0.45, marker="_")
            if has_dev and any(p.get("peak_device_allocated_bytes") for p in pts):
                dev = [float("nan") if not p.get("peak_device_allocated_bytes")
                       else p["peak_device_allocated_bytes"] / MIB for p in pts]
                axes[1].plot(_xs(g), dev, label=g["group"], **style)
        sampled = any(p.get("rank_figures_from") not in (None, "all")
                      for g in gs for p in g["points"])
        ax1.set_title("Peak host RSS per rank (dashes: each "
                      + ("recorded rank)" if sampled else "rank)"))
        ax1.set_ylabel("peak resident memory [MiB]")
        ax1.set_ylim(bottom=0)
        for ax in axes:
            _x_axis(ax, kind, gs)
            _legend(ax)
        if has_dev:
            axes[1].set_title("Peak CUDA memory allocated (max over ranks)")
            axes[1].set_ylabel("peak allocated [MiB]")
            axes[1].set_ylim(bottom=0)
    fig.suptitle("Memory", fontsize=13)
    return _save(fig, out_dir, "memory", formats, svg_sink)


def _slowest_label(p: Dict[str, Any]) -> str:
    """The slowest rank by its world rank id; "of K" where only K ranks were recorded."""
    ranks = p.get("recorded_ranks") or []
    sampled = p.get("rank_figures_from") not in (None, "all")
    return f"r{p['slowest_rank']}" + (f" (of {len(ranks)} recorded)" if sampled else "")


def plot_imbalance(groups, out_dir, formats, svg_sink=None):
    fig, rows = _row_figure(groups, 1, 8)
    for kind, gs, (ax,) in rows:
        for i, g in enumerate(gs):
            pts = g["points"]
            n = _xs(g)
            style = _style(i)
            y = [v - 100.0 for v in _col(pts, "imbalance", 100.0)]
            ax.plot(n, y, label=f"{g['group']}: step time", **style)
            yb = [v - 100.0 for v in _col(pts, "busy_imbalance", 100.0)]
            ax.plot(n, yb, label=f"{g['group']}: busy time", **dict(style, linestyle="--"))
            for xi, yi, p in zip(n, y, pts):
                if p["world_size"] > 1 and p.get("slowest_rank") is not None:
                    ax.annotate(_slowest_label(p), (xi, yi), textcoords="offset points",
                                xytext=(4, 5), fontsize=9, color=style["color"])
        _x_axis(ax, kind, gs)
        ax.axhline(0.0, color="k", linewidth=0.8)
        ax.set_title("Rank imbalance: slowest rank's median vs median over ranks\n"
                     "(label: slowest rank; busy = step minus exposed communication)"
                     + ("\n(over the recorded ranks where --record-ranks kept a sample)"
                        if any(p.get("rank_figures_from") not in (None, "all")
                               for g in gs for p in g["points"]) else ""))
        ax.set_ylabel("slowest rank slower by [%]")
        _legend(ax)
    return _save(fig, out_dir, "imbalance", formats, svg_sink)


def plot_hardware(comparisons, out_dir, formats, svg_sink=None):
    if not comparisons:
        return []
    has_cost = any(e.get("cost_per_1e6_samples_usd") is not None
                   for c in comparisons for e in c["entries"])
    rows = sum(len(c["entries"]) for c in comparisons)
    fig, axes = plt.subplots(1, 2 if has_cost else 1, squeeze=False,
                             figsize=(13 if has_cost else 7.5, max(3.0, 0.45 * rows + 1.8)))
    labels, speedups, costs, colours = [], [], [], []
    hw_colour: Dict[str, str] = {}
    for c in comparisons:
        for e in c["entries"]:
            labels.append(f"{c['model']} {c['mode']} {e['label']}"
                          if len(comparisons) > 1 else e["label"])
            speedups.append(e["speedup_vs_baseline"])
            costs.append(e.get("cost_per_epoch_usd") if e.get("cost_per_epoch_usd") is not None
                         else e.get("cost_per_1e6_samples_usd"))
            colours.append(hw_colour.setdefault(e["hw_label"], f"C{len(hw_colour) % 10}"))
    pos = list(range(len(labels)))[::-1]
    ax = axes[0][0]
    bars = ax.barh(pos, speedups, color=colours)
    ax.bar_label(bars, labels=[f"{v:.3g}x" for v in speedups], padding=3, fontsize=9)
    ax.margins(x=0.12)
    ax.axvline(1.0, color="k", linestyle="--", linewidth=1)
    ax.set_yticks(pos)
    ax.set_yticklabels(labels)
    ax.set_xlabel("throughput speedup over baseline [x]")
    ax.set_title("Hardware comparison (baseline: "
                 + ", ".join(sorted({c["baseline_label"] for c in comparisons})) + ")")
    if has_cost:
        per_epoch = all(e.get("cost_per_epoch_usd") is not None
                        for c in comparisons for e in c["entries"]
                        if e.get("price_usd_per_hour") is not None)
        ax = axes[0][1]
        bars = ax.barh(pos, [float("nan") if v is None else v for v in costs], color=colours)
        ax.bar_label(bars, labels=["" if v is None else f"${v:.3g}" for v in costs],
                     padding=3, fontsize=9)
        ax.margins(x=0.15)
        ax.set_yticks(pos)
        ax.set_yticklabels([])
        ax.set_xlabel("cost per epoch [USD]" if per_epoch else "cost [USD] per epoch, or per "
                      "1e6 samples where the epoch size is unknown")
        ax.set_title("Cost (given --price)")
    return _save(fig, out_dir, "hardware", formats, svg_sink)


def make_all(groups: List[Dict[str, Any]], comparisons: List[Dict[str, Any]], out_dir: str,
             formats: Sequence[str],
             svg_sink: Optional[List[Tuple[str, str]]] = None) -> List[str]:
    """Writes every plot; returns the paths written. svg_sink: see _save."""
    written: List[str] = []
    with plt.rc_context(STYLE):
        for fn in (plot_throughput_speedup, plot_efficiency, plot_breakdown, plot_comm,
                   plot_memory, plot_imbalance):
            written += fn(groups, out_dir, formats, svg_sink)
        written += plot_hardware(comparisons, out_dir, formats, svg_sink)
    return written
