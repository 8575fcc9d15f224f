"""The predicted curve of results/report (docs/prediction.md, "In results/report").

For each scaling group of a study, predict.predict is run (in this process, not as a command)
on the group's run files with the study's `scalebench allreduce` files as the levels: the
compute comes from the group's smallest-scale run, every other point is predicted and compared.
Each group row of analysis.analyze_groups then holds "prediction": what was predicted, or in
one line why nothing was (the report writes that line and draws no curve); a failure of the
prediction never fails the report.

Per predicted point (the points of the group row get these keys):
    predicted_step_s, predicted_step_s_p10, predicted_step_s_p90   (predict's step_s band)
    predicted_wall_s, predicted_throughput_samples_per_s           (global batch / wall)
    predicted_speedup, predicted_efficiency                        (over the group's baseline
                                                                    point, as measured ones)
    predicted_speedup_p10, predicted_speedup_p90                   (from the wall band)
    predicted_step_error = predicted_step_s / median_step_s - 1    (the measured point's)
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import h5py

from . import commmodel, predict
from . import warnings as report_warnings

ALLREDUCE_SUFFIXES = (".h5", ".hdf5")


def is_allreduce_file(path: str) -> bool:
    """Whether `path` is a `scalebench allreduce -o` file (its format attribute says so)."""
    if not path.endswith(ALLREDUCE_SUFFIXES):
        return False
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
    except (OSError, ValueError):
        return False
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", "replace")
    return fmt == commmodel.ALLREDUCE_FORMAT


def _attrs(path: str) -> Dict[str, Any]:
    with h5py.File(path, "r") as f:
        out = {}
        for k in ("device", "backend", "world_size", "status", "nodes", "ranks_per_node"):
            v = f.attrs.get(k)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            out[k] = v.item() if hasattr(v, "item") else v
    return out


def choose_allreduce(files: Sequence[str], device: str) -> Tuple[Optional[str], Optional[str]]:
    """(the allreduce file to fit the levels from, why none): one completed file of the
    group's device; of several, the one of most ranks (nearest the study's largest points;
    predict refuses two fits of one level)."""
    usable = []
    for path in files:
        try:
            a = _attrs(path)
        except (OSError, ValueError) as e:
            return None, f"{path}: cannot be read ({e})"
        if a.get("status") != "completed" or a.get("device") != device:
            continue
        usable.append((int(a.get("world_size") or 0), path))
    if not usable:
        if files:
            return None, (f"none of the study's {len(files)} `scalebench allreduce` file(s) is "
                          f"a completed sweep on device {device}")
        return None, None
    return max(usable)[1], None


NO_LEVEL_REASON = ("no `scalebench allreduce` file in the study to fit the allreduce from "
                   "(results/predict fits its levels from those files or takes --link/--intra; "
                   "it makes no fit from the run files' own bucket times)")


def study_cores_per_node(runs: Sequence[Any]) -> Optional[int]:
    """CPU runs: the most CPUs any host of the study's runs let its ranks run on (the union of
    their /ranks/cpu_affinity), or None when no run says. The report predicts the study's own
    points, so the study's hosts are the target nodes; a launcher that binds a 1-rank run to one
    core narrows its set, which is why the largest over the runs is taken (still a lower bound of
    the node's cores)."""
    best = None
    for run in runs:
        if getattr(run, "device", None) != "cpu":
            return None
        try:
            loads = report_warnings.host_loads(run)
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
        for h in loads:
            if h.cpus:
                best = h.cpus if best is None else max(best, h.cpus)
    return best


def predict_group(row: Dict[str, Any], runs: Sequence[Any], allreduce: Sequence[str]
                  ) -> Dict[str, Any]:
    """The prediction of one group row (analysis.analyze_groups) from its runs: the
    "prediction" entry, and the predicted_* keys set on the row's points."""
    points = row["points"]
    if len(points) < 2:
        return {"status": "not predicted",
                "reason": "one point only: nothing beyond the profile run to predict"}
    if any(getattr(r, "schema_version", 3) < 3 for r in runs):
        return {"status": "not predicted",
                "reason": "schema version 1-2 files have no bucket ready times: results/"
                          "predict needs version 3"}
    chosen, why = choose_allreduce(allreduce, row["device"])
    if chosen is None:
        return {"status": "not predicted", "reason": why or NO_LEVEL_REASON}
    argv = [r.path for r in runs] + ["--allreduce", chosen, "--out", os.devnull]
    cores = study_cores_per_node(runs)
    if cores:
        # Ranks that share cores compute slower (the contention term of the prediction).
        argv += ["--cores-per-node", str(cores)]
    args = predict.parse_args(argv)
    try:
        result = predict.predict(args)
    except predict.PredictError as e:
        return {"status": "not predicted", "reason": f"results/predict refused: {e}"}
    except Exception as e:  # noqa: BLE001 - the prediction never fails the report
        return {"status": "not predicted",
                "reason": f"results/predict failed: {type(e).__name__}: {e}"}
    by_key = {(p["nodes"], p["world_size"]): p for p in result["points"]}
    base = points[0]
    pb = by_key.get((base["nodes"], base["world_size"]))
    missing = [p["label"] for p in points if (p["nodes"], p["world_size"]) not in by_key]
    if pb is None:
        return {"status": "not predicted",
                "reason": f"results/predict gave no point at the baseline {base['label']} "
                          f"({'; '.join(n for n in result['notes'] if 'not compared' in n)})"}
    base_tp = pb["throughput_samples_per_s"]
    for p in points:
        pt = by_key.get((p["nodes"], p["world_size"]))
        if pt is None:
            continue
        tp = pt["throughput_samples_per_s"]
        scale = base["world_size"] / p["world_size"]
        speedup = tp / base_tp
        gb = pt["global_batch"]
        p.update({
            "predicted_step_s": pt["step_s"]["median"],
            "predicted_step_s_p10": pt["step_s"]["p10"],
            "predicted_step_s_p90": pt["step_s"]["p90"],
            "predicted_wall_s": pt["wall_s"]["median"],
            "predicted_throughput_samples_per_s": tp,
            "predicted_speedup": speedup,
            "predicted_efficiency": speedup * scale,
            # the wall band of the point over the baseline's median
            "predicted_speedup_p10": gb / pt["wall_s"]["p90"] / base_tp,
            "predicted_speedup_p90": gb / pt["wall_s"]["p10"] / base_tp,
            "predicted_step_error": (pt["step_s"]["median"] / p["median_step_s"] - 1.0
                                     if p.get("median_step_s") else None),
            "predicted_is_profile": p is base and p["world_size"] == result["profile_world_size"],
        })
    out = {"status": "predicted", "reason": None, "profile": result["profile"],
           "profile_world_size": result["profile_world_size"], "allreduce_file": chosen,
           "allreduce_files_in_study": list(allreduce), "algorithm": result["algorithm"],
           "backend": result["backend"], "levels": result["levels"],
           "notes": result["notes"] + ([f"cores per node {cores}: the most CPUs the study's "
                                        f"ranks of one host could run on (/ranks/cpu_affinity)"]
                                       if cores else []),
           "cores_per_node": cores, "not_predicted_points": missing}
    if len(allreduce) > 1:
        out["notes"] = out["notes"] + [f"levels from {chosen}, the sweep of most ranks of "
                                       f"the {len(allreduce)} in the study"]
    return out


def predict_groups(group_rows: List[Dict[str, Any]], groups: Sequence[Any],
                   allreduce: Sequence[str]) -> None:
    """Sets row["prediction"] on every group row (analysis.analyze_groups output, in the
    order of `groups`)."""
    for row, g in zip(group_rows, groups):
        runs = [r for key in g.point_keys() for r in g.runs_by_point[key]]
        row["prediction"] = predict_group(row, runs, allreduce)


def has_curve(g: Dict[str, Any]) -> bool:
    return (g.get("prediction") or {}).get("status") == "predicted"


def reason_lines(group_rows: Sequence[Dict[str, Any]]) -> List[str]:
    """One line per group without a prediction, and per group with one where it came from."""
    lines = []
    for g in group_rows:
        pr = g.get("prediction")
        if not pr:
            continue
        if pr["status"] == "predicted":
            lines.append(f"predicted scaling: {g['group']}: from {pr['profile']} and "
                         f"{pr['allreduce_file']} (results/predict, --algorithm "
                         f"{pr['algorithm']}, backend {pr['backend']})")
        else:
            lines.append(f"predicted scaling: {g['group']}: not predicted: {pr['reason']}")
    return lines


def error_cell(p: Dict[str, Any]) -> str:
    e = p.get("predicted_step_error")
    if e is None or not math.isfinite(e):
        return "-"
    if p.get("predicted_is_profile"):
        return "profile"
    return f"{e * 100:+.1f}%"
