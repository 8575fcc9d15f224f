"""Bad input, as a user types it under mpiexec -n 2: one clear line from rank 0 saying what is
wrong and what is allowed, exit code 2, every rank gone within seconds, no result file left."""
import os
import tempfile
import time
import unittest

from scalebench_cli import BIN, require_binary, run_scalebench

SMALL_RUN = {"--model": "cifar10_cnn", "--device": "cpu", "--steps": "2", "--warmup-steps": "0",
             "--batch-size": "4"}


def small(**changes):
    """A small valid run's options with some changed (CLI11 refuses an option given twice);
    keys use _ for -, e.g. small(batch_size="many"); None drops an option."""
    opts = dict(SMALL_RUN)
    for key, value in changes.items():
        opts["--" + key.replace("_", "-")] = value
    args = ["--quiet"]
    for k, v in opts.items():
        if v is not None:
            args += [k, v]
    return args


SMALL = small()
# Every rank must be gone well within this (a hang would hit the subprocess timeout instead).
EXIT_WITHIN_S = 60


@require_binary
class BadInput(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "run.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def assert_refused(self, args, *expected, ranks=2, keep=()):
        start = time.monotonic()
        res = run_scalebench(args, ranks=ranks, timeout=EXIT_WITHIN_S * 2)
        elapsed = time.monotonic() - start
        text = res.stdout + res.stderr
        self.assertEqual(res.returncode, 2, f"exit code; output:\n{text}")
        self.assertLess(elapsed, EXIT_WITHIN_S, "ranks took too long to exit")
        error_lines = [l for l in res.stderr.splitlines() if l.startswith("scalebench: error")]
        self.assertEqual(len(error_lines), 1, f"expected one error line (rank 0's), got:\n{text}")
        for fragment in expected:
            self.assertIn(fragment, error_lines[0])
        left = sorted(set(os.listdir(self.dir)) - set(keep))
        self.assertEqual(left, [], "bad input must leave no file behind")
        return error_lines[0]

    def test_unknown_model(self):
        self.assert_refused(["--model", "nosuch", "--output", self.out],
                            "--model nosuch", "unknown model", "allowed:", "cifar10_cnn")

    def test_unknown_dataset(self):
        self.assert_refused(SMALL + ["--dataset", "imagenet", "--output", self.out],
                            "--dataset imagenet", "allowed:", "synthetic")

    def test_unknown_option(self):
        self.assert_refused(SMALL + ["--bogus", "3", "--output", self.out], "--bogus")

    def test_non_numeric_value(self):
        line = self.assert_refused(small(batch_size="many") + ["--output", self.out],
                                   "--batch-size")
        self.assertIn("many", line)

    def test_out_of_range_values(self):
        cases = [({"steps": "0"}, "--steps 0", "at least 1"),
                 ({"threads": "-1"}, "--threads -1", "0 (LibTorch's default) or more"),
                 ({"bucket_mb": "0"}, "--bucket-mb 0", "> 0"),
                 ({"first_bucket_mb": "0"}, "--first-bucket-mb 0", "> 0 and <= 4096"),
                 ({"mpi_chunk_mb": "-1"}, "--mpi-chunk-mb -1", "0 (one call per bucket) to 4096"),
                 ({"lr": "-0.1"}, "--lr -0.1", "> 0"),
                 ({"momentum": "1.5"}, "--momentum 1.5", "0 <= momentum < 1"),
                 ({"comm_timeout": "0"}, "--comm-timeout 0", "> 0")]
        for change, *expected in cases:
            with self.subTest(option=change):
                self.assert_refused(small(**change) + ["--output", self.out], *expected)

    def test_unknown_optimizer_and_device(self):
        self.assert_refused(small(optimizer="lamb") + ["--output", self.out],
                            "--optimizer lamb", "sgd, adam, rmsprop")
        self.assert_refused(small(device="tpu") + ["--output", self.out],
                            "--device tpu", "cpu, cuda, auto")
        self.assert_refused(small(cpu_allocator="arena") + ["--output", self.out],
                            "--cpu-allocator arena", "caching or system")
        self.assert_refused(small(overlap="sometimes") + ["--output", self.out],
                            "--overlap sometimes", "auto, on or off")
        self.assert_refused(small(bucket_order="arrival") + ["--output", self.out],
                            "--bucket-order arrival", "observed, registration")
        self.assert_refused(small(overlap="on") + ["--no-overlap", "--output", self.out],
                            "--no-overlap", "--overlap")

    def test_global_batch_must_divide_by_world_size(self):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "2", "--global-batch", "9",
                "--output", self.out]
        self.assert_refused(args, "--global-batch 9", "does not divide by the 2 ranks",
                            "a multiple of 2")

    def test_batch_size_and_global_batch_exclude_each_other(self):
        self.assert_refused(small(global_batch="8") + ["--output", self.out],
                            "--global-batch", "--batch-size")

    def test_option_given_twice(self):
        self.assert_refused(SMALL + ["--steps", "3", "--output", self.out], "--steps")

    def test_existing_output_without_overwrite(self):
        with open(self.out, "w") as f:
            f.write("an earlier result")
        self.assert_refused(SMALL + ["--output", self.out], "exists", "--overwrite",
                            keep=["run.h5"])
        with open(self.out) as f:
            self.assertEqual(f.read(), "an earlier result", "the existing file must be untouched")

    def test_output_directory_missing_or_output_is_a_directory(self):
        self.assert_refused(SMALL + ["--output", os.path.join(self.dir, "no", "such", "r.h5")],
                            "does not exist")
        os.mkdir(os.path.join(self.dir, "adir"))
        self.assert_refused(SMALL + ["--output", os.path.join(self.dir, "adir")],
                            "is a directory", keep=["adir"])

    @unittest.skipIf(os.geteuid() == 0, "root can write to read-only directories")
    def test_unwritable_directory(self):
        ro = os.path.join(self.dir, "ro")
        os.mkdir(ro, 0o555)
        self.assert_refused(SMALL + ["--output", os.path.join(ro, "r.h5")], "not writable",
                            keep=["ro"])

    def test_cuda_without_gpu(self):
        if os.path.exists("/dev/nvidia0"):
            self.skipTest("this machine has a GPU")
        self.assert_refused(small(device="cuda") + ["--output", self.out],
                            "--device cuda", "no CUDA GPU", "--device cpu")

    def test_four_ranks_refuse_alike(self):
        self.assert_refused(["--model", "nosuch", "--output", self.out], "unknown model", ranks=4)


@require_binary
class GoodInputStillRuns(unittest.TestCase):
    """The counterpart, so the refusals above cannot pass because nothing ever runs."""

    def test_small_run_completes(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "ok.h5")
            res = run_scalebench(SMALL + ["--output", out])
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            self.assertEqual(sorted(os.listdir(d)), ["ok.h5"])


if __name__ == "__main__":
    unittest.main()
