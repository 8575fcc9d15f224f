"""`scalebench allreduce` under mpiexec -n 2 and -n 4: the nccl-tests-like table on rank 0, the
HDF5 file (docs/hdf5-layout.md, "allreduce files"), and bad input refused with one line and exit 2.

Needs h5py for the file checks: CTest runs this with Debian's /usr/bin/python3."""
import os
import tempfile
import time
import unittest

import numpy as np

try:
    import h5py
except ImportError:  # a python3 without Debian's packages
    h5py = None

from scalebench_cli import require_binary, run_scalebench

MIN, MAX, FACTOR, WARMUP, ITERS = 8, 64 * 1024, 4, 1, 5
SIZES = [8, 32, 128, 512, 2048, 8192, 32768]  # -b 8 -e 64K -f 4
ROOT_ATTRS = ["format", "schema_version", "status", "tool", "tool_version", "git_revision",
              "command_line", "date", "end_time", "backend", "device", "dtype", "redop",
              "world_size", "nodes", "ranks_per_node", "hosts", "scopes", "min_bytes", "max_bytes",
              "step_factor", "warmup_iters", "iters", "check", "comm_timeout_s", "mpi_chunk_mb"]


def table_rows(stdout):
    """The data rows of the table: lines that do not start with '#' and have 8 fields."""
    rows = []
    for line in stdout.splitlines():
        fields = line.split()
        if line.startswith("#") or len(fields) != 8 or not fields[0].isdigit():
            continue
        rows.append(fields)
    return rows


def attr(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


class Sweep:
    """A valid sweep at RANKS ranks, run once per class; the tests read its output."""
    RANKS = 2
    MPI_CHUNK_MB = None  # the default (4 MiB: every message here in one call)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "ar.h5")
        args = ["allreduce", "-b", str(MIN), "-e", "64K", "-f", str(FACTOR), "-w", str(WARMUP),
                "-n", str(ITERS), "--device", "cpu", "-o", cls.path]
        if cls.MPI_CHUNK_MB is not None:
            args += ["--mpi-chunk-mb", cls.MPI_CHUNK_MB]
        cls.result = run_scalebench(args, ranks=cls.RANKS, timeout=300)
        cls.listing = sorted(os.listdir(cls.tmp.name))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exit_and_only_the_final_file(self):
        self.assertEqual(self.result.returncode, 0, self.result.stdout + self.result.stderr)
        self.assertEqual(self.listing, ["ar.h5"])

    def test_table_on_rank_0(self):
        rows = table_rows(self.result.stdout)
        self.assertEqual([int(r[0]) for r in rows], SIZES, self.result.stdout)
        n = self.RANKS
        for size, count, dtype, redop, time_us, algbw, busbw, wrong in rows:
            self.assertEqual(int(count), int(size) // 4)
            self.assertEqual((dtype, redop, wrong), ("float", "avg", "0"))
            self.assertGreater(float(time_us), 0)
            # The table rounds; the file holds the exact figures.
            self.assertAlmostEqual(float(busbw), float(algbw) * 2 * (n - 1) / n, delta=0.002)
        self.assertIn("# Avg bus bandwidth", self.result.stdout)
        self.assertEqual(self.result.stdout.count("# Avg bus bandwidth"), 1, "rank 0 only")

    @unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
    def test_file_contents(self):
        n = self.RANKS
        with h5py.File(self.path, "r") as f:
            for name in ROOT_ATTRS:
                self.assertIn(name, f.attrs, name)
            self.assertEqual(attr(f, "format"), "scalebench-allreduce")
            self.assertEqual(int(attr(f, "schema_version")), 2)
            # One host: the default scope is every rank in one allreduce.
            self.assertEqual(attr(f, "scopes"), "all")
            self.assertEqual(attr(f, "status"), "completed")
            self.assertEqual(attr(f, "tool"), "scalebench")
            self.assertEqual(attr(f, "backend"), "mpi")
            self.assertEqual(attr(f, "dtype"), "float32")
            self.assertEqual(int(attr(f, "world_size")), n)
            self.assertEqual(int(attr(f, "iters")), ITERS)
            self.assertEqual(float(attr(f, "mpi_chunk_mb")), float(self.MPI_CHUNK_MB or 4))
            self.assertIn("allreduce -b 8 -e 64K", attr(f, "command_line"))
            self.assertRegex(attr(f, "date"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertTrue(attr(f, "hosts"))
            self.assertEqual(len(f["ranks/hostname"]), n)

            sizes = f["sizes"]
            nbytes = sizes["bytes"][()]
            self.assertEqual(list(nbytes), SIZES)
            self.assertEqual(list(sizes["scope"].asstr()[()]), ["all"] * len(SIZES))
            self.assertEqual(list(sizes["group_size"][()]), [n] * len(SIZES))
            self.assertEqual(list(sizes["groups"][()]), [1] * len(SIZES))
            self.assertEqual(list(sizes["count"][()]), [s // 4 for s in SIZES])
            self.assertEqual(list(sizes["wrong"][()]), [0] * len(SIZES))
            self.assertTrue(np.all(sizes["max_error"][()] == 0.0), "the MPI path is exact")
            time_s, algbw, busbw = sizes["time_s"][()], sizes["algbw_gbps"][()], sizes["busbw_gbps"][()]
            np.testing.assert_allclose(busbw, algbw * 2 * (n - 1) / n, rtol=1e-9, atol=0)
            np.testing.assert_allclose(algbw, nbytes / time_s / 1e9, rtol=1e-9, atol=0)
            for size, t in zip(SIZES, time_s):
                per_rank = f["iterations"]["all"][str(size)][()]
                self.assertEqual(per_rank.shape, (ITERS, n))
                self.assertTrue(np.all(per_rank > 0))
                # The slowest rank of each iteration, then the median over iterations.
                self.assertAlmostEqual(float(np.median(per_rank.max(axis=1))), float(t), delta=1e-15)
            # Without --beside-compute: no load, and the column says so on every row.
            self.assertEqual(int(attr(f, "beside_compute")), 0)
            self.assertTrue(np.all(np.isnan(sizes["compute_rate"][()])))


@require_binary
class TwoRanks(Sweep, unittest.TestCase):
    RANKS = 2


@require_binary
class FourRanks(Sweep, unittest.TestCase):
    RANKS = 4
    # Slices of 1048 bytes: 8 KiB to 64 KiB messages go in many MPI calls, a short last one
    # included, and every element must still be exact.
    MPI_CHUNK_MB = "0.001"


@require_binary
class WithoutCheck(unittest.TestCase):
    def test_no_check_reports_not_checked(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "nc.h5")
            res = run_scalebench(["allreduce", "-b", "1K", "-e", "4K", "-n", "2", "-w", "0",
                                  "--no-check", "--device", "cpu", "-o", path], ranks=2)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            rows = table_rows(res.stdout)
            self.assertEqual([int(r[0]) for r in rows], [1024, 2048, 4096])
            self.assertEqual({r[7] for r in rows}, {"N/A"})
            if h5py is not None:
                with h5py.File(path, "r") as f:
                    self.assertEqual(list(f["sizes/wrong"][()]), [-1, -1, -1])
                    self.assertEqual(int(f.attrs["check"]), 0)


def scope_sections(stdout):
    """{scope: [rows]} from the table, split at the '# scope NAME: ...' lines."""
    out, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("# scope "):
            current = line.split()[2].rstrip(":")
            out[current] = []
        elif current is not None and table_rows(line):
            out[current] += table_rows(line)
    return out


@require_binary
class Scopes(unittest.TestCase):
    """Every scope on one host (4 ranks, 1 node): within the node = all ranks, across nodes = one
    rank (node 0's leader). The multi-host case runs in tests/cluster on the emulated cluster."""

    def test_three_scopes_rows_and_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.h5")
            res = run_scalebench(["allreduce", "-b", "1K", "-e", "4K", "-n", "3", "-w", "1",
                                  "--device", "cpu", "--scope", "intra,inter,all", "-o", path],
                                 ranks=4, timeout=300)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            sections = scope_sections(res.stdout)
            self.assertEqual(list(sections), ["intra", "inter", "all"], res.stdout)
            for rows in sections.values():
                self.assertEqual([int(r[0]) for r in rows], [1024, 2048, 4096])
                self.assertEqual({r[7] for r in rows}, {"0"}, "every element exact")
            # One rank across nodes reduces with nobody: bus bandwidth 0 by definition.
            self.assertEqual({float(r[6]) for r in sections["inter"]}, {0.0})
            self.assertIn("#   scope intra", res.stdout)
            if h5py is None:
                return
            with h5py.File(path, "r") as f:
                self.assertEqual(attr(f, "scopes"), "intra,inter,all")
                sizes = f["sizes"]
                self.assertEqual(list(sizes["scope"].asstr()[()]),
                                 ["intra"] * 3 + ["inter"] * 3 + ["all"] * 3)
                self.assertEqual(list(sizes["group_size"][()]), [4] * 3 + [1] * 3 + [4] * 3)
                self.assertEqual(list(sizes["groups"][()]), [1] * 9)
                inter = f["iterations/inter/1024"][()]
                self.assertEqual(inter.shape, (3, 4))
                # Only node 0's first rank takes part across nodes; the others are NaN.
                self.assertTrue(np.all(inter[:, 0] > 0))
                self.assertTrue(np.all(np.isnan(inter[:, 1:])))
                self.assertTrue(np.all(f["iterations/intra/1024"][()] > 0))

    def test_bad_scope_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            res = run_scalebench(["allreduce", "--device", "cpu", "-b", "8", "-e", "1K",
                                  "--scope", "intra,bogus", "-o", os.path.join(tmp, "x.h5")],
                                 ranks=2, timeout=120)
            self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
            errors = [l for l in res.stderr.splitlines() if l.startswith("scalebench: error")]
            self.assertEqual(len(errors), 1, res.stderr)
            self.assertIn("--scope intra,bogus", errors[0])
            self.assertIn("allowed: auto", errors[0])
            self.assertEqual(os.listdir(tmp), [])


def rate_rows(stdout):
    """Rows of a '+compute' section: the 8 fields of table_rows and the compute rate."""
    rows = []
    for line in stdout.splitlines():
        fields = line.split()
        if not line.startswith("#") and len(fields) == 9 and fields[0].isdigit():
            rows.append(fields)
    return rows


@require_binary
class BesideCompute(unittest.TestCase):
    """--beside-compute: every scope swept again beside a compute load on each rank (the figure
    results/predict uses for a bucket in flight during backward)."""
    SIZES = [1024, 32768, 1048576]  # -b 1K -e 1M -f 32

    def test_second_sweep_rows_rates_and_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bc.h5")
            res = run_scalebench(["allreduce", "-b", "1K", "-e", "1M", "-f", "32", "-n", "3", "-w", "1",
                                  "--device", "cpu", "--beside-compute", "-o", path],
                                 ranks=2, timeout=300)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            self.assertIn("# scope all+compute:", res.stdout)
            self.assertIn("# beside float32 matrix products", res.stdout)
            plain = table_rows(res.stdout)
            beside = rate_rows(res.stdout)
            self.assertEqual([int(r[0]) for r in plain], self.SIZES, res.stdout)
            self.assertEqual([int(r[0]) for r in beside], self.SIZES, res.stdout)
            self.assertEqual({r[7] for r in beside}, {"0"}, "exact beside the load too")
            # The nccl-tests average is over the collectives alone; each scope is listed.
            self.assertIn("#   scope all+compute", res.stdout)
            if h5py is None:
                return
            with h5py.File(path, "r") as f:
                self.assertEqual(int(attr(f, "beside_compute")), 1)
                self.assertEqual(int(attr(f, "compute_threads")), 1)
                self.assertTrue(attr(f, "compute_load").startswith("float32 matrix products 256 x 256"),
                                attr(f, "compute_load"))
                sizes = f["sizes"]
                scopes = list(sizes["scope"].asstr()[()])
                self.assertEqual(scopes, ["all"] * 3 + ["all+compute"] * 3)
                self.assertEqual(list(sizes["bytes"][()]), self.SIZES * 2)
                rate = sizes["compute_rate"][()]
                self.assertTrue(np.all(np.isnan(rate[:3])), rate)
                # A share of a core over the share alone: positive, and not far above 1 (the load
                # cannot get more than a core; alone it had nearly one on 2 ranks x 2 cores).
                self.assertTrue(np.all((rate[3:] > 0) & (rate[3:] < 3)), rate)
                for size in self.SIZES:
                    per_rank = f["iterations/all+compute"][str(size)][()]
                    self.assertEqual(per_rank.shape, (3, 2))
                    self.assertTrue(np.all(per_rank > 0))


@require_binary
class BadInput(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "ar.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def assert_refused(self, args, *expected, keep=()):
        start = time.monotonic()
        res = run_scalebench(["allreduce", "--device", "cpu"] + args + ["-o", self.out], ranks=2,
                             timeout=120)
        text = res.stdout + res.stderr
        self.assertEqual(res.returncode, 2, f"exit code; output:\n{text}")
        self.assertLess(time.monotonic() - start, 60, "ranks took too long to exit")
        errors = [l for l in res.stderr.splitlines() if l.startswith("scalebench: error")]
        self.assertEqual(len(errors), 1, f"expected one error line (rank 0's), got:\n{text}")
        for fragment in expected:
            self.assertIn(fragment, errors[0])
        self.assertEqual(table_rows(res.stdout), [], "no measurement after bad input")
        self.assertEqual(sorted(set(os.listdir(self.dir)) - set(keep)), [], "no file left")

    def test_compute_threads_below_one(self):
        self.assert_refused(["-b", "8", "-e", "1K", "--beside-compute", "--compute-threads", "0"],
                            "--compute-threads 0", "allowed: 1 to 1024")

    def test_min_larger_than_max(self):
        self.assert_refused(["-b", "1M", "-e", "1K"], "--min-bytes 1M", "--max-bytes 1K",
                            "allowed:")

    def test_step_factor_below_2(self):
        self.assert_refused(["-b", "8", "-e", "1K", "-f", "1"], "--step-factor 1", "2 or more")

    def test_non_numeric_sizes(self):
        self.assert_refused(["-b", "lots", "-e", "1K"], "--min-bytes lots", "K, M or G")
        self.assert_refused(["-b", "8", "-e", "1.5M"], "--max-bytes 1.5M", "allowed:")
        self.assert_refused(["-b", "8", "-e", "1K", "-f", "two"], "two")

    def test_zero_iterations(self):
        self.assert_refused(["-b", "8", "-e", "1K", "-n", "0"], "--iters 0", "1 or more")

    def test_below_one_element(self):
        self.assert_refused(["-b", "2", "-e", "1K"], "--min-bytes 2", "4 bytes")

    def test_negative_mpi_chunk(self):
        self.assert_refused(["-b", "8", "-e", "1K", "--mpi-chunk-mb", "-1"], "--mpi-chunk-mb -1",
                            "allowed: 0")

    def test_unknown_dtype_and_backend(self):
        self.assert_refused(["-b", "8", "-e", "1K", "--dtype", "int8"], "--dtype int8",
                            "float32")
        self.assert_refused(["-b", "8", "-e", "1K", "--backend", "gloo"], "--backend gloo",
                            "auto, mpi, nccl")

    def test_output_exists(self):
        with open(self.out, "w") as f:
            f.write("precious")
        self.assert_refused(["-b", "8", "-e", "1K"], self.out, "exists", keep=("ar.h5",))
        with open(self.out) as f:
            self.assertEqual(f.read(), "precious")


if __name__ == "__main__":
    unittest.main()
