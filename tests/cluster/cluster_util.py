"""Shared by the emulated-cluster tests (tests/cluster/): bring a cluster up with scripts/cluster,
always take it down again, run things in it, read run files.

Each suite is started as `python3 test_X.py` (not -m unittest) so that it can exit 77, CTest's
"skipped", with a line saying why, where the machine cannot run it (not root, no namespaces).
Each suite uses its own cluster name, so it never touches a person's cluster ("sb") or another
suite's; it takes down a leftover of its own name first (a run killed by CTest's timeout).
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER = os.path.join(ROOT, "scripts", "cluster")
BIN = os.environ.get("SCALEBENCH_BIN") or os.path.join(ROOT, "build", "scalebench")
PY = "/usr/bin/python3"  # Debian's python3, with h5py (the one on PATH may lack it)

# Small runs (README's tiny settings): a few seconds each on 2 cores.
TINY = ["--device", "cpu", "--threads", "1", "--steps", "6", "--warmup-steps", "1",
        "--batch-size", "4", "--quiet"]


def skip_reason(needs_binary=True):
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridge)"
    if needs_binary and not os.access(BIN, os.X_OK):
        if os.environ.get("SCALEBENCH_BIN"):  # CTest names the built binary: missing is a failure
            print(f"FAILED: SCALEBENCH_BIN={BIN} is not an executable", file=sys.stderr)
            sys.exit(1)
        return f"no scalebench binary at {BIN} (build it, or set SCALEBENCH_BIN)"
    p = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if p.returncode != 0:
        return f"no network namespaces here (unshare --net: {p.stderr.strip()})"
    return None


def main(needs_slurm=False, needs_binary=True):
    """Entry point of a suite: skip (77) or run the tests, with the cluster removed on any exit."""
    why = skip_reason(needs_binary)
    if not why and needs_slurm:
        for tool in ("slurmctld", "slurmd", "sbatch"):
            if subprocess.run(["which", tool], capture_output=True).returncode != 0:
                why = f"{tool} not installed (apt-get install slurm-wlm munge)"
    if why:
        print(f"SKIPPED: {why}")
        sys.exit(77)
    # Ctrl-C or a SIGTERM: leave through sys.exit, so atexit takes the clusters down.
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(1))
    prog = unittest.main(module="__main__", verbosity=2, exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


class Cluster:
    """One emulated cluster for a suite. `down` runs at the end whatever happens (atexit too)."""

    def __init__(self, name, hosts, *up_args):
        self.name = name
        self.hosts = hosts
        self.up_args = list(up_args)
        self.is_up = False

    def cmd(self, *args):
        return [PY, CLUSTER, "--name", self.name, *args]

    def up(self):
        self.down(quiet=True)  # a leftover of an earlier, killed run of this suite
        atexit.register(self.down, True)
        p = subprocess.run(self.cmd("up", str(self.hosts), *self.up_args), capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"cluster up failed: {p.stdout}{p.stderr}")
        self.is_up = True
        return p.stdout

    def down(self, quiet=False):
        p = subprocess.run(self.cmd("down"), capture_output=True, text=True, timeout=120)
        if p.returncode != 0 and not quiet:
            raise AssertionError(f"cluster down failed: {p.stderr}")
        self.is_up = False

    def run(self, *args, timeout=300, env=None, check=True, cwd=ROOT):
        """scripts/cluster ARGS...; returns CompletedProcess (text). check: fail on non-zero."""
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout,
                           env=e, cwd=cwd)
        if check and p.returncode != 0:
            raise AssertionError(f"scripts/cluster {' '.join(args)} exited {p.returncode}:\n"
                                 f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return p

    def netns(self, host):
        return f"sbc-{self.name}-{host}"

    def link_bytes(self, host):
        """(tx, rx) bytes of host's eth0, from /sys/class/net as seen inside the host (ip netns
        exec mounts the namespace's own sysfs; nsenter alone would show this machine's)."""
        out = subprocess.run(
            ["ip", "netns", "exec", self.netns(host), "sh", "-c",
             "cat /sys/class/net/eth0/statistics/tx_bytes /sys/class/net/eth0/statistics/rx_bytes"],
            capture_output=True, text=True, check=True).stdout.split()
        return int(out[0]), int(out[1])

    def start(self, *args, env=None, stdout=None, cwd=ROOT):
        """scripts/cluster ARGS... in the background (its own session); returns the Popen. Output
        goes to the file object stdout (stderr with it)."""
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.Popen(self.cmd(*args), stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.STDOUT, env=e, cwd=cwd, start_new_session=True)

    def address(self, host):
        return f"{cluster_state(self.name)['subnet']}.{int(host[1:])}"

    def job_processes(self):
        """{host: [(pid, comm)]} of every process inside the cluster's namespaces (head and hosts)
        except the daemons scripts/cluster started (munged, slurmctld, slurmd) and the helpers of
        munged and slurmctld (slurmscriptd); a slurmd's children are job steps and do count."""
        state = cluster_state(self.name)
        daemons = {d["pid"] for d in state.get("daemons", [])}
        helpers_of = {d["pid"] for d in state.get("daemons", []) if not d["label"].startswith("slurmd")}
        left = {}
        for host in ["head"] + [f"h{k}" for k in range(1, state["hosts"] + 1)]:
            for pid in netns_pids(self.netns(host)):
                comm = proc_comm(pid)
                if pid not in daemons and comm is not None and proc_ppid(pid) not in helpers_of:
                    left.setdefault(host, []).append((pid, comm))
        return left

    def end_job_processes(self):
        """SIGKILLs, by pid, what job_processes lists (a failed test's leftovers)."""
        for procs in self.job_processes().values():
            for pid, _ in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


class WithTempDir(unittest.TestCase):
    """A suite's run files in one temporary folder, removed when the suite ends."""
    PREFIX = "scalebench-cluster-"

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix=cls.PREFIX)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)


def h5_summary(path):
    """Root attributes and per-rank data of a run file (the suites run under Debian's python3,
    which has h5py)."""
    import h5py
    with h5py.File(path, "r") as f:
        attrs = {}
        for k, v in f.attrs.items():
            v = v.item() if hasattr(v, "item") else v
            attrs[k] = v.decode() if isinstance(v, bytes) else v
        return {"attrs": attrs,
                "hostname": list(f["ranks/hostname"].asstr()[:]),
                "local_rank": [int(x) for x in f["ranks/local_rank"][:]],
                "param_checksum": list(f["ranks/param_checksum"].asstr()[:]),
                "bytes_reduced": [int(x) for x in f["steps/bytes_reduced"][:, 0]],
                "node_index": [int(x) for x in f["ranks/node_index"][:]] if "node_index" in f["ranks"] else None,
                "spans_nodes": [int(x) for x in f["buckets/spans_nodes"][:]] if "spans_nodes" in f["buckets"] else None}


def saved_parameters(path):
    """{name: numpy array} of a model saved by `scalebench train --save` (a LibTorch archive: a
    zip of data.pkl, whose tensors point at raw little-endian storages data/N), read without
    torch (Debian's python3 may not have it): the pickle is walked with stand-in classes."""
    import pickle
    import zipfile
    import numpy as np
    dtypes = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
              "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8,
              "BoolStorage": np.bool_, "BFloat16Storage": None}
    zf = zipfile.ZipFile(path)
    names = zf.namelist()
    pkl = next(n for n in names if n.endswith("/data.pkl") and n.count("/") == 1)
    prefix = pkl[: -len("data.pkl")]

    class Stub:
        def __init__(self, *a, **k):
            self.args = a
        def __setstate__(self, state):
            self.state = state
        def __call__(self, *a, **k):  # a stand-in class called as a function
            return Stub(*a)

    class StorageType:
        def __init__(self, name):
            self.name = name

    class Tensor:
        def __init__(self, storage, offset, size, stride, *rest):
            kind, key, numel = storage
            dtype = dtypes.get(kind)
            raw = np.frombuffer(zf.read(f"{prefix}data/{key}"), dtype=dtype)
            n = int(np.prod(size)) if len(size) else 1
            self.value = np.lib.stride_tricks.as_strided(
                raw[offset:], shape=tuple(size), strides=tuple(s * raw.itemsize for s in stride)
            ).copy() if n else np.zeros(size, dtype)

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name.startswith("_rebuild_tensor"):
                return Tensor
            if module == "torch" and name.endswith("Storage"):
                return StorageType(name)
            if module == "collections" and name == "OrderedDict":
                import collections
                return collections.OrderedDict
            return Stub

        def persistent_load(self, pid):
            # ('storage', storage type, key, location, numel)
            return (pid[1].name, pid[2], pid[4])

    root = Reader(zf.open(pkl)).load()
    found = {}

    def walk(obj, name, depth=0):
        if depth > 50:
            return
        if isinstance(obj, Tensor):
            found[name] = obj.value
        elif isinstance(obj, Stub):
            walk(getattr(obj, "state", None), name, depth + 1)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{name}.{k}" if name else str(k), depth + 1)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{name}[{i}]", depth + 1)
    walk(root, "")
    return found


# --- for the fault suites: runs in the background, processes by namespace, live run files ---------
def cluster_state(name):
    """The cluster's state.json (scripts/cluster): subnet, hosts, the daemons it started."""
    import json
    base = os.environ.get("SCALEBENCH_CLUSTER_DIR", "/run/scalebench-cluster")
    with open(os.path.join(base, name, "state.json")) as f:
        return json.load(f)


def netns_pids(ns):
    """Pids in network namespace ns (`ip netns pids`, which lists by pid)."""
    p = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def proc_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None




def read_steps(path):
    """A consistent view of a run file, or None: {"steps", "status", "events"}. Consistent: it
    opens, every /steps dataset has the same rows, and those are steps 0..n-1 on every rank (as
    tests/cli/test_durability.py reads a live .partial file through a copy)."""
    import h5py
    import numpy as np
    try:
        with h5py.File(path, "r", locking=False) as f:
            rows = {name: ds.shape[0] for name, ds in f["steps"].items()}
            step = f["steps/step"][()]
            status = f.attrs["status"]
            events = []
            if "events" in f and "kind" in f["events"]:
                kinds = f["events/kind"].asstr()[()]
                messages = f["events/message"].asstr()[()]
                events = list(zip(kinds, messages))
            info = {"steps": int(step.shape[0]), "rows": rows, "step": step, "events": events,
                    "status": status.decode() if isinstance(status, bytes) else str(status)}
    except Exception:  # noqa: BLE001 - a copy caught mid-write fails in many ways
        return None
    if len(set(info["rows"].values())) != 1:
        return None
    if info["steps"] and not (info["step"] == np.arange(info["steps"])[:, None]).all():
        return None
    return info


def snapshot_steps(path, copy):
    """read_steps of a copy of the live file path (None: absent, or caught mid-write)."""
    try:
        shutil.copyfile(path, copy)
    except OSError:
        return None
    return read_steps(copy)
