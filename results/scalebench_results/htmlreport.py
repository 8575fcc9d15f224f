"""report.html: one self-contained page of a study (results/report writes it by default).

Everything is inline: the plots as SVG (matplotlib's, read back or rendered into a string), the
tables as HTML, the CSS in a <style> element. No script, no external resource: the file can be
mailed, archived or opened from a cluster's file system, and reads the same in any browser. Every
text that comes from a run file (names, hosts, versions, command lines, messages) goes through
html.escape; so does everything else, so that no path skips it.

Timelines: where scalebench_results.timeline (write_trace) is importable, one Chrome trace per
run is written to <out>/timelines/<run>.trace.json and linked relatively; a run the timeline
refuses gets its reason instead of a link. Where it is not importable, the page says so.
"""

from __future__ import annotations

import datetime
import html
import importlib
import os
import re
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import analysis
from . import reportpredict
from .atomic import write_text_atomic
from . import warnings as report_warnings

TIMELINE_MODULE = "scalebench_results.timeline"
TIMELINE_DIR = "timelines"
TRACE_SUFFIX = ".trace.json"
# Runs with more recorded rank-steps than this get no automatic timeline: a trace of every
# step of a long many-rank run is gigabytes that no trace viewer opens, and writing it would
# cost the report its bounded memory (it reads runs in slices; see analysis.py).
TIMELINE_MAX_RANK_STEPS = 1 << 20

PLOT_CAPTIONS = {
    "throughput_speedup": "Throughput (95% interval) and speedup against the ideal line; "
                          "dashed: results/predict's predicted curve where a group has one",
    "efficiency": "Parallel efficiency (and, for weak scaling, step time over the baseline's); "
                  "dashed: the predicted curve with its 10-90 % band",
    "breakdown": "Where a step's time goes: compute, exposed communication, data, optimizer, "
                 "buffer broadcast; after the step the control agreement and the rest",
    "comm": "Exposed communication share; in-training allreduce bus bandwidth and the ranks' "
            "arrival skew against message size",
    "memory": "Peak host memory per rank (and CUDA memory where measured)",
    "imbalance": "Rank imbalance: the slowest rank's median against the median rank",
    "hardware": "Hardware comparison: speedup over the baseline, and cost where priced",
}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #1a1a1a; line-height: 1.35; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
p.meta, p.note { color: #555; margin-top: 0.2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; font-size: 0.88em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
th { background: #f0f0f0; }
div.scroll { overflow-x: auto; max-width: 100%; }
table.summary td:first-child, table.comparison td:first-child { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.warned td:first-child { border-left: 4px solid #d9822b; }
ul.warnings { padding-left: 0; list-style: none; }
ul.warnings li { background: #fff4e5; border-left: 4px solid #d9822b; margin: 0.3em 0;
                 padding: 0.35em 0.6em; }
ul.warnings li .kind { font-weight: bold; }
p.ok { background: #eef7ee; border-left: 4px solid #4c9a4c; padding: 0.35em 0.6em; }
figure { margin: 1em 0 2em; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; margin-top: 0.3em; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto;
      font-size: 0.8em; }
code { font-size: 0.9em; }
.small { font-size: 0.85em; color: #555; }
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(v: Optional[float], spec: str, scale: float = 1.0) -> str:
    if v is None or not isinstance(v, (int, float)) or v != v or v in (float("inf"),
                                                                      float("-inf")):
        return "-"
    return format(v * scale, spec)


def _interval(v, lo, hi, spec: str, scale: float = 1.0) -> str:
    text = _num(v, spec, scale)
    if lo is None and hi is None:
        return text
    return f"{text} [{_num(lo, spec, scale)}, {_num(hi, spec, scale)}]"


def _cell(text: Any, num: bool = False) -> str:
    return f"<td class=\"num\">{esc(text)}</td>" if num else f"<td>{esc(text)}</td>"


def _lines_cell(lines: Sequence[Any]) -> str:
    """A cell of several escaped lines."""
    return "<td>" + "<br>".join(esc(line) for line in lines if line not in (None, "")) + "</td>"


def _table(head: Sequence[str], rows: Sequence[str], cls: str = "") -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    attr = f" class=\"{esc(cls)}\"" if cls else ""
    # in a scrolling box of its own: a wide table must not widen the page (and its plots)
    return (f"<div class=\"scroll\"><table{attr}><thead><tr>{th}</tr></thead><tbody>\n"
            + "\n".join(rows) + "\n</tbody></table></div>")


# --- plots ----------------------------------------------------------------------------------

_PROLOGUE = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)


def inline_svg(svg: str, prefix: str) -> str:
    """matplotlib's SVG document as an element of an HTML page: without the XML prologue and
    DOCTYPE, and with every id (and reference to one) prefixed, because two figures of one
    page would otherwise share ids (clip paths, glyphs, markers) and draw with each other's."""
    body = _PROLOGUE.sub("", svg, count=1)
    # the RDF block (creator, date) is for files on their own; the page says who wrote it
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", body, count=1, flags=re.S)
    body = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', body)
    body = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", body)
    body = re.sub(r'((?:xlink:)?href)="#([^"]+)"',
                  lambda m: f'{m.group(1)}="#{prefix}{m.group(2)}"', body)
    return body


# --- timelines ------------------------------------------------------------------------------

def load_timeline_module() -> Tuple[Optional[Any], str]:
    """(the timeline module, "") or (None, why not). A module that fails to import for any
    reason costs the page its timelines, never the report."""
    try:
        module = importlib.import_module(TIMELINE_MODULE)
    except ImportError as e:
        return None, f"{TIMELINE_MODULE} is not importable ({e})"
    except Exception as e:  # noqa: BLE001 - a broken module is reported, not raised
        return None, f"{TIMELINE_MODULE} failed to import ({type(e).__name__}: {e})"
    if not callable(getattr(module, "write_trace", None)):
        return None, f"{TIMELINE_MODULE} has no write_trace"
    return module, ""


def trace_names(paths: Sequence[str]) -> Dict[str, str]:
    """Run path -> its trace file name, unique within the study: the path relative to the
    runs' common directory (runs of different subdirectories, e.g. nodes-1/run.h5 and
    nodes-2/run.h5, share base names), suffix dropped, separators and odd characters made
    safe for a file name and a URL."""
    if not paths:
        return {}
    absolute = [os.path.abspath(p) for p in paths]
    root = os.path.commonpath([os.path.dirname(p) for p in absolute])
    out: Dict[str, str] = {}
    used = set()
    for path, full in zip(paths, absolute):
        rel = os.path.relpath(full, root)
        stem = re.sub(r"(\.partial)?$", "", rel)
        stem = re.sub(r"\.(h5|hdf5)$", "", stem)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace(os.sep, "__")).strip("._") or "run"
        name, k = safe, 2
        while name in used:
            name, k = f"{safe}-{k}", k + 1
        used.add(name)
        out[path] = name + TRACE_SUFFIX
    return out


def write_timelines(runs: Sequence[Any], out_dir: str
                    ) -> Tuple[bool, str, Dict[str, Dict[str, str]]]:
    """(available, note, run path -> {"href": relative link} or {"note": why none}). Each
    trace is written to a temporary name and renamed, so that a link never points at half a
    file; each run is guarded on its own."""
    module, why = load_timeline_module()
    if module is None:
        return False, why, {}
    folder = os.path.join(out_dir, TIMELINE_DIR)
    os.makedirs(folder, exist_ok=True)
    names = trace_names([r.path for r in runs])
    result: Dict[str, Dict[str, str]] = {}
    for run in runs:
        rank_steps = int(run.n_steps) * int(getattr(run, "n_recorded", run.world_size))
        if rank_steps > TIMELINE_MAX_RANK_STEPS:
            result[run.path] = {"note": f"not written: {rank_steps} recorded rank-steps, above "
                                        f"the report's {TIMELINE_MAX_RANK_STEPS} (write one "
                                        f"for chosen steps with results/timeline)"}
            continue
        name = names[run.path]
        final = os.path.join(folder, name)
        # hidden, and ending as the real one does, in case the writer goes by the suffix
        tmp = os.path.join(folder, f".{name[:-len(TRACE_SUFFIX)]}.{os.getpid()}.tmp{TRACE_SUFFIX}")
        try:
            module.write_trace(run.path, tmp)
            os.replace(tmp, final)
            result[run.path] = {"href": f"{TIMELINE_DIR}/{urllib.parse.quote(name)}"}
        except Exception as e:  # noqa: BLE001 - one refused run must not cost the others
            result[run.path] = {"note": f"not written: {type(e).__name__}: {e}"}
            if os.path.exists(final):
                os.remove(final)  # an earlier report's trace of this run: no longer this page's
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return True, "", result


# --- sections -------------------------------------------------------------------------------

def _warned_files(warnings: Sequence[report_warnings.ReportWarning]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for w in warnings:
        for name in w.runs:
            if w.kind not in out.setdefault(name, []):
                out[name].append(w.kind)
    return out


def warnings_section(warnings: Sequence[report_warnings.ReportWarning]) -> str:
    parts = ["<section id=\"warnings\"><h2>Warnings</h2>"]
    if not warnings:
        parts.append("<p class=\"ok\">No warnings: no host oversubscribed, no reference BLAS, "
                     f"every run has at least {report_warnings.MIN_MEASURED_STEPS} measured "
                     "steps, one build and one kind of device per curve.</p>")
    else:
        parts.append("<ul class=\"warnings\">")
        for w in warnings:
            parts.append(f"<li class=\"warning {esc(w.kind)}\"><span class=\"kind\">"
                         f"{esc(w.kind)}</span>: {esc(w.message)}</li>")
        parts.append("</ul>")
    parts.append(f"<p class=\"note\">Checked: oversubscription (ranks x threads per rank above "
                 f"the CPUs of a host's ranks' affinity, CPU runs), reference BLAS (CPU runs), "
                 f"fewer than {report_warnings.MIN_MEASURED_STEPS} measured steps (the fewest "
                 f"with which an order-statistic interval of the median reaches "
                 f"{analysis.CI_LEVEL * 100:g}%), different builds or library versions within "
                 f"the study, different device models within a run or a curve.</p></section>")
    return "\n".join(parts)


def _imbalance(p: Mapping[str, Any]) -> str:
    if p.get("imbalance") is None or p.get("slowest_rank") is None:
        return "-"
    sampled = "*" if p.get("rank_figures_from") not in (None, "all") else ""
    return f"{(p['imbalance'] - 1) * 100:+.1f}% (r{p['slowest_rank']}){sampled}"


def group_table(g: Mapping[str, Any], warned: Mapping[str, List[str]]) -> str:
    nodes = any(p.get("nodes", 1) > 1 or p.get("crosses_nodes") for p in g["points"])
    head = ["point"] + (["nodes", "ranks/node", "x-node"] if nodes else []) + [
        "N", "repeats", "median step ms [95% CI]", "wall ms", "samples/s [95% CI]",
        "speedup [CI]", "efficiency % [CI]", "exposed comm %", "peak RSS MiB", "imbalance",
        "files", "warnings"]
    curve = reportpredict.has_curve(g)
    if curve:
        head += ["predicted step ms [p10, p90]", "error %"]
    rows = []
    for p in g["points"]:
        kinds = sorted({k for f in p.get("files", []) for k in warned.get(f, [])})
        cells = [_cell(p.get("label"))]
        if nodes:
            cells += [_cell(p.get("nodes"), True), _cell(p.get("ranks_per_node"), True),
                      _cell("yes" if p.get("crosses_nodes") else "no")]
        tp_mark = "^" if p.get("throughput_time_source") == "step_s" else ""
        cells += [
            _cell(p.get("world_size"), True),
            _cell(p.get("repeats"), True),
            _cell(_interval(p.get("median_step_s"), p.get("step_ci_low_s"),
                            p.get("step_ci_high_s"), ".2f", 1e3), True),
            _cell(_num(p.get("median_wall_s"), ".2f", 1e3), True),
            _cell(_interval(p.get("throughput_samples_per_s"), p.get("throughput_ci_low"),
                            p.get("throughput_ci_high"), ".1f") + tp_mark, True),
            _cell(_interval(p.get("speedup"), p.get("speedup_ci_low"),
                            p.get("speedup_ci_high"), ".2f"), True),
            _cell(_interval(p.get("efficiency"), p.get("efficiency_ci_low"),
                            p.get("efficiency_ci_high"), ".1f", 100.0), True),
            _cell(_num(p.get("exposed_comm_share"), ".1f", 100.0), True),
            _cell(_num(p.get("peak_rss_bytes"), ".1f", 1 / analysis.MIB), True),
            _cell(_imbalance(p), True),
            _lines_cell(p.get("files", [])),
            _cell(", ".join(kinds) if kinds else ""),
        ]
        if curve:
            cells += [_cell(_interval(p.get("predicted_step_s"), p.get("predicted_step_s_p10"),
                                      p.get("predicted_step_s_p90"), ".2f", 1e3), True),
                      _cell(reportpredict.error_cell(p), True)]
        cls = " class=\"warned\"" if kinds else ""
        rows.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    heading = (f"{g['group']} (against nodes; speedup over {g.get('baseline_nodes')} node(s), "
               f"N={g.get('baseline_world_size')})" if g.get("x_axis") == "nodes"
               else f"{g['group']} (speedup over N={g.get('baseline_world_size')})")
    reasons = reportpredict.reason_lines([g])
    note = (f"\n<p class=\"note prediction\">{esc(reasons[0])}</p>" if reasons else "")
    return (f"<h3>{esc(heading)}</h3>\n"
            + _table(head, rows, "summary") + note)


def comparison_tables(comparisons: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for c in comparisons:
        rows = []
        for e in c["entries"]:
            rows.append("<tr>" + "".join([
                _cell(e.get("label")),
                _cell(_num(e.get("throughput_samples_per_s"), ".1f"), True),
                _cell(_num(e.get("speedup_vs_baseline"), ".2f"), True),
                _cell(_num(e.get("price_usd_per_hour"), ".2f"), True),
                _cell(_num(e.get("cost_per_epoch_usd"), ".4f"), True),
                _cell(_num(e.get("cost_per_1e6_samples_usd"), ".4f"), True),
            ]) + "</tr>")
        heading = (f"hardware comparison: {c['model']} {c['mode']}, baseline "
                   f"{c['baseline_label']}")
        parts.append(f"<h3>{esc(heading)}</h3>")
        parts.append(_table(["label", "samples/s", "vs baseline x", "USD/h", "USD/epoch",
                             "USD/1e6 samples"], rows, "comparison"))
    return "\n".join(parts)


def _versions(run: Any) -> List[str]:
    """"scalebench 1.0 (git abc)", "libtorch: 2.1.0", ...: what the file records, without the
    libraries it says are absent ("none")."""
    lines = []
    for item, value in report_warnings.build_of(run).items():
        if item in ("blas", "lapack", "onednn") or value in ("none", ""):
            continue
        lines.append(f"{item}: {value}")
    for key, label in (("blas", "BLAS"), ("lapack", "LAPACK")):
        if run.attr(key):
            lib = run.attr(f"{key}_library")
            lines.append(f"{label}: {run.attr(key)}" + (f" ({lib})" if lib else ""))
    if run.attr("onednn") is not None:
        lines.append(f"oneDNN: {'on' if run.attr('onednn') else 'off'}")
    threads = [f"{k.split('_')[0]} {run.attr(k)}" for k in ("intra_op_threads",
               "inter_op_threads", "omp_max_threads") if run.attr(k) is not None]
    if threads:
        lines.append("threads: " + ", ".join(threads))
    return lines


def _launch(run: Any) -> List[str]:
    lines = []
    job = run.attr("slurm_job_id")
    if job:
        lines.append(f"Slurm job {job}" + (f" on {run.attr('slurm_nodelist')}"
                                           if run.attr("slurm_nodelist") else ""))
    else:
        lines.append("launcher: outside Slurm (mpirun or direct; see the command line)")
    if run.attr("command_line"):
        lines.append(f"command: {run.attr('command_line')}")
    if run.attr("tag"):
        lines.append(f"tag: {run.attr('tag')}")
    if run.attr("start_time"):
        lines.append(f"{run.attr('start_time')} - {run.attr('end_time') or '?'}")
    return lines


def _layout(run: Any, row: Mapping[str, Any]) -> List[str]:
    hosts = list(row.get("hosts") or [])
    shown = ", ".join(hosts[:8]) + (f" and {len(hosts) - 8} more" if len(hosts) > 8 else "")
    lines = [f"{run.world_size} rank(s) on {row.get('nodes', 1)} node(s), at most "
             f"{row.get('ranks_per_node', run.world_size)} per node",
             f"hosts: {shown}" if shown else "",
             f"threads per rank: {report_warnings.threads_per_rank(run)}"]
    affinity = [str(a) for a in (run.ranks.get("cpu_affinity") if run.ranks.get(
        "cpu_affinity") is not None else [])]
    if affinity:
        distinct = list(dict.fromkeys(affinity))
        lines.append("cpu affinity: " + "; ".join(distinct[:4])
                     + (f" and {len(distinct) - 4} more" if len(distinct) > 4 else ""))
    if row.get("record_ranks") not in (None, "all"):
        lines.append(f"recorded ranks: {row.get('record_ranks')}")
    return lines


def runs_table(runs: Sequence[Any], rows: Mapping[str, Mapping[str, Any]],
               timelines: Mapping[str, Mapping[str, str]], timelines_available: bool,
               warned: Mapping[str, List[str]]) -> str:
    head = ["run", "model and data", "device", "layout", "steps", "build and libraries",
            "launch", "timeline"]
    out = []
    for run in runs:
        row = rows.get(run.path, {})
        devices = report_warnings.devices_by_host(run)
        device = [f"{run.device} ({run.attr('backend', '?')}), {run.attr('precision', '')}"]
        device += [f"{name}" + (f" on {', '.join(hosts[:3])}" + (" ..." if len(hosts) > 3 else "")
                                if len(devices) > 1 else "") for name, hosts in devices.items()]
        model = [f"{run.model} ({run.attr('model_source', '')})",
                 f"params: {run.attr('params_total', '?')}",
                 f"dataset: {run.attr('dataset', '?')}",
                 f"{run.mode} scaling, batch {run.attr('batch_per_rank', '?')}/rank, global "
                 f"{run.attr('global_batch', '?')}",
                 f"optimizer: {run.attr('optimizer', '')}, overlap: "
                 f"{'yes' if run.attr('overlap') else 'no'}, buckets: {run.attr('n_buckets', '?')}"]
        steps = [f"measured: {row.get('measured_steps', '?')}",
                 f"warm-up: {run.attr('warmup_steps', '?')}",
                 f"recorded: {run.n_steps}"]
        file_warnings = [w for w in str(run.attr("run_warnings") or "").splitlines() if w]
        first = [run.name, f"point: {row.get('label', '')}", f"status: {run.status}",
                 f"schema {run.schema_version}"]
        first += [f"warned: {', '.join(warned[run.name])}"] if run.name in warned else []
        first += [f"the run warned: {w}" for w in file_warnings]
        t = timelines.get(run.path, {})
        if t.get("href"):
            tcell = (f"<td><a href=\"{esc(t['href'])}\">{esc(os.path.basename(t['href']))}"
                     f"</a></td>")
        elif t.get("note"):
            tcell = _cell(t["note"])
        else:
            tcell = _cell("unavailable" if not timelines_available else "-")
        cls = " class=\"warned\"" if run.name in warned else ""
        out.append(f"<tr{cls}>" + _lines_cell(first) + _lines_cell(model)
                   + _lines_cell(device) + _lines_cell(_layout(run, row))
                   + _lines_cell(steps) + _lines_cell(_versions(run))
                   + _lines_cell(_launch(run)) + tcell + "</tr>")
    return _table(head, out, "runs")


def render(*, title: str, study: str, groups: Sequence[Mapping[str, Any]],
           comparisons: Sequence[Mapping[str, Any]], runs: Sequence[Any],
           run_rows: Mapping[str, Mapping[str, Any]],
           warnings: Sequence[report_warnings.ReportWarning],
           plots: Optional[Sequence[Tuple[str, str]]], plot_files: Mapping[str, List[str]],
           timelines: Mapping[str, Mapping[str, str]], timelines_available: bool,
           timelines_note: str, text: str, skipped: Sequence[Mapping[str, Any]],
           generated: Optional[str] = None) -> str:
    """The page. plots: (name, SVG document) in order, or None where plots were not drawn;
    plot_files: name -> the plot files written beside the page (linked)."""
    generated = generated or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    warned = _warned_files(warnings)
    p: List[str] = [
        "<!DOCTYPE html>",
        "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class=\"meta\">{esc(len(runs))} run(s) in {esc(len(groups))} group(s), "
        f"{esc(len(skipped))} skipped; study {esc(study)}; written {esc(generated)} by "
        f"results/report</p>",
        "<nav><a href=\"#warnings\">warnings</a><a href=\"#summary\">summary</a>"
        "<a href=\"#plots\">plots</a><a href=\"#runs\">runs</a>"
        "<a href=\"#terminal\">terminal table</a></nav>",
        warnings_section(warnings),
        "<section id=\"summary\"><h2>Summary</h2>",
        "<p class=\"note\">Warm-up steps excluded; step: the slowest rank's step_s (the "
        "phases' span); wall: its wall_s, which throughput comes from (^: step_s, files "
        "without wall_s); one run's interval is over its steps, repeats' a t-interval over "
        "their medians; imbalance * over sampled ranks only. Definitions: the docstring of "
        "results/scalebench_results/analysis.py, and summary.json.</p>",
    ]
    p += [group_table(g, warned) for g in groups]
    if comparisons:
        p.append(comparison_tables(comparisons))
    p.append("</section>")

    p.append("<section id=\"plots\"><h2>Plots</h2>")
    if plots is None:
        p.append("<p class=\"note\">Plots were not drawn (--no-plots).</p>")
    for i, (name, svg) in enumerate(plots or []):
        files = plot_files.get(name, [])
        links = " ".join(f"<a href=\"{esc(urllib.parse.quote(os.path.basename(f)))}\">"
                         f"{esc(os.path.splitext(f)[1][1:])}</a>" for f in files)
        p.append(f"<figure id=\"plot-{esc(name)}\">{inline_svg(svg, f'f{i}-')}"
                 f"<figcaption><b>{esc(name)}</b>: {esc(PLOT_CAPTIONS.get(name, ''))}"
                 + (f" <span class=\"small\">({links})</span>" if links else "")
                 + "</figcaption></figure>")
    p.append("</section>")

    p.append("<section id=\"runs\"><h2>Runs</h2>")
    if timelines_available:
        p.append("<p class=\"note\">Timelines: Chrome trace files (open them in the Perfetto "
                 "UI, ui.perfetto.dev, or chrome://tracing).</p>")
    else:
        p.append(f"<p class=\"note\">Timelines are unavailable: {esc(timelines_note)}.</p>")
    p.append(runs_table(runs, run_rows, timelines, timelines_available, warned))
    if skipped:
        p.append("<h3>Skipped</h3><ul>" + "".join(f"<li>{esc(s.get('reason'))}</li>"
                                                 for s in skipped) + "</ul>")
    p.append("</section>")

    p.append("<section id=\"terminal\"><h2>Terminal table</h2>"
             "<p class=\"note\">As results/report prints it, with the bandwidth per message "
             "size, what overlap saved and the costs.</p>"
             f"<pre>{esc(text)}</pre></section>")
    p.append("</body></html>\n")
    return "\n".join(p)


def write_atomic(path: str, text: str) -> None:
    """The page, written so that a browser refreshing sees the old page or the new, never half."""
    write_text_atomic(path, text)
