#!/usr/bin/env python3
"""Does writing the run file show up in the step figures? (It must not: docs/measurements.md.)

Rank 0 gathers every rank's records every --flush-every steps and appends them to the file; the
write runs on rank 0's writer thread, so neither rank 0's step nor the other ranks (who would
otherwise wait for rank 0 in the next collective) should contain it. This runs one small model
with --flush-every 1 (a write after every step), 10 and 1000 (one write at the end), in
interleaved rounds, and reports from the run files, over measured steps:
  - the slowest rank's step_s: median and p95 per setting, and their ratio to --flush-every 1000;
  - the same for wall_s (start to start: the gather itself is between-step work, in other_s);
  - with --flush-every 10: the steps right after a flush (the write runs beside them) against the
    others, median step_s ratio: not outliers if near 1.
With --bin-before (a build without the writer thread) the same table is made for it, side by side.

  bench/flush_cost.py                                  # alexnet_r, batch 1, 2 ranks, 3 rounds
  bench/flush_cost.py --bin-before /tmp/old/scalebench --model fcn_s --batch 8
"""
import argparse
import collections
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

benchlib.ensure_modules("numpy", "h5py")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

SETTINGS = (1, 10, 1000)


def figures(path, flush_every):
    with h5py.File(path, "r") as f:
        s = f["steps"]
        meas = s["warmup"][()][:, 0] == 0
        step = s["step_s"][()].max(axis=1)
        wall = s["wall_s"][()].max(axis=1) if "wall_s" in s else np.full(step.shape, np.nan)
        index = s["step"][()][:, 0]
    # The records of steps up to k*K-1 are gathered at the start of step k*K's iteration, and the
    # write runs beside step k*K (and, if it is slow, the next ones).
    after = (index % flush_every == 0) & (index > 0)
    out = {"step": step[meas], "wall": wall[meas]}
    if flush_every > 1:
        out["after_flush"] = step[meas & after]
        out["other"] = step[meas & ~after]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="alexnet_r")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bin")
    p.add_argument("--bin-before", help="a scalebench build to compare with (e.g. without the writer thread)")
    args = p.parse_args()
    binaries = {"this build": benchlib.scalebench_binary(args.bin)}
    if args.bin_before:
        binaries["before"] = benchlib.scalebench_binary(args.bin_before)
    print(f"# bench/flush_cost.py: {args.model}, batch {args.batch}/rank, {args.ranks} ranks x 1 thread, "
          f"{args.steps} steps ({args.warmup} warm-up), {args.rounds} interleaved rounds, "
          f"{os.cpu_count()} cores\n")
    pooled = collections.defaultdict(lambda: collections.defaultdict(list))
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for label, binary in binaries.items():
                for k in SETTINGS:
                    out = os.path.join(tmp, f"{label.replace(' ', '_')}-f{k}-r{rnd}.h5")
                    benchlib.run_train(binary, args.ranks, args.model, out, args.batch, args.steps,
                                       args.warmup, 1, extra=["--flush-every", str(k)], timeout=3600)
                    for name, values in figures(out, k).items():
                        pooled[(label, k)][name].extend(values.tolist())
    print("| build | --flush-every | step ms median | p95 | median / f1000 | p95 / f1000 | "
          "wall ms median | p95 | steps after a flush / others (median step) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in binaries:
        base = np.array(pooled[(label, 1000)]["step"])
        for k in SETTINGS:
            v = pooled[(label, k)]
            step, wall = np.array(v["step"]), np.array(v["wall"])
            ratio_med = np.median(step) / np.median(base)
            ratio_p95 = np.percentile(step, 95) / np.percentile(base, 95)
            after = (f"{np.median(v['after_flush']) / np.median(v['other']):.3f}"
                     if k > 1 and v.get("after_flush") else "-")
            wall_cols = (f"{np.median(wall) * 1e3:.3f} | {np.percentile(wall, 95) * 1e3:.3f}"
                         if np.all(np.isfinite(wall)) else "- | -")
            print(f"| {label} | {k} | {np.median(step) * 1e3:.3f} | {np.percentile(step, 95) * 1e3:.3f} | "
                  f"{ratio_med:.3f} | {ratio_p95:.3f} | {wall_cols} | {after} |", flush=True)


if __name__ == "__main__":
    main()
