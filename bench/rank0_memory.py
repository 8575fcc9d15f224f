#!/usr/bin/env python3
"""Rank 0's memory over a long run: it must not grow with the steps.

Rank 0 gathers every rank's records at each flush, appends them to the file and folds them into
the run summary (bounded sketches); it keeps no record beyond the current flush. This runs a
tiny model (alexnet_r, batch 1, ~2 ms a step here) for --steps steps and prints each rank's peak
RSS (/steps/peak_rss_bytes, the process's VmHWM, which only grows) at a few points along the run:
growth after the first thousand steps would be memory that grows with the steps.

  bench/rank0_memory.py                      # 2 ranks x 100,000 steps
  bench/rank0_memory.py --ranks 4 --steps 20000
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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="alexnet_r")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--bin")
    args = p.parse_args()
    binary = benchlib.scalebench_binary(args.bin)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "long.h5")
        start = time.monotonic()
        benchlib.run_train(binary, args.ranks, args.model, out, 1, args.steps, 10, 1, timeout=7200)
        job_s = time.monotonic() - start
        with h5py.File(out, "r") as f:
            rss = f["steps/peak_rss_bytes"]
            points = sorted({min(s, args.steps - 1) for s in
                             (100, 1000, 10000, args.steps // 2, args.steps - 1)})
            rows = {s: rss[s, :] / MIB for s in points}
            size = os.path.getsize(out) / MIB
    print(f"# bench/rank0_memory.py: {args.model}, batch 1/rank, {args.ranks} ranks, {args.steps} "
          f"steps, job {job_s:.0f} s, file {size:.1f} MiB\n")
    print("| step | " + " | ".join(f"rank {r} peak RSS MiB" for r in range(args.ranks)) + " |")
    print("|---|" + "---|" * args.ranks)
    for s in points:
        print(f"| {s} | " + " | ".join(f"{v:.1f}" for v in rows[s]) + " |")
    base = rows[points[1] if len(points) > 1 else points[0]]
    growth = rows[points[-1]] - base
    print(f"\ngrowth from step {points[1] if len(points) > 1 else points[0]} to the last step: "
          + ", ".join(f"rank {r} {g:+.1f} MiB" for r, g in enumerate(growth)))


if __name__ == "__main__":
    main()
