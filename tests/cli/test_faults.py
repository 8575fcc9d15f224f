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

EXIT_INTERRUPTED, EXIT_DIVERGED, EXIT_OOM, EXIT_DESYNC = 4, 5, 6, 7
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
                "end_time": f.attrs.get("end_time", ""),
                "attrs": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()},
                "step_numbers": f["steps/step"][:]}


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

    def run_hang(self, rank, timeout=5):
        """rank's gradient collectives from step 6 on are started and ordered but never report
        completion (hang:RANK:6), as an NCCL collective whose kernel waits for a lost peer. The
        job must end as stuck (exit 3) with steps 0-5 kept. Returns (output, file info)."""
        proc = start(LONG_RUN + ["--comm-timeout", str(timeout), "--output", self.out],
                     env={"SCALEBENCH_TEST_INJECT": f"hang:{rank}:6"})
        self.wait_for_steps(proc, at_least=6)
        self.fault_time = time.monotonic()
        code, text = self.finish(proc, within_s=timeout + 40)
        record(f"rank {rank}'s collectives never complete from step 6 (--comm-timeout {timeout})",
               self.ended_after, code, self.partial)
        self.assertEqual(code, 3, text)
        self.assertIn(f"--comm-timeout={timeout}", text)
        info = read_file(self.partial)
        self.assertEqual(info["status"], "stuck")
        self.assertGreaterEqual(info["steps"], 6, "flushed steps survive")
        self.assertEqual(list(info["step_numbers"][:6, 0]), list(range(6)))
        return text, info

    def test_collective_that_never_completes_is_caught_by_the_guarded_wait(self):
        # Rank 0's own host wait for them (and for the step's device work) is the guarded one,
        # so its watchdog ends the job and names that wait.
        text, _ = self.run_hang(0)
        self.assertIn("completion of the step's device work and gradient collectives' at step 6", text)

    def test_rank_stuck_inside_a_step_is_named(self):
        # Rank 0 finishes step 6's work and waits in the agreement after it; the board names
        # rank 1 as stuck inside step 6.
        text, info = self.run_hang(1)
        self.assertIn("rank 1 on ", text)
        self.assertIn("began step 6 and has not finished its work", text)
        self.assertTrue(any("began step 6 and has not finished its work" in m for m in info["messages"]),
                        info["messages"])

    def test_malformed_injection_is_refused(self):
        code, text = self.finish(start(LONG_RUN + ["--output", self.out],
                                       env={"SCALEBENCH_TEST_INJECT": "explode"}), within_s=60)
        self.assertEqual(code, 2, text)
        self.assertIn("allowed: stall:RANK:STEP, oom:RANK:STEP", text)
        self.assertIn("hang:RANK:STEP", text)

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

    # --- Out of memory: a result, agreed by every rank -------------------------------------------

    def assert_oom(self, code, text, fault, at_step, rank, phase):
        record(fault, self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_OOM, text)
        self.assertFalse(os.path.exists(self.out), "a run that ran out of memory is not completed")
        info = read_file(self.partial)
        self.assertEqual(info["status"], "oom")
        self.assertEqual(info["attrs"]["oom_step"], at_step)
        self.assertEqual(info["attrs"]["oom_ranks"], str(rank))
        self.assertEqual(info["attrs"]["oom_batch_per_rank"], 4 if "host memory" not in fault else 2048)
        self.assertGreater(info["attrs"]["oom_peak_rss_bytes"], 0)
        # Every complete step is there, the same on both ranks; the failed one on neither.
        self.assertEqual(info["steps"], at_step)
        self.assertTrue((info["step_numbers"][:, 0] == info["step_numbers"][:, 1]).all())
        message = [m for k, m in zip(info["kinds"], info["messages"]) if k == "oom"]
        self.assertEqual(len(message), 1, info["messages"])
        self.assertIn(f"rank {rank} on ", message[0])
        self.assertIn(f"in the {phase} of step {at_step}", message[0])
        self.assertEqual(text.count("run oom:"), 1, "one report, from rank 0")
        return info, message[0]

    def test_out_of_memory_in_forward_stops_every_rank(self):
        args = LONG_RUN[:LONG_RUN.index("--steps")] + ["--steps", "20", "--warmup-steps", "1",
                                                       "--batch-size", "4", "--threads", "1",
                                                       "--flush-every", "2", "--quiet"]
        proc = start(args + ["--output", self.out], env={"SCALEBENCH_TEST_INJECT": "oom:1:5"})
        self.fault_time = None
        code, text = self.finish(proc, within_s=120)
        self.assert_oom(code, text, "rank 1 fails an allocation in the forward of step 5", 5, 1, "forward")

    def test_out_of_memory_in_backward_after_buckets_were_launched(self):
        # Small buckets: most of them are in flight when the first layer's gradient fails.
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "20", "--warmup-steps", "1",
                "--batch-size", "4", "--threads", "1", "--flush-every", "2", "--bucket-mb", "0.25",
                "--quiet", "--output", self.out]
        proc = start(args, env={"SCALEBENCH_TEST_INJECT": "oom:0:3:backward"})
        code, text = self.finish(proc, within_s=120)
        self.assert_oom(code, text, "rank 0 fails an allocation in the backward of step 3 (buckets in flight)",
                        3, 0, "backward")

    def test_real_out_of_memory_under_a_host_memory_limit(self):
        # A real allocation failure: 2048 samples of cifar10_cnn need far more than 200 MiB of
        # activations. Both ranks run out; the file says so at step 0.
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "5", "--warmup-steps", "0",
                "--batch-size", "2048", "--threads", "1", "--host-memory-limit", "200", "--quiet",
                "--output", self.out]
        # Eight synthetic batches of 2048 images (200 MB) do not even fit before the first step:
        # agreed at setup, exit 6, one message, no file.
        code, text = self.finish(start(args), within_s=180)
        self.assertEqual(code, EXIT_OOM, text)
        self.assertIn("out of memory while building the model", text)
        self.assertFalse(os.path.exists(self.partial) or os.path.exists(self.out))
        # One synthetic batch (25 MB) fits; its activations do not.
        self.fault_time = None
        code, text = self.finish(start(args + ["--synthetic-batches", "1"]), within_s=180)
        record("--host-memory-limit 200 with batch 2048/rank (a real allocation failure)",
               self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_OOM, text)
        info = read_file(self.partial)
        self.assertEqual(info["status"], "oom")
        self.assertEqual(info["attrs"]["oom_step"], 0)
        self.assertEqual(info["attrs"]["oom_batch_per_rank"], 2048)
        self.assertEqual(info["attrs"]["host_memory_limit_bytes"], 200 << 20)
        self.assertEqual(info["steps"], 0)
        self.assertIn("host memory limit 200 MiB", "".join(info["messages"]))

    def test_find_max_batch_under_a_host_memory_limit(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--find-max-batch", "--threads", "1",
                "--host-memory-limit", "150", "--max-batch-limit", "4096", "--quiet",
                "--output", self.out]
        code, text = self.finish(start(args), within_s=400)
        self.assertEqual(code, 0, text)
        info = read_file(self.out)
        self.assertEqual(info["status"], "completed")
        best = info["attrs"]["max_batch_per_rank"]
        self.assertGreater(best, 1)
        self.assertLess(best, 4096, "150 MiB cannot hold 4096 samples of activations")
        self.assertEqual(info["attrs"]["max_batch_limit_reached"], 0)
        import json
        tried = json.loads(info["attrs"]["max_batch_search"])
        fits = {t["batch_per_rank"]: t["fits"] for t in tried}
        # The search is exact and consistent: best fits, best + 1 was tried and does not, and no
        # batch above best fits or below it fails.
        self.assertTrue(fits[best])
        self.assertIn(best + 1, fits)
        self.assertFalse(fits[best + 1])
        for b, ok in fits.items():
            self.assertEqual(ok, b <= best, tried)
        self.assertIn(f"largest per-rank batch that fits is {best}", text)
        # Two steps per fitting candidate are recorded, with their batch.
        with h5py.File(self.out, "r") as f:
            samples = set(f["steps/samples"][:, 0].astype(int))
        self.assertEqual(samples, {b for b, ok in fits.items() if ok})

    def test_find_max_batch_stops_at_its_limit(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--find-max-batch", "--threads", "1",
                "--max-batch-limit", "6", "--quiet", "--output", self.out]
        code, text = self.finish(start(args), within_s=120)
        self.assertEqual(code, 0, text)
        info = read_file(self.out)
        self.assertEqual(info["attrs"]["max_batch_per_rank"], 6)
        self.assertEqual(info["attrs"]["max_batch_limit_reached"], 1)
        self.assertGreater(info["attrs"]["host_memory_limit_bytes"], 0, "CPU search runs under a budget")

    # --- Desynchronisation -----------------------------------------------------------------------

    def test_rank_that_loses_count_of_steps_is_caught(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "20", "--warmup-steps", "1",
                "--batch-size", "4", "--threads", "1", "--flush-every", "2", "--quiet",
                "--output", self.out]
        code, text = self.finish(start(args, env={"SCALEBENCH_TEST_INJECT": "skip:1:3"}), within_s=120)
        record("rank 1's step counter jumps at step 3", self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_DESYNC, text)
        info = read_file(self.partial)
        self.assertEqual(info["status"], "desync")
        self.assertIn("rank 0 at step 4, rank 1 at step 5", "".join(info["messages"]))
        self.assertFalse(os.path.exists(self.out))

    def test_ranks_that_disagree_on_the_run_are_refused(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "20", "--batch-size", "4",
                "--threads", "1", "--quiet", "--output", self.out]
        code, text = self.finish(start(args, env={"SCALEBENCH_TEST_INJECT": "mismatch:1"}), within_s=120)
        record("rank 1 believes in one more step (run fingerprint)", self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_DESYNC, text)
        self.assertIn("ranks disagree on the run", text)
        self.assertIn("rank 1: steps 21 (rank 0: 20)", text)
        self.assertEqual(text.count("ranks disagree on the run"), 1, "one report, from rank 0")
        self.assertFalse(os.path.exists(self.out))
        self.assertFalse(os.path.exists(self.partial))

    def test_ranks_that_would_build_different_communicators_are_refused(self):
        # Rank 1 asks for another backend (MPMD: one command line per rank). Ranks that went on
        # to build different communicators would pair an NCCL-id broadcast with an MPI duplicate
        # and hang; they agree on device and backend before building any.
        common = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "4", "--batch-size", "2",
                  "--threads", "1", "--quiet", "--output", self.out]
        cmd = [MPIEXEC, "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
        cmd += ["-n", "1", BIN] + common + ["--backend", "auto", ":", "-n", "1", BIN] + common + ["--backend", "mpi"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        STARTED.append(proc.pid)
        code, text = self.finish(proc, within_s=120)
        record("rank 1 asks for another backend (--backend mpi vs auto)", self.ended_after, code, self.partial)
        self.assertEqual(code, EXIT_DESYNC, text)
        self.assertIn('rank 1: backend_choice "mpi" (rank 0: "auto")', text)
        self.assertEqual(text.count("ranks disagree on the run"), 1, "one report, from rank 0")
        self.assertFalse(os.path.exists(self.out))
        self.assertFalse(os.path.exists(self.partial))


if __name__ == "__main__":
    unittest.main()
