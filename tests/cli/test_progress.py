"""Rank 0's progress display goes where the output really goes, and runs say when their ranks
were oversubscribed.

Under `mpirun ... > log` Open MPI hands each rank a pseudo-terminal, so the rank's own isatty()
is true although the bytes end in a file: a progress line redrawn with carriage returns would
leave the log as one joined line. `--progress auto` (the default) must give plain lines there and
redraw in place only when mpirun's own output is a terminal. These tests run mpiexec with its
stdout a file, then a pseudo-terminal this test opened, and read what arrived.

The oversubscription warning: 2 ranks x (CPUs + 1) threads exceed the CPUs of any binding Open
MPI can choose on this host, and 1 rank x 1 thread never does, whatever the machine.
Needs h5py (Debian's /usr/bin/python3) for the run-file checks."""
import os
import pty
import select
import subprocess
import tempfile
import time
import unittest

try:
    import h5py
except ImportError:
    h5py = None

from scalebench_cli import BIN, MPIEXEC, require_binary, run_scalebench

STEPS = 40
RUN = ["--model", "cifar10_cnn", "--device", "cpu", "--batch-size", "2", "--steps", str(STEPS),
       "--warmup-steps", "1", "--threads", "1"]


def mpiexec_cmd(ranks, args):
    cmd = [MPIEXEC, "-n", str(ranks)]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + ["--oversubscribe", BIN] + list(args)


@require_binary
class ProgressFollowsTheRealOutput(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.n = 0

    def out(self):
        self.n += 1
        return os.path.join(self.tmp.name, f"run{self.n}.h5")

    def run_to_file(self, extra):
        """`mpiexec -n 1 scalebench ... > log`: what the log holds."""
        log = os.path.join(self.tmp.name, f"log{self.n}.txt")
        with open(log, "wb") as f:
            res = subprocess.run(mpiexec_cmd(1, RUN + extra + ["--output", self.out()]), stdout=f,
                                 stderr=subprocess.PIPE, timeout=180,
                                 env=dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1"))
        self.assertEqual(res.returncode, 0, res.stderr.decode(errors="replace")[-2000:])
        with open(log, "rb") as f:
            return f.read()

    def run_on_terminal(self, extra):
        """mpiexec with its stdout (and stderr) a pseudo-terminal: what the terminal received."""
        master, slave = pty.openpty()
        proc = subprocess.Popen(mpiexec_cmd(1, RUN + extra + ["--output", self.out()]), stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=slave, start_new_session=True,
                                env=dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1"))
        os.close(slave)
        data = b""
        deadline = time.monotonic() + 180
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: every writer closed the terminal
                        break
                    if not chunk:
                        break
                    data += chunk
                elif proc.poll() is not None:
                    break
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
            os.close(master)
        self.assertEqual(code, 0, data.decode(errors="replace")[-2000:])
        return data

    @staticmethod
    def progress_lines(data):
        return [l for l in data.replace(b"\r", b"\n").split(b"\n") if l.lstrip().startswith(b"step ")]

    def test_auto_gives_lines_when_mpirun_writes_to_a_file(self):
        data = self.run_to_file([])
        self.assertNotIn(b"\r", data, "in-place progress ended up in a log")
        lines = self.progress_lines(data)
        self.assertGreaterEqual(len(lines), 2, data.decode(errors="replace"))
        self.assertIn(f"step {STEPS}/{STEPS}".encode(), data)

    def test_inplace_is_kept_when_asked_even_into_a_file(self):
        self.assertIn(b"\rstep ", self.run_to_file(["--progress", "inplace"]))

    def test_auto_redraws_in_place_when_mpirun_writes_to_a_terminal(self):
        data = self.run_on_terminal([])
        self.assertIn(b"\rstep ", data, data.decode(errors="replace")[-2000:])
        self.assertIn(f"step {STEPS}/{STEPS}".encode(), data)

    def test_lines_on_a_terminal_have_no_carriage_return_redraw(self):
        data = self.run_on_terminal(["--progress", "lines"])
        # A terminal turns "\n" into "\r\n": a redraw is a "\r" that does not end a line.
        self.assertNotIn(b"\rstep ", data, data.decode(errors="replace")[-2000:])
        self.assertGreaterEqual(len(self.progress_lines(data)), 2)

    def test_none_and_quiet_print_no_progress(self):
        for extra in (["--progress", "none"], ["--quiet"]):
            data = self.run_to_file(extra)
            self.assertEqual(self.progress_lines(data), [], extra)
            self.assertIn(b"summary (", data)

    def test_an_unknown_mode_is_one_clear_error(self):
        res = run_scalebench(RUN + ["--progress", "sometimes", "--output", self.out()], ranks=2)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("--progress sometimes: must be auto, lines, inplace or none", res.stderr)
        self.assertEqual(res.stderr.count("--progress sometimes"), 1, res.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, f"run{self.n}.h5")))


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class Oversubscription(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def run_with(self, ranks, threads):
        out = os.path.join(self.tmp.name, f"np{ranks}_t{threads}.h5")
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--batch-size", "2", "--steps", "3",
                "--warmup-steps", "1", "--threads", str(threads), "--quiet", "--output", out]
        res = run_scalebench(args, ranks=ranks, timeout=180)
        self.assertEqual(res.returncode, 0, res.stderr[-2000:])
        with h5py.File(out, "r") as f:
            warnings = f.attrs["run_warnings"]
            load = float(f.attrs["cpu_threads_per_cpu_max"])
        return res, warnings.decode() if isinstance(warnings, bytes) else str(warnings), load

    def test_more_threads_than_cpus_warns_at_start_end_and_in_the_file(self):
        threads = (os.cpu_count() or 1) + 1
        res, warnings, load = self.run_with(2, threads)
        self.assertIn(f"oversubscribed: 2 rank(s) x {threads} thread(s) on", warnings)
        self.assertGreater(load, 1.0)
        # Said before the run and again under the summary.
        self.assertEqual(res.stderr.count("oversubscribed:"), 2, res.stderr)

    def test_one_rank_one_thread_is_not_oversubscribed(self):
        res, warnings, load = self.run_with(1, 1)
        self.assertNotIn("oversubscribed", warnings)
        self.assertNotIn("oversubscribed", res.stderr)
        self.assertGreater(load, 0.0)
        self.assertLessEqual(load, 1.0)


if __name__ == "__main__":
    unittest.main()
