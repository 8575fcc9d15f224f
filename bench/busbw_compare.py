#!/usr/bin/env python3
"""In-training allreduce bandwidth against `scalebench allreduce` at the same message sizes.

A training run records, per step, rank and gradient bucket, how long the bucket's allreduce took
(/buckets/duration_s) and how many bytes the bucket holds (/buckets/bytes). The in-training
bandwidth is results/report's, computed by the same function (scalebench_results.analysis.
bandwidth_of_run), so the two cannot differ: per bucket and measured step the collective's time is
the FASTEST rank's duration (ranks enter a bucket's allreduce at different moments; an early
rank's duration includes waiting for the last one to arrive, the last one's is the collective
itself, which is what `scalebench allreduce` measures, starting every iteration after a barrier);
per message size algbw = bytes / median of those over the measured steps (and the buckets of
that size), busbw = algbw * 2(n-1)/n as nccl-tests does. The arrival skew (median of max - min
of the ranks' durations: what the slowest rank's duration adds) is printed beside it.
Then `scalebench allreduce -b B -e B` runs at each bucket size B, and the ratio
in-training/standalone is reported per size. Target: >= 0.9 (docs/performance.md).

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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "results"))  # scalebench_results
import benchlib  # noqa: E402


def bucket_figures(path):
    """(world size, {bucket bytes: (busbw GB/s, median arrival skew s or None)}) of a run file:
    results/report's allreduce bandwidth (analysis.bandwidth_of_run), warm-up excluded."""
    from scalebench_results import analysis
    from scalebench_results.runfile import load_run
    run = load_run(path)
    return run.world_size, {e["bytes"]: (e["busbw_bytes_per_s"] / 1e9, e["median_arrival_skew_s"])
                            for e in analysis.bandwidth_of_run(run)}


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
    # mode -> bytes -> [(busbw, skew)]
    train = collections.defaultdict(lambda: collections.defaultdict(list))
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
                n_file, figures = bucket_figures(path)
                if n_file != n:
                    sys.exit(f"error: {path} ran on {n_file} ranks; pass --ranks {n_file}")
                sizes = sorted(figures)
                for size, (busbw, skew) in figures.items():
                    train[mode][size].append((busbw, skew or 0.0))
            for size in sorted(set(sizes)):
                out = os.path.join(tmp, f"ar-{size}-{r}.h5")
                standalone[size].append(benchlib.run_allreduce(binary, n, out, size, size, iters=args.iters)[size][1])
                os.remove(out)
    print(f"# busbw_compare: {args.model}, batch {args.batch}/rank, {n} ranks, {args.threads} thread(s)/rank, "
          f"bucket cap {args.bucket_mb} MiB, {args.rounds if not args.run_file else 1} round(s)")
    print("| mode | MiB | standalone busbw GB/s | in-training busbw GB/s (collective) | ratio | "
          "arrival skew ms |")
    print("| --- | ---: | --- | --- | ---: | --- |")
    for mode in modes:
        for size in sizes:
            ref = standalone[size]
            coll = [c for c, _ in train[mode][size]]
            skew = [k * 1e3 for _, k in train[mode][size]]
            ref_m = benchlib.median_range(ref)[0]
            print(f"| {mode} | {size / 2**20:.2f} | {benchlib.fmt_range(ref, 1, 3)} | "
                  f"{benchlib.fmt_range(coll, 1, 3)} | {benchlib.median_range(coll)[0] / ref_m:.2f} | "
                  f"{benchlib.fmt_range(skew, 1, 3)} |")


if __name__ == "__main__":
    main()
