#!/usr/bin/env python3
"""Which BLAS should scripts/setup install? Each of Debian 12's BLAS builds, measured with
LibTorch's own threading, on the same models and rank layouts, in interleaved rounds.

Debian switches `libblas.so.3` (and `liblapack.so.3`) by alternatives; each provider also lives in
a directory of its own (/usr/lib/x86_64-linux-gnu/{blas,openblas-openmp,openblas-pthread,
blis-openmp,blis-pthread}). This bench points the dynamic loader at one directory per run
(LD_LIBRARY_PATH, the whole job: mpirun passes it to every rank), so no system setting changes,
and checks in every run file that the BLAS the run actually computed with (the `blas_library`
attribute, read from the running process) is the one meant. Missing providers are skipped
(install them with apt-get install libopenblas0-openmp libopenblas0-pthread libblis4-openmp
libblis4-pthread).

Layouts: 2 ranks x 1 thread (the main job's) and 1 rank x all CPUs (where OpenMP and pthread
flavours differ: LibTorch's intra-op pool is OpenMP, and a pthread BLAS beside it may run its own
threads). Per run: the median over measured steps of the slowest rank's step time. Per provider:
the median over rounds [min, max], and within each round the ratio to the fastest provider.

  bench/blas_choice.py                     # fcn_r and cifar10_cnn, 3 rounds
  bench/blas_choice.py --models fcn_r --rounds 2 --json blas.json
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

LIBDIR = "/usr/lib/x86_64-linux-gnu"
PROVIDERS = ("blas", "openblas-openmp", "openblas-pthread", "blis-openmp", "blis-pthread")
BATCH = {"fcn_r": 64, "cifar10_cnn": 32, "fcn_s": 8, "imdb_cnn_lstm": 32}
# The reference BLAS runs fcn_r at ~1.6 s per step: few steps keep a round to minutes.
STEPS = {"fcn_r": 8, "cifar10_cnn": 12, "fcn_s": 6, "imdb_cnn_lstm": 10}


def main():
    benchlib.ensure_modules("numpy", "h5py")
    import h5py
    import numpy as np
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fcn_r,cifar10_cnn")
    p.add_argument("--providers", default=",".join(PROVIDERS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bin")
    p.add_argument("--json", help="write every figure here")
    a = p.parse_args()
    binary = benchlib.scalebench_binary(a.bin)
    cpus = len(os.sched_getaffinity(0))
    layouts = [(2, 1), (1, cpus)]
    providers = [q for q in a.providers.split(",") if os.path.exists(f"{LIBDIR}/{q}/libblas.so.3")]
    skipped = sorted(set(a.providers.split(",")) - set(providers))
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}")
    models = a.models.split(",")
    times = {}  # (model, ranks, threads, provider) -> [per-round medians]
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(a.rounds):
            order = providers if rnd % 2 == 0 else providers[::-1]
            for model in models:
                for ranks, threads in layouts:
                    for prov in order:
                        out = os.path.join(tmp, f"{model}-{ranks}x{threads}-{prov}-{rnd}.h5")
                        env = dict(os.environ, LD_LIBRARY_PATH=f"{LIBDIR}/{prov}")
                        cmd = benchlib.mpirun_prefix(ranks) + ["-x", "LD_LIBRARY_PATH", binary, "train",
                              "--model", model, "--device", "cpu", "--batch-size", str(BATCH.get(model, 32)),
                              "--steps", str(STEPS.get(model, 10)), "--warmup-steps", "2",
                              "--threads", str(threads), "--quiet", "--output", out]
                        benchlib.run_job(cmd, timeout=1800, env=env)
                        with h5py.File(out, "r") as f:
                            used = f.attrs["blas_library"]
                            used = used.decode() if isinstance(used, bytes) else str(used)
                            if f"/{prov}/" not in used:
                                sys.exit(f"error: run meant for {prov} computed with {used}")
                            t = float(np.median(benchlib.measured_step_times(f)))
                        times.setdefault((model, ranks, threads, prov), []).append(t)
                        os.remove(out)
                        print(f"round {rnd + 1}: {model:12s} {ranks}x{threads}  {prov:17s} {t:.4f} s",
                              flush=True)
    print(f"\nmedian step time over {a.rounds} rounds [min, max]; ratio to the round's fastest provider")
    rows = []
    for model in models:
        for ranks, threads in layouts:
            per_round_best = [min(times[(model, ranks, threads, q)][r] for q in providers)
                              for r in range(a.rounds)]
            for prov in providers:
                ts = times[(model, ranks, threads, prov)]
                ratios = [t / b for t, b in zip(ts, per_round_best)]
                rows.append({"model": model, "ranks": ranks, "threads": threads, "provider": prov,
                             "step_s": ts, "ratio_to_fastest": ratios})
                print(f"{model:12s} {ranks}x{threads}  {prov:17s} {benchlib.fmt_range(ts, digits=4)} s"
                      f"   x{statistics.median(ratios):.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpus": cpus, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
