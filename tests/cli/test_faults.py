"""Faults under mpiexec -n 2: stop signals flush and close the file as "interrupted", a
non-finite loss ends the run as "diverged", a killed rank does not leave the others hanging.
In every case the recorded steps survive and the file opens. Needs h5py (Debian's python3)."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

try:
    import h5py
except ImportError:
    h5py = None

from scalebench_cli import BIN, MPIEXEC, require_binary

EXIT_INTERRUPTED, EXIT_DIVERGED = 4, 5
# With SCALEBENCH_FAULT_REPORT=FILE.json, each test records what happened (fault, seconds from
# the fault to the end of the job, exit code, what the file held) for docs/faults.md.
REPORT_ROWS = []


def record(fault, seconds, code, path):
    row = {"fault": fault, "seconds_to_end": round(seconds, 1), "exit_code": code}
    try:
        info = read_file(path)
        row.update(status=info["status"], steps_in_file=info["steps"], events=info["kinds"])
    except (OSError, KeyError) as e:
        row.update(status=f"unreadable ({e})")
    REPORT_ROWS.append(row)


def tearDownModule():
    path = os.environ.get("SCALEBENCH_FAULT_REPORT")
    if path:
        import json
        with open(path, "w") as f:
            json.dump(REPORT_ROWS, f, indent=1)
# Long enough that the run is still going when the signal comes (a few seconds in), short enough
# that a job orphaned by a killed test ends by itself within minutes; flushed every 2 steps.
LONG_RUN = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "3000", "--warmup-steps", "1",
            "--batch-size", "4", "--threads", "1", "--flush-every", "2", "--quiet"]


STARTED = []  # every job a test started: killed in tearDown whatever happened


def start(args, ranks=2, env=None):
    cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    proc = subprocess.Popen(cmd + [BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=dict(os.environ, **(env or {})))
    STARTED.append(proc.pid)
    return proc


def rank_pids(mpirun_pid):
    """The scalebench processes mpirun started: its children running the binary (mpirun has
    helper children too), in rank order (started in rank order, so by pid)."""
    out = subprocess.run(["pgrep", "-P", str(mpirun_pid)], capture_output=True, text=True).stdout
    pids = []
    for pid in sorted(int(p) for p in out.split()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if os.path.basename(BIN).encode() in f.read().split(b"\0")[0]:
                    pids.append(pid)
        except OSError:
            pass
    return pids


def kill_job(mpirun_pid):
    """SIGKILL to mpirun and every rank: the ranks run in their own process groups, but in
    mpirun's session (start() made one)."""
    subprocess.run(["pkill", "-KILL", "-s", str(mpirun_pid)])


def read_file(path):
    # locking=False: peek at a file a live run holds (HDF5 reads HDF5_USE_FILE_LOCKING only once
    # per process, so the environment variable cannot be set here).
    with h5py.File(path, "r", locking=False) as f:
        return {"status": f.attrs["status"], "steps": f["steps/step"].shape[0],
                "kinds": list(f["events/kind"].asstr()[:]),
                "messages": list(f["events/message"].asstr()[:]),
                "end_time": f.attrs.get("end_time", "")}


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Faults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "run.h5")
        self.partial = self.out + ".partial"

    def tearDown(self):
        # The ranks run in mpirun's session, not its process group: kill the session, so that a
        # failed test never leaves a job running.
        while STARTED:
            kill_job(STARTED.pop())
        self.tmp.cleanup()

    def wait_for_steps(self, proc, at_least=4, timeout=120):
        """Until the file holds `at_least` flushed steps (so the run is really training)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.fail("the run ended early: " + str(proc.communicate()))
            if os.path.exists(self.partial):
                try:
                    if read_file(self.partial)["steps"] >= at_least:
                        return
                except (OSError, KeyError):
                    pass  # caught between two writes
            time.sleep(0.5)
        self.fail("the run recorded no steps in time")

    def finish(self, proc, within_s):
        self.fault_time = getattr(self, "fault_time", None) or time.monotonic()
        try:
            out, err = proc.communicate(timeout=within_s)
        except subprocess.TimeoutExpired:
            kill_job(proc.pid)
            proc.communicate()
            self.fail(f"the job did not end within {within_s} s")
        self.ended_after = time.monotonic() - self.fault_time
        return proc.returncode, out + err

    def assert_interrupted(self, proc, sent, fault):
        code, text = self.finish(proc, within_s=30)
        record(fault, self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_INTERRUPTED, text)
        self.assertFalse(os.path.exists(self.out), "an interrupted run is not a result")
        info = read_file(self.partial)
        self.assertEqual(info["status"], "interrupted")
        self.assertGreaterEqual(info["steps"], 4, "every step up to the stop is in the file")
        self.assertIn("interrupted", info["kinds"])
        self.assertTrue(any(sent in m for m in info["messages"]), info["messages"])
        self.assertTrue(info["end_time"])
        self.assertIn("interrupted", text)

    def test_sigusr1_to_mpirun_is_forwarded_and_flushes(self):
        # Slurm's --signal=B:USR1@T early warning reaches mpirun via the batch script's trap.
        proc = start(LONG_RUN + ["--output", self.out])
        self.wait_for_steps(proc)
        self.fault_time = time.monotonic()
        os.kill(proc.pid, signal.SIGUSR1)
        self.assert_interrupted(proc, "SIGUSR1", "SIGUSR1 to mpirun (Slurm early warning)")

    def test_sigterm_to_every_rank(self):
        # What Slurm does at the time limit with srun: SIGTERM to every task.
        proc = start(LONG_RUN + ["--output", self.out])
        self.wait_for_steps(proc)
        ranks = rank_pids(proc.pid)
        self.assertEqual(len(ranks), 2, ranks)
        self.fault_time = time.monotonic()
        for pid in ranks:
            os.kill(pid, signal.SIGTERM)
        self.assert_interrupted(proc, "SIGTERM", "SIGTERM to every rank (Slurm time limit, srun)")

    def test_signal_to_one_rank_stops_all_after_the_same_step(self):
        proc = start(LONG_RUN + ["--output", self.out])
        self.wait_for_steps(proc)
        self.fault_time = time.monotonic()
        os.kill(rank_pids(proc.pid)[-1], signal.SIGTERM)
        self.assert_interrupted(proc, "SIGTERM", "SIGTERM to rank 1 only")
        with h5py.File(self.partial, "r", locking=False) as f:
            steps = f["steps/step"][:]
            self.assertTrue((steps[:, 0] == steps[:, 1]).all(), "both ranks recorded the same steps")

    def test_non_finite_loss_is_diverged(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "40", "--warmup-steps", "0",
                "--batch-size", "4", "--optimizer", "sgd", "--lr", "1e30", "--quiet",
                "--output", self.out]
        code, text = self.finish(start(args), within_s=120)
        record("NaN loss (SGD, lr 1e30)", self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_DIVERGED, text)
        info = read_file(self.partial)
        self.assertEqual(info["status"], "diverged")
        self.assertLess(info["steps"], 40)
        self.assertIn("diverged", info["kinds"])
        self.assertFalse(os.path.exists(self.out))

    def test_stuck_rank_is_named(self):
        # Rank 1 stays alive but never enters another collective from step 6 on.
        timeout = 5
        proc = start(LONG_RUN + ["--comm-timeout", str(timeout), "--output", self.out],
                     env={"SCALEBENCH_TEST_INJECT": "stall:1:6"})
        self.wait_for_steps(proc, at_least=6)  # steps 0-5 flushed: rank 1 is now stalled
        self.fault_time = time.monotonic()
        code, text = self.finish(proc, within_s=timeout + 40)
        record("rank 1 stalls before step 6 (--comm-timeout 5)", self.ended_after, code, self.partial)
        self.assertEqual(code, 3, text)  # the collective timeout
        self.assertIn("rank 1 on ", text)
        self.assertIn("last began step 5 and has not begun step 6", text)
        self.assertIn("--comm-timeout=5", text)
        info = read_file(self.partial)
        self.assertGreaterEqual(info["steps"], 6, "flushed steps survive")
        self.assertEqual(info["status"], "stuck")
        self.assertTrue(any("rank 1" in m for m in info["messages"]), info["messages"])

    def test_malformed_injection_is_refused(self):
        code, text = self.finish(start(LONG_RUN + ["--output", self.out],
                                       env={"SCALEBENCH_TEST_INJECT": "explode"}), within_s=60)
        self.assertEqual(code, 2, text)
        self.assertIn("allowed: stall:RANK:STEP", text)

    def test_killed_rank_does_not_hang_the_others(self):
        timeout = 10
        proc = start(LONG_RUN + ["--comm-timeout", str(timeout), "--output", self.out])
        self.wait_for_steps(proc)
        ranks = rank_pids(proc.pid)
        self.assertEqual(len(ranks), 2, ranks)
        self.fault_time = time.monotonic()
        os.kill(ranks[-1], signal.SIGKILL)
        code, text = self.finish(proc, within_s=timeout + 30)
        record("SIGKILL to rank 1 (--comm-timeout 10)", self.ended_after, code, self.partial)
        self.assertNotEqual(code, 0, text)
        # Every flushed step survives, and the file opens.
        info = read_file(self.partial)
        self.assertGreaterEqual(info["steps"], 4)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    unittest.main()
