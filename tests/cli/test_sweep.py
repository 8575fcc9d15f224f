"""launch/sweep: command construction and validation (dry runs), failure handling, the order of
runs (interleaved repeats) and the resume's check of the recorded settings with a stand-in binary,
and a real 1/2/4-rank CPU study end to end with resume and the report."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

try:
    import h5py
except ImportError:
    h5py = None

from scalebench_cli import BIN, require_binary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SWEEP = os.path.join(ROOT, "launch", "sweep")
REPORT = os.path.join(ROOT, "results", "report")


def sweep(*args, timeout=600, env=None):
    e = dict(os.environ)
    e.pop("SLURM_JOB_ID", None)  # these tests exercise the mpirun path
    e.update(env or {})
    return subprocess.run([sys.executable, SWEEP, *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def fake_binary(directory, body):
    """A stand-in for scalebench: a shell script that sees the same arguments."""
    path = os.path.join(directory, "fake-scalebench")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + textwrap.dedent(body))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class DryRun(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.bin = fake_binary(self.tmp.name, "exit 0\n")

    def tearDown(self):
        self.tmp.cleanup()

    def dry(self, *args):
        res = sweep("--binary", self.bin, "--out", os.path.join(self.tmp.name, "s"), "--dry-run",
                    *args)
        self.assertEqual(res.returncode, 0, res.stderr)
        return [l.split() for l in res.stdout.splitlines()]

    def test_one_command_per_rank_count_thread_count_and_repeat(self):
        lines = self.dry("--model", "fcn_s", "--mode", "weak", "--ranks", "1,2,4",
                         "--threads", "1,2", "--repeat", "2", "--batch-size", "16")
        self.assertEqual(len(lines), 3 * 2 * 2)
        outputs = [l[l.index("--output") + 1] for l in lines]
        self.assertEqual(len(set(outputs)), len(outputs), "every run has its own file")
        self.assertTrue(any(o.endswith("fcn_s-auto-weak-np4-t2-r2.h5") for o in outputs))
        for l in lines:
            self.assertEqual(l[l.index("--batch-size") + 1], "16")
            self.assertIn("--quiet", l)

    def test_strong_scaling_passes_the_global_batch(self):
        lines = self.dry("--model", "fcn_s", "--mode", "strong", "--ranks", "1,2,4",
                         "--global-batch", "64")
        self.assertTrue(all(l[l.index("--global-batch") + 1] == "64" for l in lines))
        self.assertTrue(all("--batch-size" not in l for l in lines))

    def test_mpirun_placement(self):
        lines = self.dry("--model", "fcn_s", "--mode", "weak", "--ranks", "1,64", "--threads", "1")
        small, huge = lines
        self.assertEqual(small[:3], ["mpirun", "-np", "1"])
        self.assertIn("slot:PE=1", small)          # fits: one core per thread, bound
        self.assertIn("--oversubscribe", huge)      # 64 ranks on this machine cannot be bound
        if os.geteuid() == 0:
            self.assertIn("--allow-run-as-root", small)

    def test_extra_options_pass_through_and_settings_are_exported(self):
        res = sweep("--binary", self.bin, "--out", os.path.join(self.tmp.name, "s"), "--dry-run",
                    "--model", "fcn_s", "--mode", "weak", "--ranks", "2", "--",
                    "--bucket-mb", "5", "--no-overlap", env={"NCCL_DEBUG": "INFO"})
        line = res.stdout.split()
        self.assertIn("--no-overlap", line)
        self.assertEqual(line[line.index("--bucket-mb") + 1], "5")
        exported = [line[i + 1] for i, word in enumerate(line) if word == "-x"]
        self.assertIn("NCCL_DEBUG", exported)

    def test_bad_input_is_refused_with_exit_2(self):
        cases = [
            (["--mode", "strong", "--ranks", "1,2,3", "--global-batch", "64"], "does not divide by 3"),
            (["--mode", "strong", "--ranks", "1,2"], "needs --global-batch"),
            (["--mode", "weak", "--ranks", "1,2", "--global-batch", "8"], "weak scaling takes --batch-size"),
            (["--mode", "weak", "--ranks", "1,x"], "comma-separated list of integers"),
            (["--mode", "weak", "--ranks", "0,2"], "must be >= 1"),
            (["--mode", "weak", "--devices", "tpu"], "unknown device 'tpu'"),
            (["--mode", "weak", "--", "--output", "x.h5"], "set by the sweep itself"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                res = sweep("--binary", self.bin, "--model", "fcn_s",
                            "--out", os.path.join(self.tmp.name, "s"), *args)
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
                self.assertIn(message, res.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "s", "manifest.json")))

    def test_missing_binary(self):
        res = sweep("--binary", "/no/such/scalebench", "--model", "fcn_s", "--mode", "weak",
                    "--out", os.path.join(self.tmp.name, "s"))
        self.assertEqual(res.returncode, 2)
        self.assertIn("not an executable file", res.stderr)


class Failures(unittest.TestCase):
    """A failed run is recorded and the sweep goes on; a rerun retries it."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "study")
        # Writes the output (as scalebench does on completion) except for 2 ranks, where it leaves
        # a .partial with "recorded steps" and fails, once; the flag file makes the retry succeed.
        self.flag = os.path.join(self.tmp.name, "failed-once")
        self.bin = fake_binary(self.tmp.name, f"""
            out=""; np="$OMPI_COMM_WORLD_SIZE"; rank="$OMPI_COMM_WORLD_RANK"
            while [ $# -gt 0 ]; do [ "$1" = --output ] && out="$2"; shift; done
            [ "$rank" = 0 ] || exit 0
            if [ "$np" = 2 ] && [ ! -e {self.flag} ]; then
              touch {self.flag}; echo steps > "$out.partial"; echo "scalebench: error (rank 0): out of memory" >&2; exit 1
            fi
            echo result > "$out"
            """)

    def tearDown(self):
        self.tmp.cleanup()

    def manifest(self):
        with open(os.path.join(self.out, "manifest.json")) as f:
            return json.load(f)

    def test_failure_recorded_sweep_continues_rerun_retries(self):
        res = sweep("--binary", self.bin, "--model", "fcn_s", "--mode", "weak", "--ranks", "1,2,4",
                    "--out", self.out)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("out of memory", res.stderr)  # the log's tail is shown
        runs = {r["ranks"]: r for r in self.manifest()["runs"]}
        self.assertEqual(runs[1]["status"], "completed")
        self.assertEqual(runs[2]["status"], "failed")
        self.assertEqual(runs[2]["exit_code"], 1)
        self.assertEqual(runs[4]["status"], "completed", "the sweep went on after the failure")
        # The failed attempt's recorded steps are kept, not deleted.
        kept = os.path.join(self.out, runs[2]["kept_partials"][0])
        with open(kept) as f:
            self.assertEqual(f.read(), "steps\n")
        self.assertFalse(os.path.exists(os.path.join(self.out, runs[2]["file"] + ".partial")))

        res = sweep("--binary", self.bin, "--model", "fcn_s", "--mode", "weak", "--ranks", "1,2,4",
                    "--out", self.out)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("done before, skipped"), 2)
        runs = {r["ranks"]: r for r in self.manifest()["runs"]}
        self.assertEqual(runs[2]["status"], "completed")
        self.assertEqual(runs[2]["attempts"], 2)
        self.assertEqual(runs[1]["attempts"], 1, "completed runs are not run again")

    def test_retries_within_one_sweep(self):
        res = sweep("--binary", self.bin, "--model", "fcn_s", "--mode", "weak", "--ranks", "2",
                    "--retries", "1", "--out", self.out)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(self.manifest()["runs"][0]["attempts"], 2)

    def test_run_timeout_kills_every_rank(self):
        slow = fake_binary(self.tmp.name, "sleep 600\n")
        res = sweep("--binary", slow, "--model", "fcn_s", "--mode", "weak", "--ranks", "2",
                    "--run-timeout", "3", "--out", self.out, timeout=120)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertEqual(self.manifest()["runs"][0]["status"], "timed out")


def recording_binary(directory):
    """A stand-in for scalebench that writes its output (its arguments, as text) on completion and
    appends the output's name to order.log, one line per run, in the order the runs happened."""
    log = os.path.join(directory, "order.log")
    path = fake_binary(directory, f"""
        out=""; prev=""
        for a in "$@"; do [ "$prev" = --output ] && out="$a"; prev="$a"; done
        [ "${{OMPI_COMM_WORLD_RANK:-0}}" = 0 ] || exit 0
        basename "$out" .h5 >> {log}
        echo "$@" > "$out"
        """)
    return path, log


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split()


class Ordering(unittest.TestCase):
    """Repeats interleave: round r runs every configuration's repeat r, so drift does not pile on
    one rank count; the manifest records the policy, each run's place and every launch."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "study")
        self.bin, self.log = recording_binary(self.tmp.name)
        self.args = ["--binary", self.bin, "--model", "fcn_s", "--mode", "weak", "--ranks", "1,2,4",
                     "--repeat", "2", "--threads", "1", "--out", self.out]

    def tearDown(self):
        self.tmp.cleanup()

    def test_repeats_interleave_and_the_manifest_records_the_order(self):
        expected = [f"fcn_s-auto-weak-np{n}-t1-r{r}" for r in (1, 2) for n in (1, 2, 4)]
        dry = sweep(*self.args, "--dry-run")
        self.assertEqual([l.split()[l.split().index("--output") + 1].rsplit("/", 1)[1][:-3]
                          for l in dry.stdout.splitlines()], expected)
        res = sweep(*self.args)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(read_lines(self.log), expected, "the order the runs happened in")
        with open(os.path.join(self.out, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["ordering"]["policy"], "interleaved")
        self.assertEqual([r["name"] for r in manifest["runs"]], expected)
        self.assertEqual([r["order"] for r in manifest["runs"]], list(range(1, 7)))
        self.assertEqual([l["run"] for l in manifest["launches"]], expected)

    def test_resume_runs_the_missing_ones_in_the_same_order(self):
        res = sweep(*self.args)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        for name in ("fcn_s-auto-weak-np4-t1-r1", "fcn_s-auto-weak-np1-t1-r2"):
            os.remove(os.path.join(self.out, name + ".h5"))
        os.remove(self.log)
        res = sweep(*self.args)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("done before, skipped"), 4)
        self.assertEqual(read_lines(self.log),
                         ["fcn_s-auto-weak-np4-t1-r1", "fcn_s-auto-weak-np1-t1-r2"])
        with open(os.path.join(self.out, "manifest.json")) as f:
            launches = [l["run"] for l in json.load(f)["launches"]]
        self.assertEqual(len(launches), 8, "launches of both sweeps, in the order they started")
        self.assertEqual(launches[6:], ["fcn_s-auto-weak-np4-t1-r1", "fcn_s-auto-weak-np1-t1-r2"])


class ResumeChecksSettings(unittest.TestCase):
    """A resume reuses a run only if it was made with the settings it would run with now;
    otherwise it refuses (exit 2, nothing run) unless --rerun-changed asks to run it again."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "study")
        self.bin, self.log = recording_binary(self.tmp.name)
        self.base = ["--binary", self.bin, "--model", "fcn_s", "--mode", "weak", "--ranks", "1,2",
                     "--threads", "1", "--out", self.out]
        self.file1 = os.path.join(self.out, "fcn_s-auto-weak-np1-t1-r1.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def first(self, *args):
        res = sweep(*self.base, *args)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(len(read_lines(self.log)), 2)

    def manifest_bytes(self):
        with open(os.path.join(self.out, "manifest.json"), "rb") as f:
            return f.read()

    def assert_refused(self, res, *changes, manifest_before=None):
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        line = [l for l in res.stderr.splitlines() if self.file1 in l]
        self.assertEqual(len(line), 1, res.stderr)
        self.assertIn("made with other settings", line[0])
        for change in changes:
            self.assertIn(change, line[0])
        self.assertIn("--rerun-changed", res.stderr)
        self.assertEqual(len(read_lines(self.log)), 2, "nothing run")
        if manifest_before is not None:
            self.assertEqual(self.manifest_bytes(), manifest_before, "manifest untouched")

    def test_changed_option_after_dashdash_is_refused(self):
        self.first("--steps", "8", "--", "--bucket-mb", "5")
        before = self.manifest_bytes()
        res = sweep(*self.base, "--steps", "8", "--", "--bucket-mb", "10", "--no-overlap")
        self.assert_refused(res, "--bucket-mb: 5 -> 10", "--no-overlap: not given -> given",
                            manifest_before=before)
        self.assertNotIn("--steps", res.stderr, "only what differs is named")
        res = sweep(*self.base, "--steps", "8")
        self.assert_refused(res, "--bucket-mb: 5 -> not given", manifest_before=before)

    def test_changed_steps_is_refused(self):
        self.first("--steps", "8", "--", "--bucket-mb", "5")
        before = self.manifest_bytes()
        res = sweep(*self.base, "--steps", "10", "--", "--bucket-mb", "5")
        self.assert_refused(res, "--steps: 8 -> 10", manifest_before=before)
        res = sweep(*self.base, "--", "--bucket-mb", "5")
        self.assert_refused(res, "--steps: 8 -> not given", manifest_before=before)

    def test_unchanged_resume_skips_also_when_the_study_moved(self):
        self.first("--steps", "8", "--", "--bucket-mb", "5")
        res = sweep(*self.base, "--steps", "8", "--", "--bucket-mb", "5")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("done before, skipped"), 2)
        moved = os.path.join(self.tmp.name, "renamed")
        os.rename(self.out, moved)  # output paths and the study tag differ: not settings
        args = [moved if a == self.out else a for a in self.base]
        res = sweep(*args, "--steps", "8", "--", "--bucket-mb", "5")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("done before, skipped"), 2)
        self.assertEqual(len(read_lines(self.log)), 2)

    def test_rerun_changed_moves_the_stale_files_aside_and_runs_them_again(self):
        self.first("--steps", "8")
        with open(self.file1) as f:
            old = f.read()
        res = sweep(*self.base, "--steps", "10", "--rerun-changed", "--", "--no-overlap")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(len(read_lines(self.log)), 4, "both runs ran again")
        with open(self.file1) as f:
            self.assertIn("--steps 10", f.read())
        with open(os.path.join(self.out, "manifest.json")) as f:
            entry = json.load(f)["runs"][0]
        self.assertEqual(entry["status"], "completed")
        self.assertEqual(entry["attempts"], 1)
        kept = os.path.join(self.out, entry["stale"][0]["file"])
        self.assertTrue(kept.startswith(os.path.join(self.out, "stale") + os.sep))
        self.assertFalse(kept.endswith((".h5", ".h5.partial")), "results/report DIR skips it")
        with open(kept) as f:
            self.assertEqual(f.read(), old)
        self.assertIn("--steps", entry["stale"][0]["command"])
        # The study now holds the new settings: a resume with them skips, without the flag.
        res = sweep(*self.base, "--steps", "10", "--", "--no-overlap")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("done before, skipped"), 2)

    def test_a_result_without_a_file_is_checked_too(self):
        oom = fake_binary(self.tmp.name, """
            [ "$OMPI_COMM_WORLD_SIZE" = 2 ] && exit 6
            out=""; prev=""
            for a in "$@"; do [ "$prev" = --output ] && out="$a"; prev="$a"; done
            echo "$@" > "$out"
            """)
        args = [oom if a == self.bin else a for a in self.base]
        res = sweep(*args, "--batch-size", "64")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)  # oom is a result
        res = sweep(*args, "--batch-size", "64")
        self.assertIn("oom before (a result), skipped", res.stdout)
        res = sweep(*args, "--batch-size", "32")
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertIn("np2-t1-r1.h5 (oom before, a result) was made with other settings "
                      "(per manifest.json): --batch-size: 64 -> 32", res.stderr)
        res = sweep(*args, "--batch-size", "32", "--rerun-changed")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("skipped", res.stdout)

    @unittest.skipUnless(h5py and shutil.which("h5dump"), "needs h5py here and h5dump")
    def test_without_a_manifest_record_the_files_command_line_is_checked(self):
        real = fake_binary(self.tmp.name, f"""
            out=""; prev=""
            for a in "$@"; do [ "$prev" = --output ] && out="$a"; prev="$a"; done
            [ "${{OMPI_COMM_WORLD_RANK:-0}}" = 0 ] || exit 0
            {sys.executable} -c 'import h5py, sys; h5py.File(sys.argv[1], "w").attrs["command_line"] = " ".join(sys.argv[2:])' "$out" "$0" "$@"
            """)
        args = [real if a == self.bin else a for a in self.base]
        res = sweep(*args, "--steps", "8", "--", "--bucket-mb", "5")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        os.remove(os.path.join(self.out, "manifest.json"))
        res = sweep(*args, "--steps", "8", "--", "--bucket-mb", "5")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("done before, skipped"), 2)
        res = sweep(*args, "--steps", "9", "--", "--bucket-mb", "5")
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertIn(f"{self.file1} was made with other settings (per its command_line): "
                      f"--steps: 8 -> 9", res.stderr)

    def test_no_record_and_no_h5dump_is_refused(self):
        self.first("--steps", "8")
        os.remove(os.path.join(self.out, "manifest.json"))
        empty = os.path.join(self.tmp.name, "empty-path")
        os.mkdir(empty)
        res = sweep(*self.base, "--steps", "8", env={"PATH": empty})
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertIn(f"{self.file1}: cannot check its settings: no record in manifest.json, "
                      f"and no h5dump", res.stderr)
        self.assertEqual(len(read_lines(self.log)), 2, "nothing run")


@require_binary
class StopSignal(unittest.TestCase):
    """Slurm's early warning (or Ctrl-C) reaches the sweep: the running launch stops gracefully,
    no further run starts, and a rerun picks up where it stopped."""

    def test_sigusr1_interrupts_the_running_launch_and_the_sweep(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "study")
            args = [sys.executable, SWEEP, "--binary", BIN, "--model", "cifar10_cnn", "--mode",
                    "weak", "--ranks", "2,4", "--batch-size", "4", "--threads", "1",
                    "--steps", "3000", "--out", out, "--", "--flush-every", "2"]
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            partial = os.path.join(out, "cifar10_cnn-auto-weak-np2-t1-r1.h5.partial")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not os.path.exists(partial):
                time.sleep(0.5)
            time.sleep(8)  # let it record some steps
            proc.send_signal(signal.SIGUSR1)
            stdout, stderr = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 4, stdout + stderr)
            self.assertIn("stopped by SIGUSR1", stderr)
            with open(os.path.join(out, "manifest.json")) as f:
                runs = json.load(f)["runs"]
            self.assertEqual(runs[0]["status"], "interrupted")
            self.assertEqual(runs[0]["exit_code"], 4)
            self.assertEqual(runs[1]["status"], "pending", "no run starts after the signal")
            kept = os.path.join(out, runs[0]["kept_partials"][0])
            self.assertTrue(os.path.getsize(kept) > 0, "the interrupted run's steps are kept")


@require_binary
class CpuStudyEndToEnd(unittest.TestCase):
    """The README's main job in small: 1, 2 and 4 ranks of a small model, the report, a resume."""

    def test_study(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "study")
            args = ["--binary", BIN, "--model", "cifar10_cnn", "--mode", "weak", "--ranks", "1,2,4",
                    "--batch-size", "16", "--threads", "1", "--steps", "8", "--warmup-steps", "2",
                    "--out", out]
            res = sweep(*args)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            with open(os.path.join(out, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual(manifest["format"], "scalebench-study")
            self.assertEqual([r["status"] for r in manifest["runs"]], ["completed"] * 3)
            files = sorted(f for f in os.listdir(out) if f.endswith(".h5"))
            self.assertEqual(files, [f"cifar10_cnn-auto-weak-np{n}-t1-r1.h5" for n in (1, 2, 4)])

            res = sweep(*args)
            self.assertEqual(res.returncode, 0)
            self.assertEqual(res.stdout.count("done before, skipped"), 3)
            res = sweep(*[("6" if a == "8" else a) for a in args])  # other --steps: refused
            self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
            self.assertIn("--steps: 8 -> 6", res.stderr)
            if shutil.which("h5dump"):
                # Without the manifest's record, the run files' own command_line is checked.
                shutil.copy(os.path.join(out, "manifest.json"), os.path.join(tmp, "kept.json"))
                os.remove(os.path.join(out, "manifest.json"))
                res = sweep(*args)
                self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
                self.assertEqual(res.stdout.count("done before, skipped"), 3)
                res = sweep(*args, "--", "--bucket-mb", "3")
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
                self.assertIn("(per its command_line): --bucket-mb: not given -> 3", res.stderr)
                shutil.copy(os.path.join(tmp, "kept.json"), os.path.join(out, "manifest.json"))

            rep = subprocess.run([REPORT, out], capture_output=True, text=True, timeout=300)
            self.assertEqual(rep.returncode, 0, rep.stdout + rep.stderr)
            for name in ("summary.csv", "summary.json", "throughput_speedup.png",
                         "throughput_speedup.svg", "efficiency.png", "breakdown.png",
                         "memory.png"):
                self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)


if __name__ == "__main__":
    unittest.main()
