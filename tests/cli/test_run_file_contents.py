"""The HDF5 file of a 2-rank run holds every field of the layout (docs/hdf5-layout.md) for both
ranks and every step, and says what happened: status, checksums, metadata.

Needs h5py: CTest runs this with Debian's /usr/bin/python3."""
import json
import math
import os
import tempfile
import unittest

import numpy as np

try:
    import h5py
except ImportError:  # a python3 without Debian's packages
    h5py = None

from scalebench_cli import step_schema, require_binary, run_scalebench

STEPS, WARMUP, BATCH, RANKS = 7, 2, 4, 2
ROOT_ATTRS = ["format", "schema_version", "status", "tool", "tool_version", "git_revision",
              "command_line", "config", "start_time", "end_time", "model", "dataset",
              "model_source", "input_shape", "params_total", "params_trainable",
              "macs_per_sample", "flops_per_sample", "world_size", "nodes", "ranks_per_node",
              "batch_per_rank", "global_batch", "scaling_mode", "device", "backend", "precision",
              "optimizer", "lr", "lr_decay", "overlap", "bucket_mb", "mpi_chunk_mb", "n_buckets", "warmup_steps",
              "steps", "steps_per_epoch", "threads", "tag", "seed", "comm_timeout_s",
              "flush_every", "record_buckets", "slurm_job_id", "slurm_nodelist", "environment", "version_scalebench",
              "version_libtorch", "version_mpi", "version_hdf5", "version_nccl",
              "param_checksums_agree", "summary_measured_steps", "summary_median_step_s",
              "summary_throughput_samples_per_s", "summary_exposed_comm_share", "summary_median_wall_s",
              "summary_comm_concurrent_share", "blas", "blas_library", "lapack", "lapack_library",
              "onednn", "intra_op_threads", "inter_op_threads", "omp_max_threads", "math_tf32_matmul",
              "math_tf32_cudnn", "math_cudnn_benchmark", "math_cudnn_deterministic", "autocast",
              "summary_peak_rss_bytes"]


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class TwoRankRunFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "c-np2.h5")
        # Small buckets so the CIFAR-10 CNN has several; flush every 3 steps so the file is
        # written in several appends, the last one partial.
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", str(STEPS),
                "--warmup-steps", str(WARMUP), "--batch-size", str(BATCH), "--bucket-mb", "1",
                "--flush-every", "3", "--threads", "1", "--tag", "contents test",
                "--output", cls.path]
        cls.result = run_scalebench(args, ranks=RANKS, timeout=300)
        # name -> (numpy kind, unit), from the one definition (scalebench schema --json)
        cls.schema = step_schema()
        cls.step_fields = {f["name"]: ("i" if f["type"] == "int64" else "f", f["unit"])
                           for f in cls.schema["steps"]}
        cls.listing = sorted(os.listdir(cls.tmp.name))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.result.returncode, 0, self.result.stdout + self.result.stderr)
        self.f = h5py.File(self.path, "r")

    def tearDown(self):
        self.f.close()

    def test_only_the_final_file_remains(self):
        self.assertEqual(self.listing, ["c-np2.h5"])

    def test_root_attributes(self):
        a = self.f.attrs
        missing = [k for k in ROOT_ATTRS if k not in a]
        self.assertEqual(missing, [])
        self.assertEqual(a["format"], "scalebench-run")
        self.assertEqual(a["schema_version"], self.schema["schema_version"])
        self.assertEqual(a["schema_version"], 3)
        self.assertEqual(a["precision"], "fp32")
        self.assertTrue(a["blas"] and a["lapack"] and a["blas_library"])
        self.assertEqual(a["intra_op_threads"], 1)  # --threads 1
        self.assertEqual(a["autocast"], "none")
        self.assertEqual(a["cpu_allocator"], "caching")  # the default
        self.assertEqual(a["overlap_mode"], "auto")  # the default
        self.assertIn("overlap", a["overlap_choice"])
        self.assertEqual(json.loads(a["config"])["cpu_allocator"], "caching")
        self.assertEqual(a["status"], "completed")
        self.assertEqual(a["world_size"], RANKS)
        self.assertEqual(a["batch_per_rank"], BATCH)
        self.assertEqual(a["global_batch"], BATCH * RANKS)
        self.assertEqual(a["steps"], STEPS)
        self.assertEqual(a["warmup_steps"], WARMUP)
        self.assertEqual(a["params_total"], 1250858)  # Keras' "Total params" for this model
        self.assertEqual(a["flops_per_sample"], 2 * a["macs_per_sample"])
        self.assertEqual(a["tag"], "contents test")
        self.assertEqual(a["backend"], "mpi")
        self.assertEqual(a["param_checksums_agree"], 1)
        self.assertEqual(a["summary_measured_steps"], STEPS - WARMUP)
        self.assertIn("--flush-every 3", a["command_line"])
        env = json.loads(a["environment"])
        self.assertEqual(env.get("OMPI_MCA_rmaps_base_oversubscribe"), "1")  # set by the test
        if "OMPI_MCA_mpi_yield_when_idle" not in os.environ:  # scalebench's default, as recorded
            self.assertTrue(a["mpi_progress"].startswith("yield (scalebench's default"), a["mpi_progress"])
            self.assertEqual(env.get("OMPI_MCA_mpi_yield_when_idle"), "1")
        # 2 ranks, a power of two: the hooks prescale by 1/2 and MPI only sums
        self.assertTrue(a["gradient_mean"].startswith("prescaled: each gradient multiplied by 1/2"),
                        a["gradient_mean"])
        config = json.loads(a["config"])
        self.assertEqual(config["model"], "cifar10_cnn")
        self.assertLessEqual(a["start_time"], a["end_time"])  # ISO 8601 UTC sorts as text

    def test_every_step_field_for_every_rank_and_step(self):
        for name, (kind, unit) in self.step_fields.items():
            with self.subTest(field=name):
                d = self.f["steps"][name]
                self.assertEqual(d.shape, (STEPS, RANKS))
                self.assertEqual(d.dtype.kind, kind)
                self.assertEqual(d.attrs["unit"], unit)
                self.assertTrue(d.attrs["description"])
                if kind == "f":
                    self.assertTrue(np.all(np.isfinite(d[:])), name)
        self.assertEqual(sorted(self.f["steps"].keys()), sorted(self.step_fields))

    def test_step_values_are_consistent(self):
        s = {k: self.f["steps"][k][:] for k in self.step_fields}
        np.testing.assert_array_equal(s["step"], np.repeat(np.arange(STEPS)[:, None], RANKS, 1))
        np.testing.assert_array_equal(s["warmup"][:, 0], [1] * WARMUP + [0] * (STEPS - WARMUP))
        np.testing.assert_array_equal(s["samples"], np.full((STEPS, RANKS), BATCH))
        self.assertTrue(np.all(s["step_s"] > 0))
        phases = sum(s[k] for k in self.schema["phases"])
        # The phases tile the step (host clock: step_s is their span).
        np.testing.assert_allclose(phases, s["step_s"], rtol=1e-9, atol=1e-6)
        for k in self.schema["phases"] + self.schema["between_steps"] + ["wall_s", "comm_busy_s", "cpu_s"]:
            self.assertTrue(np.all(s[k] >= 0), k)
        total_grad_bytes = int(self.f["buckets/bytes"][:].sum())
        self.assertEqual(total_grad_bytes, 4 * self.f.attrs["params_trainable"])
        np.testing.assert_array_equal(s["bytes_reduced"], np.full((STEPS, RANKS), total_grad_bytes))
        self.assertTrue(np.all(s["peak_rss_bytes"] > 10 * 2**20))
        self.assertTrue(np.all(np.diff(s["peak_rss_bytes"], axis=0) >= 0), "a peak never falls")
        self.assertTrue(np.all(np.diff(s["end_time_s"], axis=0) > 0))
        for k in ("device_peak_allocated_bytes", "device_peak_reserved_bytes", "device_used_bytes"):
            np.testing.assert_array_equal(s[k], -1)  # CPU run: not measured
        self.assertTrue(all(math.isfinite(x) for x in s["loss"].ravel()))

    def test_buckets(self):
        b = self.f["buckets"]
        n = self.f.attrs["n_buckets"]
        self.assertGreater(n, 1, "--bucket-mb 1 must split the 4.8 MB of gradients")
        self.assertEqual(b["bytes"].shape, (n,))
        self.assertEqual(b["num_params"].shape, (n,))
        # The Keras CIFAR-10 CNN: 4 conv + 2 dense layers, a weight and a bias each.
        self.assertEqual(int(b["num_params"][:].sum()), 12)
        self.assertEqual(b["start_s"].shape, (STEPS, RANKS, n))
        self.assertEqual(b["duration_s"].shape, (STEPS, RANKS, n))
        # Every step's buckets by default (--record-buckets every:1).
        self.assertEqual(list(b["step"][:]), list(range(STEPS)))
        self.assertEqual(int(b.attrs["every"]), 1)
        start, dur = b["start_s"][:], b["duration_s"][:]
        self.assertTrue(np.all(start >= 0) and np.all(dur > 0))
        np.testing.assert_allclose(dur.sum(axis=2), self.f["steps/comm_busy_s"][:], rtol=1e-9)
        # Launched in bucket order; each ends inside its step.
        self.assertTrue(np.all(np.diff(start, axis=2) >= 0))
        self.assertTrue(np.all(start + dur <= self.f["steps/step_s"][:][:, :, None] + 1e-6))

    def test_ranks(self):
        r = self.f["ranks"]
        for name in ("hostname", "device_name", "device_bus_id", "cpu_affinity", "param_checksum"):
            self.assertEqual(r[name].shape, (RANKS,), name)
        self.assertEqual(list(r["local_rank"][:]), [0, 1])
        self.assertEqual(len(set(r["pid"][:])), RANKS)
        sums = list(r["param_checksum"].asstr()[:])
        self.assertEqual(sums[0], sums[1])
        self.assertRegex(sums[0], r"^[0-9a-f]{16,}$")
        self.assertTrue(r["device_name"].asstr()[0].startswith("cpu"))

    def test_events(self):
        e = self.f["events"]
        n = e["kind"].shape[0]
        for name in ("time_s", "rank", "step", "message"):
            self.assertEqual(e[name].shape, (n,))
        times = e["time_s"][:]
        self.assertTrue(np.all(times >= 0))


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class MpiProgressFromTheEnvironment(unittest.TestCase):
    """A caller's own OMPI_MCA_mpi_yield_when_idle is kept, and the file says where it came from."""

    def test_callers_setting_is_kept_and_recorded(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "spin.h5")
            saved = os.environ.get("OMPI_MCA_mpi_yield_when_idle")
            os.environ["OMPI_MCA_mpi_yield_when_idle"] = "0"
            try:
                res = run_scalebench(["--model", "alexnet_r", "--device", "cpu", "--steps", "2", "--warmup-steps", "1",
                                      "--batch-size", "4", "--quiet", "--output", out], ranks=2, timeout=120)
            finally:
                if saved is None:
                    del os.environ["OMPI_MCA_mpi_yield_when_idle"]
                else:
                    os.environ["OMPI_MCA_mpi_yield_when_idle"] = saved
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            with h5py.File(out, "r") as f:
                self.assertEqual(f.attrs["mpi_progress"],
                                 "spin (OMPI_MCA_mpi_yield_when_idle=0 from the environment)")
                self.assertEqual(json.loads(f.attrs["environment"])["OMPI_MCA_mpi_yield_when_idle"], "0")


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class ModelsAsBuilt(unittest.TestCase):
    """The file describes the model as built, and BatchNorm statistics do not break the proof that
    the replicas are identical."""

    def run_2_ranks(self, *args):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.h5")
            res = run_scalebench(["--device", "cpu", "--steps", "2", "--warmup-steps", "0",
                                  "--batch-size", "2", "--quiet", "--output", path, *args],
                                 ranks=2, timeout=300)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            self.assertNotIn("differ", res.stdout + res.stderr)
            with h5py.File(path, "r") as f:
                return dict(f.attrs), list(f["ranks/param_checksum"].asstr()[:])

    def test_batchnorm_model_checksums_agree(self):
        attrs, sums = self.run_2_ranks("--model", "resnet56")
        self.assertEqual(attrs["param_checksums_agree"], 1)
        self.assertEqual(sums[0], sums[1])

    def test_record_buckets_every_k(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "e.h5")
            res = run_scalebench(["--model", "cifar10_cnn", "--device", "cpu", "--steps", "9",
                                  "--warmup-steps", "1", "--batch-size", "2", "--bucket-mb", "1",
                                  "--flush-every", "2", "--record-buckets", "every:4", "--quiet",
                                  "--output", path], ranks=2, timeout=300)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            with h5py.File(path, "r") as f:
                b = f["buckets"]
                self.assertEqual(f.attrs["record_buckets"], "every:4")
                self.assertEqual(int(b.attrs["every"]), 4)
                self.assertEqual(list(b["step"][:]), [0, 4, 8])
                n = int(f.attrs["n_buckets"])
                self.assertEqual(b["duration_s"].shape, (3, 2, n))
                # Each sampled row is its step's: its durations add up to that step's busy time.
                busy = f["steps/comm_busy_s"][:][[0, 4, 8]]
                np.testing.assert_allclose(b["duration_s"][:].sum(axis=2), busy, rtol=1e-9)
                self.assertEqual(f["steps/step_s"].shape, (9, 2), "every step still in /steps")

    def test_input_shape_is_the_one_built(self):
        attrs, _ = self.run_2_ranks("--model", "cifar10_cnn", "--image-size", "40")
        self.assertEqual(attrs["input_shape"], "3x40x40")


if __name__ == "__main__":
    unittest.main()
