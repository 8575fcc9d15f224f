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
# Long enough that the run is still going when the signal comes; the file is flushed every 2 steps.
LONG_RUN = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "100000", "--warmup-steps", "1",
            "--batch-size", "4", "--threads", "1", "--flush-every", "2", "--quiet"]


def start(args, ranks=2):
    cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return subprocess.Popen(cmd + [BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def rank_pids(mpirun_pid):
    """The scalebench processes mpirun started (its children)."""
    out = subprocess.run(["pgrep", "-P", str(mpirun_pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def read_file(path):
    env_lock = os.environ.get("HDF5_USE_FILE_LOCKING")
    os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"  # peek at a file a live run may hold
    try:
        with h5py.File(path, "r") as f:
            return {"status": f.attrs["status"], "steps": f["steps/step"].shape[0],
                    "kinds": list(f["events/kind"].asstr()[:]),
                    "messages": list(f["events/message"].asstr()[:]),
                    "end_time": f.attrs.get("end_time", "")}
    finally:
        if env_lock is None:
            os.environ.pop("HDF5_USE_FILE_LOCKING")
        else:
            os.environ["HDF5_USE_FILE_LOCKING"] = env_lock


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Faults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "run.h5")
        self.partial = self.out + ".partial"

    def tearDown(self):
        self.tmp.cleanup()

    def wait_for_steps(self, proc, at_least=4, timeout=120):
        """Until the file holds `at_least` flushed steps (so the run is really training)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "the run ended early: " + str(proc.communicate()))
            if os.path.exists(self.partial):
                try:
                    if read_file(self.partial)["steps"] >= at_least:
                        return
                except (OSError, KeyError):
                    pass  # caught between two writes
            time.sleep(0.5)
        self.fail("the run recorded no steps in time")

    def finish(self, proc, within_s):
        try:
            out, err = proc.communicate(timeout=within_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            self.fail(f"the job did not end within {within_s} s")
        return proc.returncode, out + err

    def assert_interrupted(self, proc, sent):
        code, text = self.finish(proc, within_s=30)
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
        os.kill(proc.pid, signal.SIGUSR1)
        self.assert_interrupted(proc, "SIGUSR1")

    def test_sigterm_to_every_rank(self):
        # What Slurm does at the time limit with srun: SIGTERM to every task.
        proc = start(LONG_RUN + ["--output", self.out])
        self.wait_for_steps(proc)
        for pid in rank_pids(proc.pid):
            os.kill(pid, signal.SIGTERM)
        self.assert_interrupted(proc, "SIGTERM")

    def test_signal_to_one_rank_stops_all_after_the_same_step(self):
        proc = start(LONG_RUN + ["--output", self.out])
        self.wait_for_steps(proc)
        os.kill(rank_pids(proc.pid)[-1], signal.SIGTERM)
        self.assert_interrupted(proc, "SIGTERM")
        with h5py.File(self.partial, "r") as f:
            steps = f["steps/step"][:]
            self.assertTrue((steps[:, 0] == steps[:, 1]).all(), "both ranks recorded the same steps")

    def test_non_finite_loss_is_diverged(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "40", "--warmup-steps", "0",
                "--batch-size", "4", "--optimizer", "sgd", "--lr", "1e30", "--quiet",
                "--output", self.out]
        code, text = self.finish(start(args), within_s=120)
        self.assertEqual(code, EXIT_DIVERGED, text)
        info = read_file(self.partial)
        self.assertEqual(info["status"], "diverged")
        self.assertLess(info["steps"], 40)
        self.assertIn("diverged", info["kinds"])
        self.assertFalse(os.path.exists(self.out))

    def test_killed_rank_does_not_hang_the_others(self):
        timeout = 10
        proc = start(LONG_RUN + ["--comm-timeout", str(timeout), "--output", self.out])
        self.wait_for_steps(proc)
        os.kill(rank_pids(proc.pid)[-1], signal.SIGKILL)
        code, text = self.finish(proc, within_s=timeout + 30)
        self.assertNotEqual(code, 0, text)
        # Every flushed step survives, and the file opens.
        info = read_file(self.partial)
        self.assertGreaterEqual(info["steps"], 4)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    unittest.main()
