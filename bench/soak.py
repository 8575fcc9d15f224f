#!/usr/bin/env python3
"""A long soak: many ranks, a tiny model, tens of thousands of steps, the file flushed every step.

Passes when, after warm-up, no rank's resident memory grows with the steps and the run file is
intact. Memory is /steps/peak_rss_bytes (each process's VmHWM: a peak that never falls, so any
growth at all shows, and a transient spike shows as growth too); per rank it prints the peak at
--after-step (warm-up done: the allocator, LibTorch's and MPI's buffers are in place) and at the
last step, and the growth between them scaled to 10,000 steps. The file must open with h5py and
`h5dump -H` (skipped, and said, without h5dump), say status `completed`, and hold every step,
consecutive from 0, in every /steps dataset.

  bench/soak.py                                   # 4 ranks x 20,000 steps of alexnet_r, batch 1
  bench/soak.py --ranks 2 --steps 50000 --flush-every 1 --json soak.json

Exit status 0 when every check passed, 1 otherwise (the table says which failed).
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

benchlib.ensure_modules("numpy", "h5py")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

MIB = 1024.0 * 1024.0


def check_file(path, steps, ranks):
    """The run file's integrity: (checks {name: (ok, detail)}, peak RSS [steps, ranks] or None)."""
    checks = {}
    rss = None
    try:
        with h5py.File(path, "r") as f:
            checks["opens with h5py"] = (True, "")
            status = f.attrs["status"]
            status = status.decode() if isinstance(status, bytes) else str(status)
            checks["status completed"] = (status == "completed", status)
            rows = {name: ds.shape[0] for name, ds in f["steps"].items()}
            same = len(set(rows.values())) == 1
            checks["every /steps dataset has the same rows"] = (
                same, "" if same else json.dumps(rows))
            step = f["steps/step"][()]
            n = step.shape[0]
            consecutive = n == steps and step.shape[1] == ranks and \
                bool((step == np.arange(n)[:, None]).all())
            checks[f"{steps} steps, consecutive from 0, every rank"] = (
                consecutive, f"{n} rows x {step.shape[1]} ranks")
            rss = f["steps/peak_rss_bytes"][()]
    except (OSError, KeyError) as e:
        checks["opens with h5py"] = (False, str(e))
    h5dump = shutil.which("h5dump")
    if h5dump:
        res = subprocess.run([h5dump, "-H", path], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, timeout=300)
        checks["h5dump -H exits 0"] = (res.returncode == 0, res.stderr.strip()[-300:])
    else:
        checks["h5dump -H exits 0"] = (True, "skipped: no h5dump (package hdf5-tools)")
    return checks, rss


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="alexnet_r")
    p.add_argument("--ranks", type=int, default=4)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--flush-every", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--after-step", type=int, default=1000,
                   help="the step after which memory must not grow (warm-up; default 1000)")
    p.add_argument("--judge-from", type=int,
                   help="the step from which the verdict measures growth (default: --after-step). "
                        "Rank 0's HDF5 raw-data chunk caches fill for ~33,000 steps "
                        "(docs/scale.md), so a run that long needs --judge-from past that")
    p.add_argument("--max-growth-mib", type=float, default=1.0,
                   help="allowed peak-RSS growth per rank per 10,000 steps after --after-step "
                        "(default 1 MiB: page-granular noise, not a per-step leak)")
    p.add_argument("--timeout", type=float, default=7200)
    p.add_argument("--keep", metavar="FILE", help="copy the run file here")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--bin")
    args = p.parse_args()
    judge = args.after_step if args.judge_from is None else args.judge_from
    if args.steps <= max(args.after_step, judge) + 1:
        sys.exit("error: --steps must exceed --after-step and --judge-from + 1")
    binary = benchlib.scalebench_binary(args.bin)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "soak.h5")
        start = time.monotonic()
        benchlib.run_train(binary, args.ranks, args.model, out, args.batch_size, args.steps, 10,
                           args.threads, extra=["--flush-every", str(args.flush_every)],
                           timeout=args.timeout)
        job_s = time.monotonic() - start
        size_mib = os.path.getsize(out) / MIB
        checks, rss = check_file(out, args.steps, args.ranks)
        if args.keep:
            shutil.copyfile(out, args.keep)

    per_rank = []
    if rss is not None and rss.shape[0] > max(args.after_step, judge):
        last = rss.shape[0] - 1
        half = last // 2

        def per_10k(r, a):
            return float((rss[last, r] - rss[a, r]) / MIB / (last - a) * 1e4)

        for r in range(rss.shape[1]):
            per_rank.append({"rank": r, "peak_rss_mib_at_step_0": round(float(rss[0, r] / MIB), 2),
                             "peak_rss_mib_at_after_step": round(float(rss[args.after_step, r] / MIB), 2),
                             "peak_rss_mib_at_half": round(float(rss[half, r] / MIB), 2),
                             "peak_rss_mib_at_end": round(float(rss[last, r] / MIB), 2),
                             "growth_mib_per_10k_steps": round(per_10k(r, args.after_step), 3),
                             "growth_mib_per_10k_steps_last_half": round(per_10k(r, half), 3),
                             "growth_mib_per_10k_steps_judged": round(per_10k(r, judge), 3)})
        worst = max(x["growth_mib_per_10k_steps_judged"] for x in per_rank)
        checks[f"no rank's RSS grows > {args.max_growth_mib} MiB / 10k steps after step "
               f"{judge}"] = (worst <= args.max_growth_mib, f"worst {worst:+.3f} MiB")
    else:
        checks["peak RSS readable"] = (False, "no /steps/peak_rss_bytes past --after-step")

    oversubscribed = args.ranks * args.threads > cores
    print(f"# bench/soak.py: {args.model}, batch {args.batch_size}/rank, {args.ranks} ranks x "
          f"{args.threads} thread(s) on {cores} cores{' (oversubscribed)' if oversubscribed else ''}, "
          f"{args.steps} steps, --flush-every {args.flush_every}; job {job_s:.0f} s "
          f"({args.steps / job_s:.0f} steps/s), file {size_mib:.1f} MiB; "
          f"{platform.node()}, {time.strftime('%Y-%m-%d', time.gmtime())}\n")
    if per_rank:
        half = (args.steps - 1) // 2
        print(f"| rank | peak RSS at step 0 (MiB) | at step {args.after_step} | at step {half} "
              f"| at the end | growth per 10k steps from {args.after_step} | from {half} |")
        print("|---|---|---|---|---|---|---|")
        for x in per_rank:
            print(f"| {x['rank']} | {x['peak_rss_mib_at_step_0']:.1f} | "
                  f"{x['peak_rss_mib_at_after_step']:.1f} | {x['peak_rss_mib_at_half']:.1f} | "
                  f"{x['peak_rss_mib_at_end']:.1f} | {x['growth_mib_per_10k_steps']:+.3f} MiB | "
                  f"{x['growth_mib_per_10k_steps_last_half']:+.3f} MiB |")
        print()
    print("| check | result | detail |\n|---|---|---|")
    for name, (ok, detail) in checks.items():
        print(f"| {name} | {'ok' if ok else 'FAILED'} | {detail} |")
    passed = all(ok for ok, _ in checks.values())
    print("\nsoak " + ("passed" if passed else "FAILED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "ranks": args.ranks, "threads": args.threads,
                       "cores": cores, "oversubscribed": oversubscribed, "steps": args.steps,
                       "batch_per_rank": args.batch_size, "flush_every": args.flush_every,
                       "after_step": args.after_step, "judge_from": judge, "job_s": round(job_s, 1),
                       "file_mib": round(size_mib, 2), "per_rank": per_rank,
                       "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in checks.items()},
                       "passed": passed, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                      f, indent=1)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
