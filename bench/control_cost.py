#!/usr/bin/env python3
"""What scalebench's own per-step control costs as ranks grow, and how long a job takes to start.

Between two steps every rank joins one small allreduce (5 doubles: stop signals, divergence,
out of memory, the step number both ways), recorded per step as /steps/control_s outside
step_s; nothing else is exchanged per step (progress and watchdog state stay on each rank until
a timeout asks for them; records are gathered every --flush-every steps). For each rank count
this runs a small model on synthetic data and reports, from the run file:
  - control_s per step, median over measured steps of the min over ranks: the allreduce is a
    barrier, so a rank that finished its step early waits in it for the last one; the last rank
    to arrive waits for nobody, and its time is what the exchange itself costs. The max over ranks
    (exchange + the ranks' skew, which any synchronous step pays somewhere) is given beside it,
  - the exchange's share of the step: min control_s / (slowest step_s + min control_s),
  - the median step time (slowest rank),
  - start-up: mpirun to the first step's start on the last rank to get there (job wall time minus
    what the ranks spent from the first step's start to their exit), and the job wall time.
Ranks beyond the machine's cores oversubscribe them: the allreduce then waits for ranks that are
descheduled, so its figure here is an upper bound of what a core per rank would see.

  bench/control_cost.py                       # alexnet_r, batch 1, ranks 1,8,32,64
  bench/control_cost.py --ranks 1,8 --model fcn_s
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


def measure(binary, model, ranks, steps, warmup, out):
    start = time.monotonic()
    benchlib.run_train(binary, ranks, model, out, 1, steps, warmup, 1, timeout=3600)
    job_s = time.monotonic() - start
    with h5py.File(out, "r") as f:
        s = f["steps"]
        meas = s["warmup"][()][:, 0] == 0
        step = s["step_s"][()][meas].max(axis=1)
        control_all = s["control_s"][()][meas]
        control = control_all.min(axis=1)            # the last rank to arrive: the exchange
        control_max = control_all.max(axis=1)        # the first to arrive: exchange + skew
        end = s["end_time_s"][()]
        # Each rank's clock starts with its run; from its first step's start to its last step's
        # end, then the gather, file close and MPI finalize follow (the teardown, in job_s too).
        first_start = end[0] - s["step_s"][()][0]
        in_steps = float((end[-1] - first_start).max())
    return {"job_s": job_s, "step_s": float(np.median(step)), "control_s": float(np.median(control)),
            "control_p90_s": float(np.percentile(control, 90)),
            "control_max_s": float(np.median(control_max)),
            "share": float(np.median(control / (step + control))),
            "startup_s": job_s - in_steps}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="alexnet_r")
    p.add_argument("--ranks", default="1,8,32,64")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--bin")
    args = p.parse_args()
    binary = benchlib.scalebench_binary(args.bin)
    print(f"# bench/control_cost.py: {args.model}, synthetic data, batch 1/rank, {args.steps} steps "
          f"({args.warmup} warm-up), 1 thread/rank, {os.cpu_count()} cores (ranks beyond them "
          f"oversubscribe)\n")
    print("| ranks | control ms/step, last rank to arrive (median, p90) | share of step + control | "
          "control ms/step, first to arrive (exchange + skew) | step ms | "
          "start-up s (mpirun to first step, + teardown) | job s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.ranks.split(",")]:
            r = measure(binary, args.model, n, args.steps, args.warmup, os.path.join(tmp, f"c{n}.h5"))
            print(f"| {n} | {r['control_s'] * 1e3:.3f}, {r['control_p90_s'] * 1e3:.3f} | "
                  f"{100 * r['share']:.2f} % | {r['control_max_s'] * 1e3:.3f} | "
                  f"{r['step_s'] * 1e3:.2f} | {r['startup_s']:.1f} | "
                  f"{r['job_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
