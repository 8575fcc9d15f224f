#!/usr/bin/env python3
"""How much gradient communication backward hides, and step time against the bucket cap.

Runs one model (default fcn_r) at 2 ranks in several variants: overlap on with --bucket-mb 1, 5,
25 and 100, and --no-overlap at 25 MiB. Variants run in interleaved rounds, rotating the order
each round, so that drift of a shared machine hits all alike. Per run, from the run file:
  step     : median over measured steps of the slowest rank's step time
  hidden   : share of communication hidden behind backward, 1 - exposed / busy, with exposed and
             busy (/steps/comm_exposed_s, comm_busy_s) summed over measured steps and ranks
Reported: median over rounds [min, max] per variant, and each variant's step time relative to
overlap at 25 MiB (taken within a round).

  bench/overlap.py                              # fcn_r, batch 32, 3 rounds
  bench/overlap.py --model cifar10_cnn --batch 32 --steps 20 --bucket-mb 1,25
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def read_run(path):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        warm = f["steps/warmup"][()][:, 0].astype(bool)
        exposed = f["steps/comm_exposed_s"][()][~warm].sum()
        busy = f["steps/comm_busy_s"][()][~warm].sum()
        step = float(np.median(benchlib.measured_step_times(f)))
        buckets = int(f.attrs["n_buckets"])
    return step, (1.0 - exposed / busy) if busy > 0 else float("nan"), buckets


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fcn_r")
    p.add_argument("--batch", type=int, default=32, help="per-rank batch")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bucket-mb", default="1,5,25,100", help="caps to try with overlap on")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bin", help="scalebench binary (default $SCALEBENCH_BIN or build/scalebench)")
    args = p.parse_args()
    benchlib.ensure_modules("numpy", "h5py")
    binary = benchlib.scalebench_binary(args.bin)
    variants = [("overlap", mb) for mb in args.bucket_mb.split(",")] + [("no-overlap", "25")]
    base = ("overlap", "25")
    results = {v: {"step": [], "hidden": [], "rel": []} for v in variants}
    buckets = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            got = {}
            for mode, mb in order:
                path = os.path.join(tmp, f"{mode}-{mb}-{r}.h5")
                extra = ["--bucket-mb", mb] + (["--no-overlap"] if mode == "no-overlap" else [])
                benchlib.run_train(binary, args.ranks, args.model, path, args.batch, args.steps,
                                   args.warmup, args.threads, extra)
                step, hidden, buckets[(mode, mb)] = read_run(path)
                got[(mode, mb)] = step
                results[(mode, mb)]["step"].append(step)
                results[(mode, mb)]["hidden"].append(hidden)
                os.remove(path)
                print(f"  round {r + 1}: {mode} {mb} MiB: step {step * 1e3:.1f} ms, hidden {hidden:.2f}", flush=True)
            if base in got:
                for v in got:
                    results[v]["rel"].append(got[v] / got[base])
    print(f"\n# overlap: {args.model}, batch {args.batch}/rank, {args.ranks} ranks, {args.threads} thread(s)/rank, "
          f"{args.rounds} rounds, {args.steps} steps ({args.warmup} warm-up)")
    print("| variant | bucket cap MiB | buckets | step ms | step / (overlap, 25 MiB) | communication hidden |")
    print("| --- | ---: | ---: | --- | --- | --- |")
    for v in variants:
        res = results[v]
        rel = benchlib.fmt_range(res["rel"]) if res["rel"] else "-"
        print(f"| {v[0]} | {v[1]} | {buckets[v]} | {benchlib.fmt_range(res['step'], 1e3, 1)} | {rel} | "
              f"{benchlib.fmt_range(res['hidden'], 1, 2)} |")


if __name__ == "__main__":
    main()
