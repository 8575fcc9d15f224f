#!/usr/bin/env python3
"""What a real dataset costs in memory per rank and per node: a short training run on N ranks,
its ranks' memory sampled from outside while it runs.

Peak RSS (VmHWM, /steps/peak_rss_bytes) counts every page a rank has touched, shared or not: a
dataset that the node's ranks share in one MPI shared-memory window still appears in the RSS of
every rank that read it. What the node pays is the proportional set size (Pss: each shared page
divided among the ranks that map it), so this also reports, sampled every 50 ms from
/proc/<rank>/smaps_rollup, each rank's peak Pss and the peak of the sum of Pss over the ranks
(the node's memory for the job), next to each rank's peak of pages it shares with another
process (Shared_Clean + Shared_Dirty: the libraries' code too, and a node-shared dataset).

  bench/dataset_memory.py --ranks 4 -- --model modelB --dataset fashion-mnist \\
      --data-dir /usr/share/datasets/fashion-mnist --steps 5
  bench/dataset_memory.py --bin OTHER/scalebench --ranks 4 -- ...   # another build, same run
  bench/dataset_memory.py --make-imagefolder DIR 3000                 # 2 classes of generated PNGs
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import struct
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

benchlib.ensure_modules("h5py")
import h5py  # noqa: E402

MIB = 1024.0 * 1024.0


def rank_pids(launcher_pid, binary):
    """The scalebench processes below the launcher (Open MPI starts local ranks as its children)."""
    target = os.path.realpath(binary)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == launcher_pid and os.path.realpath(f"/proc/{entry}/exe") == target:
                pids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1]) * 1024
    return out


def write_png(path, width, height, seed):
    """An RGB PNG of a smooth pattern that differs per image (a plain zlib PNG: no imaging library)."""
    rows = b"".join(b"\x00" + bytes(((x * 3 + y * 5 + seed * 7 + c * 50) % 256)
                                      for x in range(width) for c in range(3)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def make_imagefolder(folder, count):
    for i in range(count):
        cls = os.path.join(folder, "cat" if i % 2 == 0 else "dog")
        os.makedirs(cls, exist_ok=True)
        write_png(os.path.join(cls, f"{i:05d}.png"), 120, 100, i)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--make-imagefolder":
        make_imagefolder(sys.argv[2], int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="scalebench binary (default: build/scalebench or $SCALEBENCH_BIN)")
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then scalebench train options")
    args = ap.parse_args()
    binary = benchlib.scalebench_binary(args.bin)
    extra = [a for a in args.train_args if a != "--"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.h5")
        cmd = benchlib.mpirun_prefix(args.ranks) + [binary] + extra + ["--quiet", "--output", out]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        peaks = {}        # pid -> {"Pss": max, "Rss": max, "Rss_Shmem": max}
        node_pss = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                total = 0
                for pid in rank_pids(proc.pid, binary):
                    try:
                        r = rollup(pid)
                    except OSError:
                        continue
                    p = peaks.setdefault(pid, {})
                    for k in ("Pss", "Rss", "Shared_Clean", "Shared_Dirty", "Pss_Shmem"):
                        p[k] = max(p.get(k, 0), r.get(k, 0))
                    total += r.get("Pss", 0)
                node_pss[0] = max(node_pss[0], total)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        text, _ = proc.communicate(timeout=args.timeout)
        done.set()
        sampler.join()
        if proc.returncode != 0:
            sys.exit(f"run failed ({proc.returncode}):\n{text}")
        with h5py.File(out, "r") as f:
            hwm = (f["steps/peak_rss_bytes"][()].max(axis=0) / MIB).round(1).tolist()
    result = {
        "ranks": args.ranks,
        "peak_rss_mib_per_rank": hwm,
        "peak_pss_mib_per_rank": sorted(round(p.get("Pss", 0) / MIB, 1) for p in peaks.values()),
        "peak_shared_mib_per_rank": sorted(round((p.get("Shared_Clean", 0) + p.get("Shared_Dirty", 0)) / MIB, 1)
                                           for p in peaks.values()),
        "peak_node_pss_mib": round(node_pss[0] / MIB, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
