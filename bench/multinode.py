#!/usr/bin/env python3
"""Training and allreduce across emulated hosts (scripts/cluster), links unshaped and shaped.

For each link setting, one emulated cluster of 4 hosts is brought up (no Slurm: not needed here)
and, for each model, weak-scaling runs at 1, 2 and 4 hosts x 1 rank and 2 hosts x 2 ranks are made
with the same per-rank batch, interleaved over --rounds; then `scalebench allreduce` measures the
network alone (2 hosts x 1 rank: scope all = across the link) and 2 hosts x 2 ranks in every scope
(within each host, across hosts, all ranks). Prints markdown tables: per model and layout the
median step time, throughput, efficiency against 1 host x 1 rank, exposed communication share and
the in-training bucket bus bandwidth; per scope and size the allreduce bus bandwidth, beside the
link's rate.

  bench/multinode.py                                   # fcn_r and cifar10_cnn, unshaped and 1gbit
  bench/multinode.py --models fcn_r --links 1gbit --rounds 1 --steps 12
  bench/multinode.py --out runs/multinode --keep       # keep the run files

Needs root (the emulated cluster) and build/scalebench. Every cluster it brings up is taken down
again, also on failure or Ctrl-C.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

benchlib.ensure_modules("numpy", "h5py")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

CLUSTER = os.path.join(benchlib.ROOT, "scripts", "cluster")
NAME = "benchmn"
LAYOUTS = [(1, 1), (2, 1), (4, 1), (2, 2)]  # (hosts, ranks per host)
LINK_GBPS = {"unshaped": None, "1gbit": 0.125, "100mbit": 0.0125, "10gbit": 1.25}


def cluster(*args, timeout=900, check=True):
    cmd = [CLUSTER, "--name", NAME] + list(args)
    return benchlib.run_job(cmd, timeout=timeout) if check else subprocess.run(cmd, capture_output=True)


def train(binary, model, hosts, rpn, batch, steps, warmup, out):
    cluster("mpirun", "-np", str(hosts * rpn), "--ranks-per-node", str(rpn), binary, "train",
            "--model", model, "--device", "cpu", "--threads", "1", "--batch-size", str(batch),
            "--steps", str(steps), "--warmup-steps", str(warmup), "--quiet", "--output", out)


def run_figures(path):
    """Median step time over rounds is taken later; here one run's figures."""
    with h5py.File(path, "r") as f:
        step = benchlib.measured_step_times(f)
        warm = f["steps/warmup"][()][:, 0].astype(bool)
        exposed = f["steps/comm_exposed_s"][()][~warm].mean(axis=1)
        n = int(f.attrs["world_size"])
        samples = f["steps/samples"][()][~warm].sum(axis=1)
        busbw = float("nan")
        if n > 1 and f["buckets/bytes"].shape[0] > 0:
            nbytes = f["buckets/bytes"][()]
            dur = f["buckets/duration_s"][()][~warm]           # [step, rank, bucket]
            # The collective's own time: the fastest rank's duration of each bucket (it entered
            # last, so it waited least), the median over steps; summed over buckets.
            per_bucket = np.median(dur.min(axis=1), axis=0)
            busbw = nbytes.sum() / per_bucket.sum() / 1e9 * 2 * (n - 1) / n
        return {"step_s": float(np.median(step)), "samples_s": float(np.median(samples) / np.median(step)),
                "exposed_share": float(np.median(exposed / step)), "busbw": busbw,
                "nodes": int(f.attrs["nodes"]), "hosts": sorted(set(f["ranks/hostname"].asstr()[()]))}


def allreduce(binary, hosts, rpn, out, max_bytes):
    cluster("mpirun", "-np", str(hosts * rpn), "--ranks-per-node", str(rpn), binary, "allreduce",
            "--device", "cpu", "-b", "1K", "-e", max_bytes, "-f", "8", "-w", "3", "-n", "10",
            "--scope", "intra,inter,all" if rpn > 1 else "all", "-o", out)
    with h5py.File(out, "r") as f:
        return [(s, int(b), float(t), float(bw)) for s, b, t, bw in
                zip(f["sizes/scope"].asstr()[()], f["sizes/bytes"][()], f["sizes/time_s"][()],
                    f["sizes/busbw_gbps"][()])]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fcn_r,cifar10_cnn")
    p.add_argument("--links", default="unshaped,1gbit", help="comma list: unshaped or a tc rate (1gbit)")
    p.add_argument("--batch", type=int, default=16, help="per-rank batch (weak scaling)")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--max-bytes", default="64M", help="largest allreduce message")
    p.add_argument("--out", help="directory for the run files (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the run files")
    p.add_argument("--bin")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/multinode.py: needs root (the emulated cluster)")
    binary = benchlib.scalebench_binary(args.bin)
    out = args.out or tempfile.mkdtemp(prefix="scalebench-multinode-")
    os.makedirs(out, exist_ok=True)
    models = args.models.split(",")
    results = {}   # (link, model, hosts, rpn) -> [figures per round]
    collectives = {}  # (link, hosts, rpn) -> rows
    try:
        for link in args.links.split(","):
            with benchlib.EmulatedCluster(NAME, 4, link):
                for r in range(args.rounds):
                    for model in models:
                        for hosts, rpn in LAYOUTS:
                            path = os.path.join(out, f"{model}-{link}-h{hosts}x{rpn}-r{r}.h5")
                            if os.path.exists(path):
                                os.remove(path)
                            train(binary, model, hosts, rpn, args.batch, args.steps, args.warmup, path)
                            results.setdefault((link, model, hosts, rpn), []).append(run_figures(path))
                for hosts, rpn in [(2, 1), (2, 2)]:
                    path = os.path.join(out, f"allreduce-{link}-h{hosts}x{rpn}.h5")
                    if os.path.exists(path):
                        os.remove(path)
                    collectives[(link, hosts, rpn)] = allreduce(binary, hosts, rpn, path, args.max_bytes)
    finally:
        if not args.keep and not args.out:
            shutil.rmtree(out, ignore_errors=True)

    print(f"# bench/multinode.py: batch {args.batch}/rank, {args.steps} steps ({args.warmup} warm-up), "
          f"{args.rounds} round(s), 1 thread/rank; medians over rounds [min, max]\n")
    print("| link | model | hosts x ranks | step s | samples/s | efficiency | exposed comm | "
          "in-training busbw GB/s |")
    print("|---|---|---|---|---|---|---|---|")
    for (link, model, hosts, rpn), runs in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] * kv[0][3], kv[0][2])):
        base = results[(link, model, 1, 1)]
        n = hosts * rpn
        eff = [r["samples_s"] / (b["samples_s"] * n) for r, b in zip(runs, base)]
        bw = [r["busbw"] for r in runs]
        bw_text = "-" if n == 1 else benchlib.fmt_range(bw, digits=3)
        assert all(r["nodes"] == hosts for r in runs), (link, model, hosts, rpn, runs)
        print(f"| {link} | {model} | {hosts} x {rpn} | {benchlib.fmt_range([r['step_s'] for r in runs])} | "
              f"{benchlib.fmt_range([r['samples_s'] for r in runs], digits=1)} | "
              f"{benchlib.fmt_range(eff, digits=2)} | "
              f"{benchlib.fmt_range([r['exposed_share'] for r in runs], scale=100, digits=1)} % | {bw_text} |")
    print("\n| link | hosts x ranks | scope | size | time us | busbw GB/s | link GB/s |")
    print("|---|---|---|---|---|---|---|")
    for (link, hosts, rpn), rows in collectives.items():
        rate = LINK_GBPS.get(link)
        for scope, nbytes, t, bw in rows:
            print(f"| {link} | {hosts} x {rpn} | {scope} | {nbytes} | {t * 1e6:.1f} | {bw:.3f} | "
                  f"{'-' if rate is None or scope == 'intra' else rate} |")
    if args.keep or args.out:
        print(f"\nrun files in {out}")


if __name__ == "__main__":
    main()
