#!/usr/bin/env python3
"""Rank 0's recording and the report at thousands of ranks, simulated on one machine.

bench_record_sim (bench/record_sim.cpp) drives the real RecordSink (what rank 0 runs at every
flush: unpack the gathered records, the run summary, /steps and /buckets rows of the recorded
ranks, /rank_stats, chunked and compressed HDF5) with fabricated records of --ranks ranks; then
results/report reads each file. Per --record-ranks mode this prints the file size, bytes per
rank-step (of the job's ranks) and per recorded rank-step, rank 0's time and peak memory (the
process's VmHWM, fabricated gather buffer included, as rank 0 holds the real one) and the
report's wall time and peak RSS (wait4's ru_maxrss). Targets of the scale issue, for 4,096 ranks x
10,000 steps x 20 buckets: default-mode file <= 2 GB, rank-0 memory <= 1 GB, report <= 4 GB
and <= 5 minutes.

  bench/scale_sim.py                                          # the issue's case, default modes
  bench/scale_sim.py --modes all --steps 1000                 # mode all, fewer steps
  bench/scale_sim.py --ranks 256 --steps 2000 --modes all,stats,sample:16
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 1024.0 ** 3
MIB = 1024.0 ** 2


def run_measured(cmd, timeout):
    """(wall s, peak RSS bytes, stdout) of a command, its RSS from wait4."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sys.exit(f"error: {' '.join(cmd)} ran past {timeout} s")
    # communicate() reaped it; its rusage is the children's maximum so far, so each measured
    # command runs in a fresh interpreter (below) to keep the figure its own.
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {proc.returncode}:\n{err[-3000:]}")
    return wall, out


def measured_child(cmd, timeout):
    """Runs cmd under a fresh Python whose only child it is: (wall s, max RSS bytes, stdout)."""
    probe = ("import resource, subprocess, sys, time, json\n"
             "t = time.monotonic()\n"
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "w = time.monotonic() - t\n"
             "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
             "sys.stderr.write(p.stderr)\n"
             "print(json.dumps({'rc': p.returncode, 'wall_s': w, 'rss': r, 'out': p.stdout}))\n")
    _, out = run_measured([sys.executable, "-c", probe, *cmd], timeout)
    res = json.loads(out.strip().splitlines()[-1])
    if res["rc"] != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {res['rc']}")
    return res["wall_s"], res["rss"], res["out"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=4096)
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--buckets", type=int, default=20)
    p.add_argument("--modes", default="auto,stats,sample:64",
                   help="--record-ranks values, comma separated (auto is the default mode)")
    p.add_argument("--record-buckets", default="every:1")
    p.add_argument("--flush-every", type=int, default=20)
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "bench_record_sim"))
    p.add_argument("--dir", help="keep the files here (default: a temporary directory)")
    args = p.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"error: no {args.bin} (build with scripts/build)")
    report = os.path.join(ROOT, "results", "report")
    print(f"# bench/scale_sim.py: {args.ranks} ranks x {args.steps} steps x {args.buckets} buckets, "
          f"--record-buckets {args.record_buckets}, --flush-every {args.flush_every}\n")
    print("| --record-ranks | resolved | recorded ranks | file MiB | B per rank-step | "
          "B per recorded rank-step | rank 0 s (records made: s) | rank-0 peak RSS MiB | "
          "report s | report peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        where = args.dir or tmp
        os.makedirs(where, exist_ok=True)
        for mode in args.modes.split(","):
            sub = os.path.join(where, mode.replace(":", "-"))
            os.makedirs(sub, exist_ok=True)
            out = os.path.join(sub, "sim.h5")
            cmd = [args.bin, "--ranks", str(args.ranks), "--steps", str(args.steps),
                   "--buckets", str(args.buckets), "--record-ranks", mode,
                   "--record-buckets", args.record_buckets, "--flush-every", str(args.flush_every),
                   "--output", out]
            _, rss, stdout = measured_child(cmd, timeout=7200)
            r = json.loads(stdout.strip().splitlines()[-1])
            rank_steps = args.ranks * args.steps
            rec_steps = r["recorded_ranks"] * args.steps
            rep_s = rep_rss = float("nan")
            if not args.no_report:
                rep_s, rep_rss, _ = measured_child(
                    [report, "--out", os.path.join(sub, "report"), "--no-plots", out], timeout=7200)
            print(f"| {mode} | {r['record_ranks']} | {r['recorded_ranks']} | "
                  f"{r['file_bytes'] / MIB:.1f} | {r['file_bytes'] / rank_steps:.1f} | "
                  f"{r['file_bytes'] / rec_steps:.1f} | {r['rank0_s']:.1f} ({r['fabricate_s']:.1f}) | "
                  f"{rss / MIB:.0f} | {rep_s:.1f} | {rep_rss / MIB:.0f} |", flush=True)
            if not args.dir:
                os.remove(out)


if __name__ == "__main__":
    main()
