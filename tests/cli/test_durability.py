"""SIGKILL of the writing rank (rank 0) at random moments of a 2-rank run that flushes every step:
every file left opens with h5py and `h5dump -H` and holds every step flushed before the kill.

Rank 0 is the only writer (its writer thread appends and flushes after every gather), so killing
it is the worst case: nothing can mark or close the file. Each test starts
`mpiexec -n 2 scalebench` (alexnet_r, batch 1, --flush-every 1) in a session of its own, kills
rank 0's process only, at a moment drawn from a seeded RNG (SCALEBENCH_DURABILITY_SEED), lets
mpiexec end (its session is SIGKILLed if it has not within END_BOUND_S), and checks the file.

Which process is rank 0: the launcher gives each rank its world rank in its environment (Open
MPI: OMPI_COMM_WORLD_RANK; MPICH: PMI_RANK); the test takes the process of the session it made
for *its* mpiexec that runs the binary with rank 0 in /proc/PID/environ (no guess from pid order,
no other job's process), and, once the file has /ranks/pid, checks that it names the same one.

The lower bound: while the run goes, the test copies the .partial file (the copy may catch a
write half done; a copy that does not open, or whose /steps are not consecutive steps from 0 on
both ranks with every dataset the same length, is discarded and the next one taken). The rows of
the last good copy were on disk before the kill, so the file after the kill must hold at least as
many, the same steps. A kill planned at "step S" waits for a good copy of >= S steps, then a
random 0-50 ms more, so kills land anywhere in the gather/append/flush cycle.

No timing is asserted: the bound on mpiexec's end only keeps a hang from hanging the suite.
With SCALEBENCH_DURABILITY_REPORT=FILE.json each kill's figures (steps seen, steps in the file,
status, exit code, seconds from the kill to the job's end) are written there for docs/faults.md.
Needs h5py (Debian's /usr/bin/python3)."""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

try:
    import h5py
    import numpy as np
except ImportError:
    h5py = None

from scalebench_cli import BIN, MPIEXEC, require_binary

SEED = int(os.environ.get("SCALEBENCH_DURABILITY_SEED", "20261202"))
# Kills are planned over the first PLAN_SPAN steps; the run is given far more, so it cannot end by
# itself before a kill however fast the machine (a CI machine ran 2,500 steps in 10 s, faster than
# the test's copies of the file could follow; the run then ended, or was killed while renaming).
PLAN_SPAN = 2500
STEPS = 10_000_000
END_BOUND_S = 60      # mpiexec must end within this after the kill, else its session is killed
COMM_TIMEOUT_S = 10   # rank 1's watchdog ends it even where the launcher would not
FAILURE_STATUSES = {"running", "failed", "stuck"}  # rank 0 cannot write after SIGKILL: "running"
H5DUMP = shutil.which("h5dump")
ARGS = ["--model", "alexnet_r", "--device", "cpu", "--batch-size", "1", "--steps", str(STEPS),
        "--warmup-steps", "1", "--threads", "1", "--flush-every", "1",
        "--comm-timeout", str(COMM_TIMEOUT_S), "--quiet"]


def make_plan(seed):
    """Six kills, early to late: one soon after rank 0's process appears (before the file
    exists), one soon after the .partial file appears (while /ranks and the first steps are
    written: no step need be flushed yet), four once the file showed >= S steps, S drawn from
    bands spread over the run."""
    rng = random.Random(seed)
    plan = [("after_start", {"delay_s": rng.uniform(0.0, 0.3)}),
            ("after_file_created", {"delay_s": rng.uniform(0.0, 0.3), "after_file": True})]
    for lo, hi in ((1, 0.05), (0.05, 0.25), (0.25, 0.5), (0.5, 0.8)):
        lo_s = lo if isinstance(lo, int) else int(lo * PLAN_SPAN)
        plan.append((f"at_{int(hi * 100)}pct", {"at_step": rng.randint(lo_s, int(hi * PLAN_SPAN)),
                                                "jitter_s": rng.uniform(0.0, 0.05)}))
    return plan


PLAN = make_plan(SEED)
REPORT_ROWS = []


def tearDownModule():
    path = os.environ.get("SCALEBENCH_DURABILITY_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({"seed": SEED, "kills": REPORT_ROWS}, f, indent=1)


def proc_stat(pid):
    """(state, start time in clock ticks, session id) of a live pid, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[19]), int(fields[3])


def alive(pid, start):
    """Is pid still the process we saw (not a zombie, not a reused pid)?"""
    s = proc_stat(pid)
    return s is not None and s[0] != "Z" and s[1] == start


def session_members(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = proc_stat(int(entry))
            if s is not None and s[2] == sid and s[0] != "Z":
                pids.append(int(entry))
    return pids


def rank_processes(mpiexec_pid):
    """{world rank: (pid, start time)} of the binary's processes in the session this test made
    for its mpiexec (Open MPI forks the ranks itself; MPICH's hydra through proxies: both stay in
    the session), by the rank the launcher put in their environment."""
    ranks = {}
    for pid in session_members(mpiexec_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if os.path.basename(BIN).encode() not in f.read().split(b"\0")[0]:
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except OSError:
            continue
        rank = env.get(b"OMPI_COMM_WORLD_RANK", env.get(b"PMI_RANK"))
        s = proc_stat(pid)
        if rank is not None and s is not None:
            ranks[int(rank)] = (pid, s[1])
    return ranks


def read_steps(path):
    """A consistent view of a run file, or None: {"steps", "status", "pids", "step"}. Consistent:
    opens, every /steps dataset has the same rows, and those are steps 0..n-1 on every rank."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            rows = {name: ds.shape[0] for name, ds in f["steps"].items()}
            step = f["steps/step"][()]
            status = f.attrs["status"]
            pids = f["ranks/pid"][()] if "ranks" in f and "pid" in f["ranks"] else None
            info = {"steps": step.shape[0], "rows": rows, "step": step,
                    "status": status.decode() if isinstance(status, bytes) else str(status),
                    "pids": None if pids is None or len(pids) == 0 else [int(p) for p in pids],
                    "format": f.attrs.get("format"), "schema_version": f.attrs.get("schema_version")}
    except Exception:  # noqa: BLE001 - a copy caught mid-write fails in many ways
        return None
    if len(set(info["rows"].values())) != 1:
        return None
    if not (info["step"] == np.arange(info["steps"])[:, None]).all():
        return None
    return info


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class SigkillOfRank0(unittest.TestCase):
    """One test per kill of PLAN; each leaves no process and checks the file."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "run.h5")
        self.partial = self.out + ".partial"
        self.snapshot = os.path.join(self.tmp.name, "snapshot.h5")
        self.proc = None

    def tearDown(self):
        # Whatever happened, nothing of the job survives the test: its whole session is killed.
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.proc is not None:
            for pid in session_members(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.tmp.cleanup()

    def start(self):
        cmd = [MPIEXEC, "-n", "2", "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        self.log = open(os.path.join(self.tmp.name, "job.log"), "w+")
        self.addCleanup(self.log.close)
        # A session of its own: the launcher, its helpers and the ranks can be killed together.
        self.proc = subprocess.Popen(cmd + [BIN] + ARGS + ["--output", self.out],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     env=dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1"))
        self.started = time.monotonic()

    def job_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def check_running(self):
        if self.proc.poll() is not None:
            self.fail(f"the run ended (exit {self.proc.returncode}) before the kill:\n{self.job_text()}")

    def wait_for_ranks(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            ranks = rank_processes(self.proc.pid)
            if 0 in ranks and 1 in ranks:
                return ranks
            time.sleep(0.01)
        self.fail("rank 0 and rank 1 did not appear under mpiexec")

    def snapshot_info(self):
        """A consistent copy of the live .partial file, or None (absent, or caught mid-write)."""
        try:
            shutil.copyfile(self.partial, self.snapshot)
        except OSError:
            return None
        return read_steps(self.snapshot)

    def run_kill(self, name, delay_s=None, at_step=None, jitter_s=0.0, after_file=False):
        self.start()
        ranks = self.wait_for_ranks()
        seen = None  # the last consistent copy taken before the kill
        if after_file:
            deadline = time.monotonic() + 120
            while not os.path.exists(self.partial):
                self.check_running()
                if time.monotonic() > deadline:
                    self.fail("rank 0 never created the .partial file")
                time.sleep(0.005)
        if delay_s is not None:
            time.sleep(delay_s)
            self.check_running()
            seen = self.snapshot_info()
        else:
            deadline = time.monotonic() + 600
            while seen is None or seen["steps"] < at_step:
                self.check_running()
                if time.monotonic() > deadline:
                    self.fail(f"the file never showed {at_step} steps")
                seen = self.snapshot_info() or seen
                # Copies cost CPU the run needs (2 cores here): often only near the target.
                near = seen is not None and seen["steps"] >= at_step - 30
                time.sleep(0.01 if near else 0.2)
            time.sleep(jitter_s)
        self.check_running()
        rank0_pid, rank0_start = ranks[0]
        if seen is not None and seen["pids"] is not None:
            self.assertEqual(seen["pids"][0], rank0_pid, "/ranks/pid names the process killed")
        os.kill(rank0_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        seen_steps = seen["steps"] if seen is not None else 0

        try:
            code = self.proc.wait(timeout=END_BOUND_S)
            ended_after = time.monotonic() - killed_at
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.fail(f"mpiexec did not end within {END_BOUND_S} s of rank 0's SIGKILL:\n"
                      f"{self.job_text()}")
        # No process is left: the ranks we knew, and nothing else in the job's session.
        deadline = time.monotonic() + 10
        left = []
        while time.monotonic() < deadline:
            left = [pid for pid, start in ranks.values() if alive(pid, start)]
            left += [p for p in session_members(self.proc.pid) if p not in left]
            if not left:
                break
            time.sleep(0.1)
        self.assertEqual(left, [], f"processes left behind after the job ended: {left}")
        self.assertFalse(alive(rank0_pid, rank0_start))

        row = {"kill": name, "planned": {"delay_s": delay_s, "at_step": at_step,
                                         "after_file": after_file},
               "kill_s_after_launch": round(killed_at - self.started, 2),
               "steps_seen_before_kill": seen_steps, "exit_code": code,
               "seconds_to_end": round(ended_after, 2)}
        REPORT_ROWS.append(row)
        self.assertNotEqual(code, 0, self.job_text())
        self.assertFalse(os.path.exists(self.out), "a killed run must not look completed")
        if not os.path.exists(self.partial):
            # Killed before rank 0 created the file: nothing was flushed, nothing to hold.
            row.update(file="none")
            self.assertEqual(seen_steps, 0)
            return row
        if H5DUMP:
            res = subprocess.run([H5DUMP, "-H", self.partial], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, timeout=120)
            self.assertEqual(res.returncode, 0, f"h5dump -H: {res.stderr[-2000:]}")
        else:
            print(f"\n{self.id()}: h5dump not found (package hdf5-tools): its check is skipped")
        with h5py.File(self.partial, "r") as f:  # the lock went with the process: a plain open
            rows = {n: ds.shape[0] for n, ds in f["steps"].items()}
            step = f["steps/step"][()]
            status = f.attrs["status"]
            status = status.decode() if isinstance(status, bytes) else str(status)
            fmt, schema = f.attrs["format"], f.attrs["schema_version"]
        row.update(file=".partial", status=status, steps_in_file=int(step.shape[0]))
        self.assertEqual(fmt, "scalebench-run")
        self.assertEqual(schema, 3)
        self.assertIn(status, FAILURE_STATUSES)
        self.assertEqual(len(set(rows.values())), 1, f"/steps datasets differ in rows: {rows}")
        self.assertEqual(step.shape[1], 2)
        self.assertTrue((step == np.arange(step.shape[0])[:, None]).all(),
                        f"/steps/step is not 0..n-1 on both ranks: {step[:, 0].tolist()[-20:]}")
        # The point: every step on disk before the kill is still there.
        self.assertGreaterEqual(step.shape[0], seen_steps,
                                f"the file lost flushed steps: {seen_steps} seen before the kill, "
                                f"{step.shape[0]} after")
        if at_step is not None:
            self.assertGreaterEqual(step.shape[0], at_step)
        return row


def _make_test(name, params):
    def test(self):
        self.run_kill(name, **params)
    test.__doc__ = f"SIGKILL of rank 0 {name.replace('_', ' ')}: {params} (seed {SEED})"
    return test


for _i, (_name, _params) in enumerate(PLAN):
    setattr(SigkillOfRank0, f"test_sigkill_rank0_{_i}_{_name}", _make_test(_name, _params))


class Plan(unittest.TestCase):
    def test_plan_spreads_kills_and_flushed_kills_exist(self):
        """Kills go from just after start to late in the run; most come after flushed steps."""
        steps = [p.get("at_step") for _, p in PLAN if p.get("at_step") is not None]
        self.assertGreaterEqual(len(steps), 1, "at least one kill after >= 1 flushed step")
        self.assertTrue(all(s >= 1 for s in steps))
        self.assertGreater(max(steps), PLAN_SPAN // 2, "a kill late in the planned span")
        self.assertLess(max(steps), STEPS, "every kill lands before the run would end")
        self.assertEqual(make_plan(SEED), PLAN, "the plan is reproducible from the seed")


if __name__ == "__main__":
    unittest.main()
