#!/usr/bin/env python3
"""How far results/predict is from what was measured (issue 19's validation, on one host).

For each model: measure 1 and 2 ranks (1 thread per rank, the same per-rank batch: weak
scaling) and `scalebench allreduce` at 2 ranks over the bucket sizes training uses, predict the
2-rank step from the 1-rank run and the allreduce file alone, and compare. Repeated --repeats
times, each repeat a fresh set of runs, so the error's spread shows along with its size.
Reported per model and repeat: measured and predicted 2-rank step time, the relative error, and
the modelled against the measured communication (the sum of the modelled bucket times, against
the fastest rank's median comm_busy_s); then per model the median and worst absolute error.

  bench/predict_accuracy.py                              # cifar10_cnn, fcn_r, resnet56; 3 repeats
  bench/predict_accuracy.py --models cifar10_cnn:32 --repeats 5 --steps 30
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PREDICT = os.path.join(os.path.dirname(HERE), "results", "predict")
DEFAULT_MODELS = "cifar10_cnn:32,fcn_r:64,resnet56:16"


def measured_comm_busy(path):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        warm = f["steps/warmup"][()][:, 0].astype(bool)
        return float(np.median(np.min(f["steps/comm_busy_s"][()][~warm], axis=1)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=DEFAULT_MODELS, help="MODEL:BATCH,... (per-rank batch)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bin", help="scalebench binary (default $SCALEBENCH_BIN or build/scalebench)")
    p.add_argument("--json", help="write every figure to this file")
    args = p.parse_args()
    benchlib.ensure_modules("numpy", "h5py", "matplotlib")
    binary = benchlib.scalebench_binary(args.bin)
    models = benchlib.parse_model_batches(args.models)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, batch in models:
            rows = []
            for r in range(args.repeats):
                runs = os.path.join(tmp, f"{model}-{r}")
                os.mkdir(runs)
                paths = {}
                for n in (1, 2):
                    paths[n] = os.path.join(runs, f"np{n}.h5")
                    benchlib.run_train(binary, n, model, paths[n], batch, args.steps, args.warmup, 1,
                                       ("--overlap", "on"))
                ar = os.path.join(tmp, f"{model}-{r}-ar.h5")
                benchlib.run_allreduce(binary, 2, ar, 1024, 64 << 20, iters=10, warmup=3, factor=4)
                out = os.path.join(tmp, f"{model}-{r}-pred")
                res = subprocess.run([sys.executable, PREDICT, runs, "--allreduce", ar, "--out", out],
                                     capture_output=True, text=True, timeout=600)
                if res.returncode != 0:
                    sys.exit(f"error: results/predict failed: {res.stderr.strip()}")
                with open(os.path.join(out, "prediction.json")) as f:
                    pred = json.load(f)
                (c,) = [c for c in pred["comparisons"] if not c["is_profile"]]
                (pt,) = [q for q in pred["points"] if q["world_size"] == 2]
                row = {"measured_step_s": c["measured_step_s"], "predicted_step_s": c["predicted_step_s"],
                       "error": c["step_rel_error"], "modelled_comm_s": pt["comm_busy_s"],
                       "measured_comm_s": measured_comm_busy(paths[2])}
                rows.append(row)
                print(f"  {model} repeat {r + 1}: measured {row['measured_step_s'] * 1e3:.1f} ms, predicted "
                      f"{row['predicted_step_s'] * 1e3:.1f} ms ({row['error'] * 100:+.1f} %); comm modelled "
                      f"{row['modelled_comm_s'] * 1e3:.2f} ms, measured {row['measured_comm_s'] * 1e3:.2f} ms",
                      flush=True)
            errors = [abs(x["error"]) for x in rows]
            results[model] = {"batch_per_rank": batch, "repeats": rows,
                              "median_abs_error": statistics.median(errors), "worst_abs_error": max(errors)}
    print("\n| model | batch/rank | 2-rank step, measured ms | predicted ms | error | median abs | worst abs |")
    print("| --- | ---: | --- | --- | --- | ---: | ---: |")
    for model, r in results.items():
        m = [x["measured_step_s"] for x in r["repeats"]]
        q = [x["predicted_step_s"] for x in r["repeats"]]
        e = ", ".join(f"{x['error'] * 100:+.1f} %" for x in r["repeats"])
        print(f"| {model} | {r['batch_per_rank']} | {benchlib.fmt_range(m, 1e3, 1)} | {benchlib.fmt_range(q, 1e3, 1)} "
              f"| {e} | {r['median_abs_error'] * 100:.1f} % | {r['worst_abs_error'] * 100:.1f} % |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": args.steps, "warmup": args.warmup, "models": results}, f, indent=2)


if __name__ == "__main__":
    main()
