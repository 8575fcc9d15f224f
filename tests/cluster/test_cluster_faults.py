"""Faults where clusters fail, on an emulated cluster of 2 hosts x 1 rank (scripts/cluster, with
Slurm): scancel of a 2-node Slurm job; a link slowed down mid-run (not a fault); the link of rank
1's host, then of rank 0's host, taken down mid-run; a whole host dying (every process in it
SIGKILLed). For each: how long the job takes to end after the fault (within a stated bound), its
exit code, what the run file holds (every step flushed before the fault, the status), and that
no process of the job is left in any host (by pid, `ip netns pids`). docs/faults.md has the
measured rows and how the bound for a cut-off host is reached.
"""
import os
import signal
import subprocess
import time

import numpy as np

import cluster_util as cu

CLUSTER = cu.Cluster("ctfault", 2)
COMM_TIMEOUT = 10  # --comm-timeout of the fault runs (s)
# A host cut off: rank 0's watchdog fires after --comm-timeout, asks every rank (2 s), marks the
# file, then MPI_Abort; mpirun's kill order to the cut-off host's daemon stays unacknowledged
# until TCP gives up in the head (25.4 s: tcp_retries2 6, scripts/cluster). Measured T + 29-32 s.
CUT_BOUND_S = COMM_TIMEOUT + 2 + 1 + 25.4 + 10
HOST_DEATH_BOUND_S = 15  # mpirun sees the dead daemon's connection close at once (measured 2 s)
RUN = ["--model", "cifar10_cnn", "--device", "cpu", "--threads", "1", "--batch-size", "4",
       "--warmup-steps", "1", "--quiet"]


def setUpModule():
    CLUSTER.up()


def tearDownModule():
    CLUSTER.down()


class ClusterFaults(cu.WithTempDir):
    PREFIX = "scalebench-cluster-faults-"

    def setUp(self):
        self.restore = []  # undo steps (link up, shaping off), run even when the test fails

    def tearDown(self):
        for undo in reversed(self.restore):
            undo()
        left = CLUSTER.job_processes()
        if left:  # a failed test's job: end it by pid so that the next test starts clean
            CLUSTER.end_job_processes()

    # --- helpers ----------------------------------------------------------------------------
    def wait_for_steps(self, partial, at_least, alive=lambda: True, timeout=120):
        """The last consistent copy of the live file once it holds >= at_least steps."""
        copy = partial + ".copy"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = cu.snapshot_steps(partial, copy)
            if seen and seen["steps"] >= at_least:
                return seen
            if not alive():
                self.fail(f"the job ended before {partial} held {at_least} steps")
            time.sleep(0.05)
        self.fail(f"{partial} did not reach {at_least} steps within {timeout} s")

    def assert_nothing_left(self, within_s=0.0):
        """No process of the job in any host or the head (only the cluster's daemons), polled for
        up to within_s seconds; returns how long it took."""
        t0 = time.monotonic()
        while True:
            left = CLUSTER.job_processes()
            if not left or time.monotonic() - t0 >= within_s:
                break
            time.sleep(0.2)
        self.assertEqual(left, {}, "processes of the job left in the cluster's namespaces")
        return time.monotonic() - t0

    def assert_kept_flushed_steps(self, final, seen):
        self.assertIsNotNone(final, "the run file does not open, or its /steps are not consecutive")
        self.assertGreaterEqual(final["steps"], seen["steps"],
                                "the file lost steps that were flushed before the fault")

    def mpirun_with_fault(self, name, fault, at_steps=20, flush_every=2):
        """2 hosts x 1 rank under mpirun; fault() once the file holds at_steps flushed steps.
        Returns (exit code, seconds from the fault to the end of mpirun, the last copy seen before
        the fault, the file afterwards, mpirun's output)."""
        out = self.path(name + ".h5")
        log_path = self.path(name + ".log")
        with open(log_path, "w") as log:
            p = CLUSTER.start("mpirun", "-np", "2", "--ranks-per-node", "1", cu.BIN, "train", *RUN,
                              "--steps", "100000", "--flush-every", str(flush_every),
                              "--comm-timeout", str(COMM_TIMEOUT), "--output", out, stdout=log)
        try:
            seen = self.wait_for_steps(out + ".partial", at_steps, alive=lambda: p.poll() is None)
            t_fault = time.monotonic()
            fault()
            try:
                rc = p.wait(timeout=CUT_BOUND_S + 60)
            except subprocess.TimeoutExpired:
                self.fail(f"{name}: the job still ran {CUT_BOUND_S + 60:.0f} s after the fault; "
                          f"left: {CLUSTER.job_processes()}")
            elapsed = time.monotonic() - t_fault
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)  # mpirun, ours (scripts/cluster execs it)
                p.wait()
        with open(log_path) as f:
            text = f.read()
        return rc, elapsed, seen, cu.read_steps(out + ".partial"), text

    def cut_link(self, host):
        CLUSTER.run("link", host, "down")
        self.restore.append(lambda: CLUSTER.run("link", host, "up"))

    # --- the faults, in this order (the last one kills h2's slurmd too) -----------------------
    def test_1_scancel_two_node_slurm_job(self):
        out = self.path("scancel.h5")
        p = CLUSTER.run("sbatch", "--parsable", "-N", "2", "--ntasks-per-node", "1", "--time", "5",
                        f"--output={self.path('scancel-%j.out')}", "slurm/run.sbatch", *RUN,
                        "--steps", "100000", "--flush-every", "1", "--output", out,
                        env={"SCALEBENCH_BIN": cu.BIN, "SCALEBENCH_LAUNCHER": "mpirun"})
        job = p.stdout.strip().split(";")[0]
        in_queue = lambda: bool(CLUSTER.run("squeue", "-h", "-j", job, check=False).stdout.strip())
        seen = self.wait_for_steps(out + ".partial", 20, alive=in_queue)
        t0 = time.monotonic()
        CLUSTER.run("scancel", job)
        while in_queue() and time.monotonic() - t0 < 60:
            time.sleep(0.2)
        ended = time.monotonic() - t0
        self.assertFalse(in_queue(), f"job {job} still in the queue 60 s after scancel")
        gone = self.assert_nothing_left(within_s=15)  # slurmstepd ends after the job leaves
        info = CLUSTER.run("scontrol", "show", "job", job, check=False).stdout
        state = next((w.split("=", 1)[1] for w in info.split() if w.startswith("JobState=")), "?")
        code = next((w.split("=", 1)[1] for w in info.split() if w.startswith("ExitCode=")), "?")
        final = cu.read_steps(out + ".partial")
        self.assert_kept_flushed_steps(final, seen)
        self.assertEqual(final["status"], "interrupted", final["events"])
        self.assertIn("interrupted", [k for k, _ in final["events"]])
        self.assertFalse(os.path.exists(out), "an interrupted run must keep its .partial name")
        self.assertEqual(state, "CANCELLED", info)
        print(f"scancel: job {job} left the queue {ended:.1f} s after scancel, its processes "
              f"were gone {gone:.1f} s later; JobState {state} ExitCode {code}; file "
              f"'{final['status']}' with {final['steps']} steps ({seen['steps']} seen before)")

    def test_2_slow_link_is_not_a_fault(self):
        out = self.path("slow.h5")
        log_path = self.path("slow.log")
        steps = 36
        with open(log_path, "w") as log:
            p = CLUSTER.start("mpirun", "-np", "2", "--ranks-per-node", "1", cu.BIN, "train", *RUN,
                              "--steps", str(steps), "--flush-every", "1", "--overlap", "on",
                              "--comm-timeout", "120", "--output", out, stdout=log)
        try:
            seen = self.wait_for_steps(out + ".partial", 8, alive=lambda: p.poll() is None)
            CLUSTER.run("shape", "h2", "50mbit")
            self.restore.append(lambda: CLUSTER.run("shape", "h2", "off"))
            rc = p.wait(timeout=240)
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        with open(log_path) as f:
            text = f.read()
        self.assertEqual(rc, 0, text[-3000:])
        self.assert_nothing_left()
        import h5py
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["status"], "completed")
            exposed = f["steps/comm_exposed_s"][()].max(axis=1)    # the slowest rank's, per step
            busy = f["steps/comm_busy_s"][()].max(axis=1)
            reduced = f["steps/bytes_reduced"][()][:, 0]
        self.assertEqual(len(exposed), steps)
        # Before: steps flushed before the shaping began (step 0, the first, left out). After:
        # the last third, well after the shaping took hold (it takes effect within a step).
        before, after = slice(1, seen["steps"]), slice(steps - steps // 3, steps)
        self.assertGreaterEqual(seen["steps"] - 1, 5)
        ratios = {}
        for name, series in (("comm_exposed_s", exposed), ("comm_busy_s", busy)):
            ratios[name] = float(np.median(series[after]) / max(np.median(series[before]), 1e-9))
        self.assertEqual(len(set(reduced.tolist())), 1, "every step reduces the same bytes")
        print(f"50mbit on h2 after step ~{seen['steps']}: median comm_exposed_s x"
              f"{ratios['comm_exposed_s']:.0f}, comm_busy_s x{ratios['comm_busy_s']:.0f} "
              f"(steps {after.start}-{steps - 1} against 1-{seen['steps'] - 1})")
        # 5 MB of gradients per step: milliseconds unshaped, ~0.8 s at 50 Mbit/s.
        for name, ratio in ratios.items():
            self.assertGreater(ratio, 10, f"{name}: after/before {ratio:.1f}")

    def check_cut(self, cut, rc, elapsed, seen, final, text):
        self.assertEqual(rc, 3, text[-3000:])
        self.assertLessEqual(elapsed, CUT_BOUND_S, text[-3000:])
        self.assertGreaterEqual(elapsed, COMM_TIMEOUT - 2, "ended before the watchdog could fire")
        self.assert_nothing_left()  # at once: every daemon ended before mpirun gave up on it
        self.assert_kept_flushed_steps(final, seen)
        self.assertEqual(final["status"], "stuck", final["events"])
        stuck = [m for k, m in final["events"] if k == "stuck"]
        self.assertEqual(len(stuck), 1, final["events"])
        # From rank 0's side the other host is unreachable either way: it names rank 1 on h2.
        self.assertIn("rank 1 on h2 did not answer", stuck[0])
        # ...and, since every rank of its own host answered and none of the other, says that its
        # own host may be the one cut off (with 2 hosts rank 0 cannot tell which side it is).
        self.assertIn("no rank on another host answered: h1 (rank 0's host) may be the one cut off",
                      stuck[0])
        print(f"link of {cut} down: exit {rc} {elapsed:.1f} s after the cut (--comm-timeout "
              f"{COMM_TIMEOUT}); file '{final['status']}' with {final['steps']} steps "
              f"({seen['steps']} seen before); event: {stuck[0]}")
        return stuck[0]

    def test_3_link_down_rank1_host(self):
        rc, elapsed, seen, final, text = self.mpirun_with_fault("cut-h2", lambda: self.cut_link("h2"))
        self.check_cut("h2", rc, elapsed, seen, final, text)
        # Rank 0 is reachable: its message also reaches mpirun's output.
        self.assertIn("rank 1 on h2 did not answer", text)

    def test_4_link_down_rank0_host(self):
        # Rank 0 itself is cut off: its own watchdog marks the file (on its host's disk) before it
        # ends; its message cannot reach mpirun, rank 1's does (without a name: only rank 0 asks).
        rc, elapsed, seen, final, text = self.mpirun_with_fault("cut-h1", lambda: self.cut_link("h1"))
        self.check_cut("h1", rc, elapsed, seen, final, text)
        self.assertIn("rank 1 on h2", text)
        self.assertIn("another rank is dead or stuck", text)

    def test_5_whole_host_dies(self):
        def kill_host():
            for pid in cu.netns_pids(CLUSTER.netns("h2")):  # every process in h2, by pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        rc, elapsed, seen, final, text = self.mpirun_with_fault("host-dies", kill_host)
        self.assertNotEqual(rc, 0, text[-3000:])
        self.assertLessEqual(elapsed, HOST_DEATH_BOUND_S, text[-3000:])
        self.assert_nothing_left()
        self.assert_kept_flushed_steps(final, seen)
        # mpirun names the host whose daemon it lost (hosts are given to it by address).
        self.assertIn("lost communication with a remote daemon", text)
        self.assertIn(f"on node {CLUSTER.address('h2')}", text)
        print(f"h2 dies: exit {rc} {elapsed:.1f} s after the kill; file '{final['status']}' with "
              f"{final['steps']} steps ({seen['steps']} seen before)")


if __name__ == "__main__":
    cu.main(needs_slurm=True)
