"""Cross-checks of what a run file's numbers mean (docs/hdf5-layout.md, "How the times add up"),
on real 2-rank runs: a BatchNorm model (resnet56, whose buffers are broadcast every step) and one
without buffers (cifar10_cnn).

- Per step and rank: data + buffer sync + forward + backward + exposed wait + optimizer + control
  + other = wall_s within 1 %, other_s >= 0, step_s <= wall_s; and wall_s tiles the run: it agrees
  with the distance between consecutive steps' end times (measured by another clock read).
- The buffer broadcast is its own phase with its bytes, never inside forward_s.
- Per bucket: ready_s <= start_s <= end (start_s + duration_s), launched in plan order; the bytes
  of the plan are the bytes reduced.
- The clock offsets between ranks match the host's monotonic clock (one host: the truth is
  known), and on the aligned clock no allreduce ends on a rank before every rank started it.
- A bucket's bus bandwidth (the fastest rank's duration per step, median over steps, times
  2(n-1)/n) lies within a loose range of what `scalebench allreduce` measures at that size in the
  same test: this checks units and definitions, not speed.

Needs h5py: CTest runs this with Debian's /usr/bin/python3."""
import json
import os
import tempfile
import unittest

import numpy as np

try:
    import h5py
except ImportError:  # a python3 without Debian's packages
    h5py = None

from scalebench_cli import require_binary, run_scalebench, step_schema

STEPS, WARMUP, RANKS = 8, 2, 2


def resnet56_buffer_bytes():
    """Bytes of resnet56's floating-point BatchNorm buffers (running mean and variance, float32),
    from its architecture (He et al. 2016, CIFAR variant: a 16-channel stem, 3 stages of 9 basic
    blocks with 16, 32, 64 channels, two BatchNorms per block, identity shortcuts)."""
    channels = 16 + sum(2 * 9 * c for c in (16, 32, 64))
    return channels * 2 * 4


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class StepAccounting(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.schema = step_schema()
        cls.files = {}
        for model, extra in (("resnet56", []), ("cifar10_cnn", ["--no-overlap"])):
            path = os.path.join(cls.tmp.name, f"{model}.h5")
            res = run_scalebench(["--model", model, "--device", "cpu", "--steps", str(STEPS),
                                  "--warmup-steps", str(WARMUP), "--batch-size", "4",
                                  "--bucket-mb", "1", "--flush-every", "3", "--threads", "1",
                                  "--quiet", "--output", path] + extra, ranks=RANKS, timeout=600)
            if res.returncode != 0:
                raise AssertionError(f"{model}: exit {res.returncode}\n{res.stdout}{res.stderr}")
            cls.files[model] = path

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def steps(self, model):
        with h5py.File(self.files[model], "r") as f:
            return {k: f["steps"][k][:] for k in f["steps"]}

    def test_times_add_up_to_wall_time(self):
        for model in self.files:
            with self.subTest(model=model):
                s = self.steps(model)
                parts = sum(s[k] for k in self.schema["phases"] + self.schema["between_steps"])
                np.testing.assert_allclose(parts, s["wall_s"], rtol=0.01)
                self.assertTrue(np.all(s["other_s"] >= -1e-6), s["other_s"])
                self.assertTrue(np.all(s["step_s"] <= s["wall_s"] * (1 + 1e-9)))
                self.assertTrue(np.all(s["control_s"] > 0))

    def test_wall_time_tiles_the_run(self):
        # Step i's wall_s ends where step i+1's begins, just after step i's control agreement;
        # end_time_s is read at the end of each step's phases, before the agreement. So
        # end(i) - end(i-1) = wall(i) - control(i) + control(i-1), up to the few microseconds of
        # bookkeeping between those clock reads.
        for model in self.files:
            with self.subTest(model=model):
                s = self.steps(model)
                gap = np.diff(s["end_time_s"], axis=0)
                expected = s["wall_s"][1:] - s["control_s"][1:] + s["control_s"][:-1]
                np.testing.assert_allclose(gap, expected, rtol=0.02, atol=2e-3)

    def test_buffer_sync_is_its_own_phase(self):
        bn = self.steps("resnet56")
        np.testing.assert_array_equal(bn["buffer_sync_bytes"], resnet56_buffer_bytes())
        self.assertTrue(np.all(bn["buffer_sync_s"] > 0))
        plain = self.steps("cifar10_cnn")
        np.testing.assert_array_equal(plain["buffer_sync_bytes"], 0)
        self.assertTrue(np.all(plain["buffer_sync_s"] < 1e-3), plain["buffer_sync_s"])

    def test_buckets_in_plan_order_and_bytes_of_the_plan(self):
        for model, path in self.files.items():
            with self.subTest(model=model), h5py.File(path, "r") as f:
                start, dur = f["buckets/start_s"][:], f["buckets/duration_s"][:]
                self.assertGreater(start.shape[2], 1, "--bucket-mb 1 must make several buckets")
                self.assertTrue(np.all(np.diff(start, axis=2) >= 0), "buckets start in plan order")
                self.assertTrue(np.all(dur > 0))
                # Each bucket ends inside its step (start_s is relative to the step's start).
                self.assertTrue(np.all(start + dur <= f["steps/step_s"][:][:, :, None] + 1e-6))
                np.testing.assert_array_equal(f["steps/bytes_reduced"][:],
                                              int(f["buckets/bytes"][:].sum()))

    def test_bucket_ready_start_end_in_order(self):
        for model, path in self.files.items():
            with self.subTest(model=model), h5py.File(path, "r") as f:
                ready, start = f["buckets/ready_s"][:], f["buckets/start_s"][:]
                end = start + f["buckets/duration_s"][:]
                self.assertTrue(np.all(np.isfinite(ready)))
                self.assertTrue(np.all(ready >= 0))
                # A bucket is launched once it is ready (its own gradients, and every earlier
                # bucket launched), never before; it ends after it started.
                self.assertTrue(np.all(start >= ready - 1e-6), model)
                self.assertTrue(np.all(end > start))
                # Gradients arrive during backward: no bucket is ready before forward ended.
                s = f["steps"]
                forward_end = (s["data_s"][:] + s["buffer_sync_s"][:] + s["forward_s"][:])[:, :, None]
                self.assertTrue(np.all(ready >= forward_end - 1e-6), model)
                if f.attrs["overlap"] == 0:
                    # --no-overlap: every allreduce starts after backward returned.
                    backward_end = forward_end + s["backward_s"][:][:, :, None]
                    self.assertTrue(np.all(start >= backward_end - 1e-6))

    def test_clock_offsets_match_the_hosts_monotonic_clock(self):
        # On one host every rank reads the same monotonic clock, so the true offset of rank r's
        # run clock to rank 0's is origin(0) - origin(r); the ping-pong estimate must find it
        # within its stated uncertainty (plus the microsecond the clock reads between them take).
        for model, path in self.files.items():
            with self.subTest(model=model), h5py.File(path, "r") as f:
                r = f["ranks"]
                origin = r["clock_origin_monotonic_s"][:]
                truth = origin[0] - origin
                for when in ("start", "end"):
                    est = r[f"clock_offset_{when}_s"][:]
                    bound = r[f"clock_offset_{when}_uncertainty_s"][:]
                    self.assertEqual(est[0], 0.0)
                    self.assertTrue(np.all(bound < 0.05), bound)
                    np.testing.assert_array_less(np.abs(est - truth), bound + 1e-4)
                self.assertLess(f.attrs["clock_sync_start_s"], f.attrs["clock_sync_end_s"])

    def test_aligned_bucket_times_respect_causality(self):
        # On the aligned clock, an allreduce cannot end on any rank before every rank started it
        # (each result needs every rank's contribution).
        for model, path in self.files.items():
            with self.subTest(model=model), h5py.File(path, "r") as f:
                offset = f["ranks/clock_offset_start_s"][:]
                bound = f["ranks/clock_offset_start_uncertainty_s"][:].max()
                origin = (f["steps/start_time_s"][:] - offset[None, :])[:, :, None]
                start = origin + f["buckets/start_s"][:]
                end = start + f["buckets/duration_s"][:]
                slack = end.min(axis=1) - start.max(axis=1)  # [step, bucket]
                self.assertTrue(np.all(slack >= -2 * bound - 1e-4), slack.min())

    def test_bucket_bandwidth_within_the_allreduce_benchmarks_range(self):
        with h5py.File(self.files["cifar10_cnn"], "r") as f:
            nbytes = f["buckets/bytes"][:]
            measured = f["steps/warmup"][:, 0] == 0
            dur = f["buckets/duration_s"][:][measured]  # [steps, ranks, buckets]
        largest = int(np.argmax(nbytes))
        size = int(nbytes[largest])
        factor = 2.0 * (RANKS - 1) / RANKS
        in_training = size / np.median(dur[:, :, largest].min(axis=1)) * factor / 1e9  # GB/s
        path = os.path.join(self.tmp.name, "ar.h5")
        res = run_scalebench(["allreduce", "-b", str(size), "-e", str(size), "-w", "2", "-n", "10",
                              "--device", "cpu", "-o", path], ranks=RANKS, timeout=300)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        with h5py.File(path, "r") as f:
            standalone = float(f["sizes/busbw_gbps"][0])
            self.assertEqual(int(f["sizes/bytes"][0]), size)
        ratio = in_training / standalone
        self.assertTrue(0.1 <= ratio <= 10, f"bucket of {size} B: {in_training:.3f} GB/s in training, "
                        f"{standalone:.3f} GB/s standalone")



@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class OverlapAuto(unittest.TestCase):
    """--overlap auto: warm-up steps 1..W-1 alternate without / with overlap, and the mode with
    the lower median of the slowest rank's step time is kept (ddp/overlap_choice.hpp)."""
    WARMUP, STEPS = 5, 8

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "auto.h5")
        res = run_scalebench(["--model", "cifar10_cnn", "--device", "cpu", "--steps", str(cls.STEPS),
                              "--warmup-steps", str(cls.WARMUP), "--batch-size", "4",
                              "--bucket-mb", "1", "--threads", "1", "--overlap", "auto",
                              "--output", cls.path], ranks=RANKS, timeout=600)
        if res.returncode != 0:
            raise AssertionError(f"scalebench: exit {res.returncode}\n{res.stdout}{res.stderr}")
        cls.log = res.stdout + res.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_choice_is_the_faster_warmup_median(self):
        with h5py.File(self.path, "r") as f:
            a = f.attrs
            slowest = np.max(f["steps/step_s"][:], axis=1)
            on = float(np.median(slowest[[2, 4]]))
            off = float(np.median(slowest[[1, 3]]))
            self.assertEqual(a["overlap_mode"], "auto")
            self.assertEqual(float(a["overlap_auto_on_s"]), on)
            self.assertEqual(float(a["overlap_auto_off_s"]), off)
            self.assertEqual(int(a["overlap"]), 0 if off < on else 1)
            self.assertIn("--overlap auto", a["overlap_choice"])
            self.assertIn(a["overlap_choice"], self.log, "rank 0 says what it chose")

    def test_steps_without_overlap_start_every_bucket_after_backward(self):
        with h5py.File(self.path, "r") as f:
            s = f["steps"]
            backward_end = (s["data_s"][:] + s["buffer_sync_s"][:] + s["forward_s"][:] +
                            s["backward_s"][:])[:, :, None]
            start = f["buckets/start_s"][:]
            without = [1, 3] + (list(range(self.WARMUP, self.STEPS)) if f.attrs["overlap"] == 0 else [])
            self.assertTrue(np.all(start[without] >= backward_end[without] - 1e-6))


if __name__ == "__main__":
    unittest.main()


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
class BucketOrder(unittest.TestCase):
    """--bucket-order observed (the default) fills buckets in the order one backward pass produced
    the gradients, as DDP's rebuilt buckets; both plans are in the file, every rank used the same,
    and the pass before the first step changes nothing the run computes: the final parameters
    equal those of --bucket-order registration, bit for bit (BatchNorm statistics and the dropout
    random stream are restored after it)."""

    def run_one(self, model, order, path):
        res = run_scalebench(["--model", model, "--device", "cpu", "--steps", "4", "--warmup-steps", "1",
                              "--batch-size", "4", "--bucket-mb", "0.5", "--first-bucket-mb", "0.25",
                              "--bucket-order", order, "--threads", "1", "--quiet", "--output", path],
                             ranks=RANKS, timeout=600)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        with h5py.File(path, "r") as f:
            a = f.attrs
            return {"order": a["bucket_order"], "initial": json.loads(a["bucket_plan_initial"]),
                    "plan": json.loads(a["bucket_plan"]), "num_params": f["buckets/num_params"][:],
                    "bytes": f["buckets/bytes"][:], "checksums": [c.decode() if isinstance(c, bytes) else c
                                                               for c in f["ranks/param_checksum"][:]],
                    "n_buckets": int(a["n_buckets"]), "first_bucket_mb": float(a["first_bucket_mb"])}

    def test_observed_order_changes_the_plan_not_the_result(self):
        with tempfile.TemporaryDirectory() as tmp:
            for model in ("resnet56", "cifar10_cnn"):  # BatchNorm; dropout
                observed = self.run_one(model, "observed", os.path.join(tmp, model + "-obs.h5"))
                registration = self.run_one(model, "registration", os.path.join(tmp, model + "-reg.h5"))
                self.assertEqual(observed["order"], "observed")
                self.assertEqual(registration["order"], "registration")
                # The initial plan is reverse registration order, with the small first bucket.
                self.assertEqual(observed["initial"], registration["plan"])
                self.assertEqual(registration["initial"], registration["plan"])
                flat = [p for b in registration["plan"] for p in b]
                self.assertEqual(flat, sorted(flat, reverse=True))
                self.assertEqual(observed["first_bucket_mb"], 0.25)
                # The recorded layout is the plan the run used.
                for r in (observed, registration):
                    self.assertEqual(list(r["num_params"]), [len(b) for b in r["plan"]])
                    self.assertEqual(r["n_buckets"], len(r["plan"]))
                    self.assertEqual(sorted(p for b in r["plan"] for p in b), sorted(flat))
                # Every rank ended with the same parameters, and the same as without the pass.
                self.assertEqual(len(set(observed["checksums"])), 1, observed["checksums"])
                self.assertEqual(observed["checksums"], registration["checksums"], model)
                if model == "resnet56":
                    # BatchNorm's backward yields the bias's gradient before the weight's: the
                    # observed order is not reverse registration order.
                    self.assertNotEqual(observed["plan"], observed["initial"])
