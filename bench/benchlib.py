"""Helpers shared by the Python benchmarks in bench/: the right interpreter, the scalebench binary,
mpirun without orphans, reading run files, and medians with ranges.

The benchmarks need numpy and h5py (and torch for ddp_compare.py). A pyenv/conda python3 first on
PATH often lacks Debian's packages, so ensure_modules() re-executes the script under
$SCALEBENCH_PYTHON or /usr/bin/python3 when an import fails (as results/report does).
"""
import importlib
import os
import shutil
import signal
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_modules(*modules):
    """Imports `modules`; on failure re-executes this script under a Python that has them."""
    missing = []
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError:
            missing.append(m)
    if not missing:
        return
    tried = os.environ.get("SCALEBENCH_BENCH_REEXEC", "")
    for candidate in (os.environ.get("SCALEBENCH_PYTHON"), "/usr/bin/python3"):
        if candidate and os.access(candidate, os.X_OK) and candidate not in tried.split(":") \
                and os.path.realpath(candidate) != os.path.realpath(sys.executable):
            os.environ["SCALEBENCH_BENCH_REEXEC"] = tried + ":" + sys.executable
            os.execv(candidate, [candidate] + sys.argv)
    sys.exit(f"{sys.argv[0]}: error: this Python ({sys.executable}) lacks {', '.join(missing)}; "
             "install Debian's python3-numpy python3-h5py python3-torch or set SCALEBENCH_PYTHON")


def scalebench_binary(given=None):
    path = given or os.environ.get("SCALEBENCH_BIN") or os.path.join(ROOT, "build", "scalebench")
    if not os.access(path, os.X_OK):
        sys.exit(f"error: no scalebench binary at {path} (build it with scripts/build, or pass --bin)")
    return path


def mpirun_prefix(ranks):
    mpirun = shutil.which("mpirun") or shutil.which("mpiexec")
    if not mpirun:
        sys.exit("error: mpirun not found")
    cmd = [mpirun]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + ["--oversubscribe", "-np", str(ranks)]


def run_job(cmd, timeout, env=None):
    """Runs an MPI job in its own session; on timeout or Ctrl-C every process of that session is
    killed, so no rank is left running (and skewing the next timing). Returns CompletedProcess."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


CLUSTER = os.path.join(ROOT, "scripts", "cluster")


class EmulatedCluster:
    """The emulated cluster of scripts/cluster (needs root) for the length of a `with` block:
    `hosts` hosts h1..hN, each link shaped to `link` (tc syntax; None or "unshaped": not shaped),
    no Slurm. A leftover cluster of the same name is taken down first, and the cluster is taken
    down again on leaving the block, also on failure or Ctrl-C."""

    def __init__(self, name, hosts, link=None):
        self.name, self.hosts = name, hosts
        self.link = None if link in (None, "unshaped") else link

    def run(self, *args, timeout=900):
        """`scripts/cluster --name NAME ARGS...` as one job (run_job); returns CompletedProcess."""
        return run_job([CLUSTER, "--name", self.name] + [str(a) for a in args], timeout=timeout)

    def mpirun_prefix(self, ranks, ranks_per_node):
        """The command line that starts `ranks` ranks over the hosts, `ranks_per_node` each."""
        return [CLUSTER, "--name", self.name, "mpirun", "-np", str(ranks), "--ranks-per-node", str(ranks_per_node)]

    def host_address(self, k=1):
        """Host hK's address on the cluster's bridge, from the cluster's own hostfile."""
        path = self.run("hostfile", timeout=60).stdout.strip()
        with open(path) as f:  # "ADDRESS slots=K" per host, h1 first, after comment lines
            hosts = [line.split()[0] for line in f if line.strip() and not line.lstrip().startswith("#")]
        if len(hosts) < k:
            raise RuntimeError(f"cluster {self.name}: no host h{k} in its hostfile {path}")
        return hosts[k - 1]

    def down(self):
        subprocess.run([CLUSTER, "--name", self.name, "down"], capture_output=True, timeout=300)

    def __enter__(self):
        self.down()
        try:
            self.run("up", self.hosts, "--no-slurm", *(["--link", self.link] if self.link else []), timeout=300)
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()
        return False


def median_range(values):
    """(median, min, max) of a non-empty list."""
    return statistics.median(values), min(values), max(values)


def fmt_range(values, scale=1.0, digits=3):
    m, lo, hi = median_range(values)
    return f"{m * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def measured_step_times(h5file):
    """Per measured (non-warm-up) step, the slowest rank's step time, from a run file."""
    import numpy as np
    step_s = h5file["steps/step_s"][()]
    warmup = h5file["steps/warmup"][()][:, 0].astype(bool)
    return np.max(step_s[~warmup], axis=1)


def run_train(binary, ranks, model, out, batch, steps, warmup, threads, extra=(), timeout=900):
    """`mpirun -np ranks scalebench train ...` writing run file `out` (synthetic data, CPU)."""
    cmd = mpirun_prefix(ranks) + [
        binary, "train", "--model", model, "--device", "cpu", "--batch-size", str(batch),
        "--steps", str(steps), "--warmup-steps", str(warmup), "--threads", str(threads),
        "--quiet", "--output", out] + list(extra)
    return run_job(cmd, timeout=timeout)


def run_allreduce(binary, ranks, out, min_bytes, max_bytes, iters=20, warmup=5, factor=2,
                  timeout=900):
    """`mpirun -np ranks scalebench allreduce ...` writing `out`; returns {bytes: (time_s, busbw GB/s)}."""
    import h5py
    cmd = mpirun_prefix(ranks) + [
        binary, "allreduce", "--device", "cpu", "-b", str(min_bytes), "-e", str(max_bytes),
        "-f", str(factor), "-n", str(iters), "-w", str(warmup), "-o", out]
    run_job(cmd, timeout=timeout)
    with h5py.File(out, "r") as f:
        n = len(f["sizes/bytes"])
        # Schema 2 has rows per scope; one host runs only "all", the scope training reduces over.
        scopes = f["sizes/scope"].asstr()[()] if "scope" in f["sizes"] else ["all"] * n
        return {int(b): (float(t), float(bw)) for b, t, bw, s in
                zip(f["sizes/bytes"][()], f["sizes/time_s"][()], f["sizes/busbw_gbps"][()], scopes)
                if s == "all"}


def parse_model_batches(text):
    """`MODEL:BATCH,...` (per-rank batches) as [(model, batch)]; exits with one line otherwise."""
    out = []
    for item in text.split(","):
        name, _, batch = item.partition(":")
        if not name or not batch.isdigit() or int(batch) < 1:
            sys.exit(f"error: --models {item!r}: expected MODEL:BATCH with a positive batch")
        out.append((name, int(batch)))
    return out
