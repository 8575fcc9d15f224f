#!/usr/bin/env python3
"""How close 2 ranks come to the weak-scaling limit, and whether overlap ever loses.

With the per-rank batch fixed, 2 ranks on 2 cores would take the 1-rank step time if
communication were free: 1-rank step / 2-rank step is the share of that limit reached (issue
17, "near the limit"). Overlap (the default) must never be slower than --no-overlap by more than
2 % ("overlap never loses"): the default, --overlap auto, must come within 2 % of the better of
--overlap on and off. For each model this runs four variants in interleaved rounds, rotating
their order each round so that drift of a shared machine hits all alike:
  1 rank, 2 ranks --overlap on, 2 ranks --overlap off, 2 ranks --overlap auto (the default),
each at the same per-rank batch and 1 thread per rank (auto measures in the warm-up steps, so
--warmup must be at least 3). Per run: the median over measured steps
of the slowest rank's step time (/steps/step_s), plus rank 0's median exposed communication and
backward time. Reported per model: each variant's median over rounds [min, max], the limit
share (1-rank / 2-rank auto, taken within a round), on / off and auto / min(on, off) (within a
round), auto's median over the better of on's and off's medians (the target's figure: a per-round
minimum of two noisy times is biased low), and how often auto chose overlap.

  bench/limit.py                                        # fcn_s, fcn_r, cifar10_cnn, resnet56, imdb_cnn_lstm
  bench/limit.py --models fcn_s:8,resnet56:16 --rounds 5 --json limit.json
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

DEFAULT_MODELS = "fcn_s:8,fcn_r:64,cifar10_cnn:32,resnet56:16,imdb_cnn_lstm:30"
VARIANTS = (("1 rank", 1, ()), ("on", 2, ("--overlap", "on")), ("off", 2, ("--overlap", "off")),
            ("auto", 2, ("--overlap", "auto")))


def read_run(path):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        warm = f["steps/warmup"][()][:, 0].astype(bool)
        s = f["steps"]
        return {"step_s": float(np.median(benchlib.measured_step_times(f))),
                "overlap": int(f.attrs["overlap"]),
                "exposed_s": float(np.median(s["comm_exposed_s"][()][~warm, 0])),
                "backward_s": float(np.median(s["backward_s"][()][~warm, 0]))}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=DEFAULT_MODELS, help="MODEL:BATCH,... (per-rank batch)")
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bin", help="scalebench binary (default $SCALEBENCH_BIN or build/scalebench)")
    p.add_argument("--json", help="write every figure to this file")
    args = p.parse_args()
    benchlib.ensure_modules("numpy", "h5py")
    binary = benchlib.scalebench_binary(args.bin)
    models = benchlib.parse_model_batches(args.models)
    if args.steps <= args.warmup or args.warmup < 3:
        sys.exit("error: --warmup must be at least 3 (auto measures both modes in it) and --steps more")
    print(f"# limit: {args.rounds} rounds, {args.steps} steps ({args.warmup} warm-up), 1 thread/rank",
          flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, batch in models:
            got = {name: [] for name, _, _ in VARIANTS}
            for r in range(args.rounds):
                order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
                for name, ranks, extra in order:
                    out = os.path.join(tmp, f"{model}-{r}-{name.replace(' ', '_')}.h5")
                    benchlib.run_train(binary, ranks, model, out, batch, args.steps, args.warmup, 1, extra)
                    got[name].append(read_run(out))
                    os.remove(out)
                line = ", ".join(f"{n} {got[n][-1]['step_s'] * 1e3:.1f} ms" for n, _, _ in VARIANTS)
                print(f"  {model} round {r + 1}: {line}", flush=True)
            one, on, off, auto = (got[n] for n, _, _ in VARIANTS)
            results[model] = {
                "batch_per_rank": batch, "runs": got,
                "limit_share": [a["step_s"] / b["step_s"] for a, b in zip(one, auto)],
                "on_over_off": [a["step_s"] / b["step_s"] for a, b in zip(on, off)],
                "auto_over_best": [c["step_s"] / min(a["step_s"], b["step_s"])
                                   for a, b, c in zip(on, off, auto)],
                "auto_chose_on": sum(c["overlap"] for c in auto),
                # The better schedule's median over rounds: per round, min(on, off) of two noisy
                # figures is biased low (by about half their spread), so auto / that min reads
                # above 1 even where auto always picks the faster schedule.
                "auto_over_best_median": statistics.median(c["step_s"] for c in auto) / min(
                    statistics.median(a["step_s"] for a in on), statistics.median(b["step_s"] for b in off))}
    print("\n| model | batch/rank | 1 rank ms | on ms | off ms | auto ms | limit share (1 rank / auto) "
          "| on / off | auto / best (per round) | auto / better median | auto chose on | exposed ms (on, off) |")
    print("| --- | ---: | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, r in results.items():
        steps = [[x["step_s"] for x in r["runs"][n]] for n, _, _ in VARIANTS]
        exposed = [statistics.median([x["exposed_s"] for x in r["runs"][n]]) for n in ("on", "off")]
        print(f"| {model} | {r['batch_per_rank']} | " +
              " | ".join(benchlib.fmt_range(s, 1e3, 1) for s in steps) +
              f" | {benchlib.fmt_range(r['limit_share'])} | {benchlib.fmt_range(r['on_over_off'])}"
              f" | {benchlib.fmt_range(r['auto_over_best'])} | {r['auto_over_best_median']:.3f}"
              f" | {r['auto_chose_on']}/{args.rounds}"
              f" | {exposed[0] * 1e3:.1f}, {exposed[1] * 1e3:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
                       "models": results}, f, indent=2)


if __name__ == "__main__":
    main()
