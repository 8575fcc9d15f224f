#!/usr/bin/env python3
"""What one rank costs as the world grows: peak RSS per rank and start-up time against ranks.

A scaling tool must not itself stop scaling: with per-rank synthetic data a rank's memory and its
time to the first step should not depend on the world size. For each model and rank count this
runs `scalebench train` on synthetic data for a few steps (oversubscribed: the ranks share the
machine's cores, which slows steps but not what a rank holds) and reports, per rank count,
  - peak RSS per rank (max over steps of /steps/peak_rss_bytes; median and max over ranks),
  - job time (mpirun to exit) and the median step time; job - steps x step time is the start-up
    (MPI start, model build, synthetic data, broadcast, file), which must not grow either.
RSS is also given as a ratio to the 1-rank run, measured side by side in one run.

  bench/scale.py                                       # catsdogs_cnn b32, 1..16 ranks
  bench/scale.py --models catsdogs_cnn:32,resnet50:16 --ranks 1,2,4,8
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

benchlib.ensure_modules("numpy", "h5py")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

MIB = 1024.0 * 1024.0


def measure(binary, model, batch, ranks, steps, out):
    start = time.monotonic()
    benchlib.run_train(binary, ranks, model, out, batch, steps, 1, 1, timeout=3600)
    job_s = time.monotonic() - start
    with h5py.File(out, "r") as f:
        rss = f["steps/peak_rss_bytes"][()].max(axis=0) / MIB     # per rank
        step = float(np.median(f["steps/step_s"][()].max(axis=1)))
    return {"rss_median": float(np.median(rss)), "rss_max": float(rss.max()), "job_s": job_s,
            "step_s": step, "startup_s": job_s - steps * step}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="catsdogs_cnn:32", help="MODEL:BATCH,... (per-rank batch)")
    p.add_argument("--ranks", default="1,2,4,8,16")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--bin")
    args = p.parse_args()
    binary = benchlib.scalebench_binary(args.bin)
    print(f"# bench/scale.py: synthetic data, {args.steps} steps (1 warm-up), 1 thread/rank, "
          f"{os.cpu_count()} cores (ranks beyond them oversubscribe)\n")
    print("| model | batch/rank | ranks | peak RSS/rank MiB (median, max) | ratio to 1 rank | job s | "
          "step s | start-up s (job - steps) |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.models.split(","):
            model, batch = spec.split(":")
            base = None
            for n in [int(x) for x in args.ranks.split(",")]:
                r = measure(binary, model, int(batch), n, args.steps, os.path.join(tmp, f"{model}-{n}.h5"))
                base = base or r
                print(f"| {model} | {batch} | {n} | {r['rss_median']:.0f}, {r['rss_max']:.0f} | "
                      f"{r['rss_max'] / base['rss_max']:.3f} | {r['job_s']:.1f} | {r['step_s']:.3f} | "
                      f"{r['startup_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
