#!/usr/bin/env python3
"""How far results/predict is from what was measured (issue 19's validation).

For each model and repeat: measure the smallest scale (1 rank) and the larger ones at the same
per-rank batch (weak scaling, 1 thread per rank), and `scalebench allreduce` at each larger scale
over the bucket sizes training uses; predict each larger scale's step from the 1-rank run and the
allreduce file of that scale alone, and compare. Each repeat is a fresh set of runs (repeats are
the outer loop, models the inner one, so drift of the machine spreads over all models alike), so
the error's spread shows along with its size.

Settings (--setting):
  host      one host, --ranks (default 2; e.g. 2,4) ranks x 1 thread (4 ranks oversubscribe the
            test VM's 2 cores: the prediction gets --cores-per-node = this machine's CPUs, `nproc`)
  cluster   the emulated cluster (scripts/cluster, no Slurm): for each of --links (unshaped, 1gbit)
            a cluster of max(--hosts) hosts is brought up, runs at 1 and --hosts hosts x 1 rank,
            allreduce at --hosts hosts x 1 rank (scope all = across the links); it is taken down
            again, also on failure. The emulated hosts share this machine's cores, so the
            prediction gets --shared-cores = `nproc` (all ranks of all nodes share those cores).

Reported per model, setting and repeat: measured and predicted step time, the relative error, and
per phase the modelled against the measured figure (forward, backward, optimizer: median over steps
of the slowest rank; comm busy: the fastest rank's median comm_busy_s, against the sum of the modelled
bucket times, as the sweep ran them; exposed: the slowest rank's median comm_exposed_s); then per
model the median and worst absolute error. The predictions get the machine's cores (`nproc`) as
--cores-per-node (one host) or --shared-cores (cluster); at 2 ranks on 2 cores that changes nothing
but the communication thread's share of the cores, which --predict-args=--comm-contention=off takes
out again (the model before 2026-12-03).

Every `scalebench allreduce` run here is given --beside-compute --compute-threads 1 by default (the
sweep again, scope all+compute, while every rank multiplies matrices on a thread of its own, 1
thread as the training runs): results/predict's default --comm-contention auto then takes a
bucket's rate beside backward from those rows ("measured"; docs/prediction.md, "Compute and
communication sharing cores"). It about doubles the sweep's time. --no-beside-compute leaves the
flag out (the files then have no such rows and auto falls back to "share", processor sharing, as
it does for files kept before the flag existed); --predict-args=--comm-contention=share compares
the two on the same files. The per-phase lines name the mode each prediction used
("contention measured|share|off").

  bench/predict_accuracy.py                              # one host, 1 -> 2 ranks; 3 repeats
  bench/predict_accuracy.py --ranks 2,4 --keep runs/pa-host
  bench/predict_accuracy.py --setting cluster --hosts 2,4 --links unshaped,1gbit --keep runs/pa-cl
  bench/predict_accuracy.py --predict-only runs/pa-host  # re-predict kept files (no measuring)

--keep DIR keeps every run and allreduce file (and results.json); --predict-only DIR predicts again
from such a directory with the current results/predict, measuring nothing.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PREDICT = os.path.join(os.path.dirname(HERE), "results", "predict")
DEFAULT_MODELS = "cifar10_cnn:32,fcn_r:64,resnet56:16"
PHASES = ("forward_s", "backward_s", "optimizer_s")


def measured_figures(path):
    """Per-phase medians of a run file (see the docstring)."""
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        warm = f["steps/warmup"][()][:, 0].astype(bool)
        out = {n: float(np.median(np.max(f["steps/" + n][()][~warm], axis=1))) for n in PHASES}
        out["comm_busy_s"] = float(np.median(np.min(f["steps/comm_busy_s"][()][~warm], axis=1)))
        out["exposed_comm_s"] = float(np.median(np.max(f["steps/comm_exposed_s"][()][~warm], axis=1)))
        out["cpu_affinity"] = sorted(set(f["ranks/cpu_affinity"].asstr()[()]))
        return out


def largest_bucket(path):
    import h5py
    with h5py.File(path, "r") as f:
        b = f["buckets/bytes"][()]
        return int(b.max()) if len(b) else 1024


def sweep_top(nbytes):
    """The smallest 1 KiB x 4^k at or above nbytes: the sweep's last size (-f 4 from 1K)."""
    top = 1024
    while top < nbytes:
        top *= 4
    return top


# --- measuring --------------------------------------------------------------------------------

class Host:
    """Runs on this machine (mpirun --oversubscribe, Open MPI's default binding)."""
    label = "host"

    def __init__(self, binary):
        self.binary = binary

    def train(self, n, model, out, batch, steps, warmup):
        benchlib.run_train(self.binary, n, model, out, batch, steps, warmup, 1, ("--overlap", "on"))

    def allreduce(self, n, out, top, iters, warmup, extra=()):
        # benchlib.run_allreduce's command, with the --beside-compute flags (extra)
        cmd = benchlib.mpirun_prefix(n) + [
            self.binary, "allreduce", "--device", "cpu", "-b", "1024", "-e", str(top), "-f", "4",
            "-n", str(iters), "-w", str(warmup), "-o", out] + list(extra)
        benchlib.run_job(cmd, timeout=900)


class Cluster(benchlib.EmulatedCluster):
    """Runs on an emulated cluster, n hosts x 1 rank (scripts/cluster's Open MPI settings); a
    context manager: brought up on entry, taken down on exit."""

    def __init__(self, binary, name, hosts, link):
        super().__init__(name, hosts, link)
        self.binary = binary
        self.label = f"cluster-{link}"

    def train(self, n, model, out, batch, steps, warmup):
        self.run("mpirun", "-np", str(n), "--ranks-per-node", "1", self.binary, "train",
                      "--model", model, "--device", "cpu", "--threads", "1", "--batch-size", str(batch),
                      "--steps", str(steps), "--warmup-steps", str(warmup), "--overlap", "on",
                      "--quiet", "--output", out)

    def allreduce(self, n, out, top, iters, warmup, extra=()):
        self.run("mpirun", "-np", str(n), "--ranks-per-node", "1", self.binary, "allreduce",
                      "--device", "cpu", "-b", "1K", "-e", str(top), "-f", "4", "-n", str(iters),
                      "-w", str(warmup), "--scope", "all", "-o", out, *extra)


BESIDE_COMPUTE = ("--beside-compute", "--compute-threads", "1")  # 1 thread per rank, as train


def measure(runner, setting_dir, models, scales, repeats, steps, warmup, iters, ar_warmup,
            beside_compute=True):
    """Run files DIR/MODEL-rK/npN.h5, allreduce files DIR/ar-rK-npN.h5 (one per repeat and scale,
    shared by the models: it measures the machine, not a model; its sizes reach the largest
    bucket of any model), with --beside-compute unless beside_compute is False."""
    os.makedirs(setting_dir, exist_ok=True)
    top = 1024
    for r in range(repeats):
        for model, batch in models:
            runs = os.path.join(setting_dir, f"{model}-r{r}")
            os.makedirs(runs, exist_ok=True)
            for n in (1,) + tuple(scales):
                path = os.path.join(runs, f"np{n}.h5")
                if os.path.exists(path):
                    os.remove(path)
                runner.train(n, model, path, batch, steps, warmup)
                top = max(top, sweep_top(largest_bucket(path)))
                print(f"  {runner.label} repeat {r + 1}: {model} at {n} measured", flush=True)
        for n in scales:
            path = os.path.join(setting_dir, f"ar-r{r}-np{n}.h5")
            if os.path.exists(path):
                os.remove(path)
            runner.allreduce(n, path, top, iters, ar_warmup, BESIDE_COMPUTE if beside_compute else ())
            print(f"  {runner.label} repeat {r + 1}: allreduce at {n} (1K..{top} B"
                  f"{', also beside compute' if beside_compute else ''}) measured", flush=True)


# --- predicting -------------------------------------------------------------------------------

def predict_one(setting_dir, model, r, n, cores_option, cores, extra=()):
    runs = os.path.join(setting_dir, f"{model}-r{r}")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "runs")
        os.mkdir(inputs)
        for k in (1, n):
            os.symlink(os.path.join(runs, f"np{k}.h5"), os.path.join(inputs, f"np{k}.h5"))
        out = os.path.join(tmp, "pred")
        cmd = [sys.executable, PREDICT, inputs, "--allreduce",
               os.path.join(setting_dir, f"ar-r{r}-np{n}.h5"), cores_option, str(cores), "--out", out]
        cmd += list(extra)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            sys.exit(f"error: results/predict failed: {res.stderr.strip()}")
        with open(os.path.join(out, "prediction.json")) as f:
            pred = json.load(f)
    (c,) = [c for c in pred["comparisons"] if not c["is_profile"]]
    (pt,) = [q for q in pred["points"] if q["world_size"] == n]
    meas = measured_figures(os.path.join(runs, f"np{n}.h5"))
    prof = measured_figures(os.path.join(runs, "np1.h5"))
    row = {"ranks": n, "repeat": r, "measured_step_s": c["measured_step_s"],
           "predicted_step_s": c["predicted_step_s"], "error": c["step_rel_error"],
           "measured": meas, "profile": prof,
           "modelled": {"comm_busy_s": pt["comm_busy_s"],
                        "exposed_comm_s": pt["exposed_comm_s"]["median"],
                        **{k: pt[k]["median"] for k in PHASES if k in pt}},
           "compute_factor": pt.get("compute_factor"),
           # the contention model results/predict used at the point (measured, share, off)
           "comm_contention": pt.get("comm_contention")}
    return row


def fmt_ms(x):
    return "-" if x is None else f"{x * 1e3:.1f}"


def predict_all(setting_dir, meta, extra=()):
    models = [tuple(m) for m in meta["models"]]
    results = {}
    for model, batch in models:
        for n in meta["scales"]:
            rows = []
            for r in range(meta["repeats"]):
                row = predict_one(setting_dir, model, r, n, meta["cores_option"], meta["cores"], extra)
                rows.append(row)
                md, ms, pr = row["modelled"], row["measured"], row["profile"]
                print(f"  {meta['label']} {model} np{n} r{r + 1}: measured {fmt_ms(row['measured_step_s'])} ms, "
                      f"predicted {fmt_ms(row['predicted_step_s'])} ms ({row['error'] * 100:+.1f} %); "
                      + "; ".join(f"{k[:-2]} {fmt_ms(pr[k])}->{fmt_ms(ms[k])} (model {fmt_ms(md.get(k))})"
                                  for k in PHASES)
                      + f"; comm busy {fmt_ms(ms['comm_busy_s'])} (model {fmt_ms(md['comm_busy_s'])}), "
                      f"exposed {fmt_ms(ms['exposed_comm_s'])} (model {fmt_ms(md['exposed_comm_s'])}); "
                      f"contention {row['comm_contention'] or '-'}",
                      flush=True)
            errors = [abs(x["error"]) for x in rows]
            results[f"{model}@{n}"] = {"model": model, "batch_per_rank": batch, "ranks": n, "repeats": rows,
                                       "median_abs_error": statistics.median(errors),
                                       "worst_abs_error": max(errors)}
    return results


def print_table(label, results):
    unit = "hosts" if label.startswith("cluster") else "ranks"
    print(f"\n{label}:\n")
    print(f"| model | batch/rank | {unit} | measured step ms | predicted ms | errors | median abs | worst abs |")
    print("| --- | ---: | ---: | --- | --- | --- | ---: | ---: |")
    for r in results.values():
        m = [x["measured_step_s"] for x in r["repeats"]]
        q = [x["predicted_step_s"] for x in r["repeats"]]
        e = ", ".join(f"{x['error'] * 100:+.1f}" for x in r["repeats"])
        print(f"| {r['model']} | {r['batch_per_rank']} | {r['ranks']} | {benchlib.fmt_range(m, 1e3, 1)} | "
              f"{benchlib.fmt_range(q, 1e3, 1)} | {e} % | {r['median_abs_error'] * 100:.1f} % | "
              f"{r['worst_abs_error'] * 100:.1f} % |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=DEFAULT_MODELS, help="MODEL:BATCH,... (per-rank batch)")
    p.add_argument("--setting", choices=("host", "cluster"), default="host")
    p.add_argument("--ranks", default="2", help="host: the ranks to predict (comma list; 1 is the profile)")
    p.add_argument("--hosts", default="2,4", help="cluster: the hosts to predict, 1 rank each")
    p.add_argument("--links", default="unshaped,1gbit", help="cluster: comma list, unshaped or a tc rate")
    p.add_argument("--cluster-name", default="predacc", help="cluster: scripts/cluster --name")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ar-iters", type=int, default=10, help="allreduce iterations per size (-n)")
    p.add_argument("--ar-warmup", type=int, default=3, help="allreduce warm-up iterations (-w)")
    p.add_argument("--bin", help="scalebench binary (default $SCALEBENCH_BIN or build/scalebench)")
    p.add_argument("--keep", metavar="DIR", help="keep the run and allreduce files in DIR")
    p.add_argument("--predict-only", metavar="DIR", help="predict again from a --keep DIR; measure nothing")
    p.add_argument("--beside-compute", action=argparse.BooleanOptionalAction, default=True,
                   help="give the allreduce sweeps --beside-compute --compute-threads 1 (default; "
                        "--no-beside-compute: leave it out, the predictions then use processor sharing)")
    p.add_argument("--predict-args", default="", help="more results/predict options, e.g. "
                   "--predict-args=--comm-contention=off (the model without the comm/compute core "
                   "sharing) or =share (processor sharing even where the files have beside-compute rows)")
    p.add_argument("--json", help="write every figure to this file")
    args = p.parse_args()
    benchlib.ensure_modules("numpy", "h5py", "matplotlib")
    cores = os.cpu_count()
    all_results = {}
    if args.predict_only:
        with open(os.path.join(args.predict_only, "meta.json")) as f:
            metas = json.load(f)
        for meta in metas:
            all_results[meta["label"]] = predict_all(os.path.join(args.predict_only, meta["label"]), meta,
                                                     args.predict_args.split())
    else:
        binary = benchlib.scalebench_binary(args.bin)
        models = benchlib.parse_model_batches(args.models)
        root = args.keep or tempfile.mkdtemp(prefix="scalebench-predacc-")
        os.makedirs(root, exist_ok=True)
        metas = []
        try:
            if args.setting == "host":
                scales = [int(x) for x in args.ranks.split(",") if int(x) > 1]
                runners = [(Host(binary), "--cores-per-node")]
            else:
                if os.geteuid() != 0:
                    sys.exit("bench/predict_accuracy.py: --setting cluster needs root")
                scales = [int(x) for x in args.hosts.split(",") if int(x) > 1]
                runners = [(Cluster(binary, args.cluster_name, max(scales), link), "--shared-cores")
                           for link in args.links.split(",")]
            for runner, cores_option in runners:
                meta = {"label": runner.label, "models": models, "scales": scales, "repeats": args.repeats,
                        "steps": args.steps, "warmup": args.warmup, "cores_option": cores_option,
                        "cores": cores, "beside_compute": bool(args.beside_compute)}
                d = os.path.join(root, runner.label)
                if isinstance(runner, Cluster):
                    with runner:
                        measure(runner, d, models, scales, args.repeats, args.steps, args.warmup,
                                args.ar_iters, args.ar_warmup, args.beside_compute)
                else:
                    measure(runner, d, models, scales, args.repeats, args.steps, args.warmup,
                            args.ar_iters, args.ar_warmup, args.beside_compute)
                metas.append(meta)
                with open(os.path.join(root, "meta.json"), "w") as f:
                    json.dump(metas, f, indent=2)
            for meta in metas:
                all_results[meta["label"]] = predict_all(os.path.join(root, meta["label"]), meta,
                                                         args.predict_args.split())
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    for label, results in all_results.items():
        print_table(label, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_results, f, indent=2)


if __name__ == "__main__":
    main()
