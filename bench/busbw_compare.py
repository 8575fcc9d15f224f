#!/usr/bin/env python3
"""In-training allreduce bandwidth against `scalebench allreduce` at the same message sizes.

A training run records, per step, rank and gradient bucket, how long the bucket's allreduce took
(/buckets/duration_s) and how many bytes the bucket holds (/buckets/bytes). Per bucket, this takes
the median over measured steps of the bucket's time, and turns it into a bus bandwidth the way
nccl-tests does (bytes / time * 2(n-1)/n). Two per-step times are used:
  collective : the fastest rank's duration. Ranks enter a bucket's allreduce at different moments;
               an early rank's duration includes waiting for the last one to arrive, the last one's
               is the collective itself. This is what `scalebench allreduce` measures (it starts
               every iteration after a barrier).
  slowest    : the slowest rank's duration (arrival skew included), as the step sees it.
Then `scalebench allreduce -b B -e B` runs at each bucket size B, and the ratio
in-training/standalone is reported per bucket. Target: >= 0.9 (docs/performance.md).

Runs with overlap (allreduce during backward, the default) and with --no-overlap (allreduce after
backward, nothing else running) tell contention with backward apart from the reducer's own costs.
Rounds interleave the runs (train overlap, train no-overlap, allreduce) to spread machine drift.

  bench/busbw_compare.py                       # fcn_r, 2 ranks, 1 thread, 2 rounds
  bench/busbw_compare.py --run-file run.h5     # only analyse an existing run (plus allreduce)
"""
import argparse
import collections
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def bucket_times(path):
    """(bytes per bucket, collective times, slowest times, world size): medians over measured steps."""
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        nbytes = f["buckets/bytes"][()]
        dur = f["buckets/duration_s"][()]  # [steps, ranks, buckets]
        warm = f["steps/warmup"][()][:, 0].astype(bool)
        n = int(f.attrs["world_size"])
    dur = dur[~warm]
    return nbytes, np.median(dur.min(axis=1), axis=0), np.median(dur.max(axis=1), axis=0), n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fcn_r")
    p.add_argument("--batch", type=int, default=32, help="per-rank batch")
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bucket-mb", type=float, default=25)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--iters", type=int, default=20, help="timed iterations of scalebench allreduce")
    p.add_argument("--run-file", help="analyse this run file instead of training (one round)")
    p.add_argument("--bin", help="scalebench binary (default $SCALEBENCH_BIN or build/scalebench)")
    args = p.parse_args()
    benchlib.ensure_modules("numpy", "h5py")
    binary = benchlib.scalebench_binary(args.bin)
    n = args.ranks
    factor = 2 * (n - 1) / n
    train = collections.defaultdict(lambda: collections.defaultdict(list))  # mode -> bucket -> [(coll, slow)]
    standalone = collections.defaultdict(list)  # bytes -> [busbw]
    sizes = None
    modes = ["given"] if args.run_file else ["overlap", "no-overlap"]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1 if args.run_file else args.rounds):
            for mode in modes:
                path = args.run_file
                if not path:
                    path = os.path.join(tmp, f"{mode}-{r}.h5")
                    extra = ["--bucket-mb", str(args.bucket_mb)] + (["--no-overlap"] if mode == "no-overlap" else [])
                    benchlib.run_train(binary, n, args.model, path, args.batch, args.steps, args.warmup,
                                       args.threads, extra)
                nbytes, coll, slow, n_file = bucket_times(path)
                if n_file != n:
                    sys.exit(f"error: {path} ran on {n_file} ranks; pass --ranks {n_file}")
                sizes = [int(b) for b in nbytes]
                for b, (tc, ts) in enumerate(zip(coll, slow)):
                    train[mode][b].append((sizes[b] / tc / 1e9 * factor, sizes[b] / ts / 1e9 * factor))
            for size in sorted(set(sizes)):
                out = os.path.join(tmp, f"ar-{size}-{r}.h5")
                standalone[size].append(benchlib.run_allreduce(binary, n, out, size, size, iters=args.iters)[size][1])
                os.remove(out)
    print(f"# busbw_compare: {args.model}, batch {args.batch}/rank, {n} ranks, {args.threads} thread(s)/rank, "
          f"bucket cap {args.bucket_mb} MiB, {args.rounds if not args.run_file else 1} round(s)")
    print("| mode | bucket | MiB | standalone busbw GB/s | in-training busbw GB/s (collective) | ratio | "
          "in-training busbw GB/s (slowest rank) | ratio |")
    print("| --- | ---: | ---: | --- | --- | ---: | --- | ---: |")
    for mode in modes:
        for b, size in enumerate(sizes):
            ref = standalone[size]
            coll = [c for c, _ in train[mode][b]]
            slow = [s for _, s in train[mode][b]]
            ref_m = benchlib.median_range(ref)[0]
            print(f"| {mode} | {b} | {size / 2**20:.2f} | {benchlib.fmt_range(ref, 1, 3)} | "
                  f"{benchlib.fmt_range(coll, 1, 3)} | {benchlib.median_range(coll)[0] / ref_m:.2f} | "
                  f"{benchlib.fmt_range(slow, 1, 3)} | {benchlib.median_range(slow)[0] / ref_m:.2f} |")


if __name__ == "__main__":
    main()
