"""Training on a real dataset to accuracy, and inference, under mpiexec -n 2.

A small slice of the real Fashion-MNIST (Debian's dataset-fashion-mnist) is written by the test
as gzipped IDX files, so that every run takes seconds: per-epoch evaluation, early stopping,
--target-accuracy, the final test split, --save, and `scalebench infer` on the saved model, which
must reproduce the training run's test accuracy exactly. Bad data and options are refused with one
line naming the file or the option. Needs h5py (Debian's python3)."""
import gzip
import json
import os
import struct
import tempfile
import unittest

try:
    import h5py
except ImportError:
    h5py = None

from scalebench_cli import require_binary, run_scalebench

FASHION = "/usr/share/datasets/fashion-mnist"
TRAIN, TEST = 1200, 400
VALIDATION_FRACTION = 0.1
BATCH = 16  # per rank; 2 ranks: global 32


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def write_idx(path, shape, payload):
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, len(shape)]) + struct.pack(">" + "I" * len(shape), *shape) + payload)


def write_slice(folder, train=TRAIN, test=TEST):
    """The first `train` / `test` samples of the real Fashion-MNIST, in its own format."""
    for split, n in (("train", train), ("t10k", test)):
        shape, pixels = read_idx(os.path.join(FASHION, f"{split}-images-idx3-ubyte.gz"))
        write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), (n,) + shape[1:],
                  pixels[:n * shape[1] * shape[2]])
        _, labels = read_idx(os.path.join(FASHION, f"{split}-labels-idx1-ubyte.gz"))
        write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), (n,), labels[:n])


def attrs(path):
    with h5py.File(path, "r") as f:
        out = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        out["_epochs"] = {k: f["epochs"][k][:] for k in f["epochs"]} if "epochs" in f else {}
        out["_events"] = list(zip(f["events/kind"].asstr()[:], f["events/message"].asstr()[:]))
        out["_steps"] = f["steps/step"].shape[0]
        out["_samples"] = f["steps/samples"][:]
        return out


@require_binary
@unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
@unittest.skipUnless(os.path.isdir(FASHION), "dataset-fashion-mnist is not installed")
class RealData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "fashion")
        os.mkdir(cls.data)
        write_slice(cls.data)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def train(self, out, *extra, ranks=2):
        args = ["--model", "cifar10_cnn", "--device", "cpu", "--dataset", "fashion-mnist",
                "--data-dir", self.data, "--batch-size", str(BATCH), "--threads", "1",
                "--optimizer", "adam", "--lr", "0.001", "--warmup-steps", "1", "--quiet",
                "--output", self.path(out)] + list(extra)
        result = run_scalebench(args, ranks=ranks, timeout=400)
        return result.returncode, result.stdout + result.stderr

    def test_epochs_test_split_save_and_infer(self):
        code, text = self.train("run.h5", "--epochs", "2", "--save", self.path("model.pt"))
        self.assertEqual(code, 0, text)
        a = attrs(self.path("run.h5"))
        train_n = TRAIN - round(VALIDATION_FRACTION * TRAIN)
        steps_per_epoch = -(-train_n // (2 * BATCH))  # the last, smaller batch included
        self.assertEqual(a["steps_per_epoch"], steps_per_epoch)
        self.assertEqual(a["_steps"], 2 * steps_per_epoch)
        # Every training sample exactly once per epoch over both ranks, the last batch split.
        samples = a["_samples"]
        for epoch in range(2):
            rows = samples[epoch * steps_per_epoch:(epoch + 1) * steps_per_epoch]
            self.assertEqual(int(rows.sum()), train_n)
        self.assertEqual(list(samples[steps_per_epoch - 1]), [(train_n % 32) // 2] * 2)
        e = a["_epochs"]
        self.assertEqual(list(e["epoch"]), [0, 1])
        self.assertEqual(list(e["train_samples"]), [train_n, train_n])
        self.assertEqual(list(e["validation_samples"]), [TRAIN - train_n] * 2)
        self.assertTrue(all(0.0 < v <= 1.0 for v in e["validation_accuracy"]))
        self.assertTrue(all(0.1 < v <= 1.0 for v in e["train_accuracy"]), e["train_accuracy"])
        self.assertGreater(e["elapsed_s"][1], e["elapsed_s"][0])
        self.assertGreater(e["train_loss"][0], e["train_loss"][1], "Adam lowers the loss")
        # Well above chance (0.1) after two epochs on 1080 images.
        self.assertEqual(a["test_samples"], TEST)
        self.assertGreater(a["test_accuracy"], 0.4)
        self.assertGreater(a["total_execution_s"], 0)
        self.assertEqual(a["stopped_early"], 0)

        # The saved model, loaded by `infer` on 2 ranks, predicts the test split exactly as the
        # training run's own final evaluation did.
        result = run_scalebench(["infer", "--model", "cifar10_cnn", "--device", "cpu", "--dataset",
                                 "fashion-mnist", "--data-dir", self.data, "--weights",
                                 self.path("model.pt"), "--batch-size", "64", "--threads", "1",
                                 "--output", self.path("infer.h5")], ranks=2, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        i = attrs(self.path("infer.h5"))
        self.assertEqual(i["mode"], "infer")
        self.assertEqual(i["test_samples"], TEST)
        self.assertAlmostEqual(i["test_accuracy"], a["test_accuracy"], places=12)
        self.assertAlmostEqual(i["test_loss"], a["test_loss"], places=5)
        with h5py.File(self.path("infer.h5"), "r") as f:
            self.assertEqual(int(f["ranks/predict_samples"][:].sum()), TEST)
            self.assertTrue((f["ranks/model_load_s"][:] > 0).all())
            self.assertTrue((f["ranks/predict_s"][:] > 0).all())

    def test_target_accuracy_stops_and_records_the_time_to_it(self):
        code, text = self.train("target.h5", "--epochs", "4", "--target-accuracy", "0.2")
        self.assertEqual(code, 0, text)
        a = attrs(self.path("target.h5"))
        self.assertEqual(len(a["_epochs"]["epoch"]), 1, "0.2 is reached after the first epoch")
        self.assertEqual(a["epochs_to_accuracy"], 1)
        self.assertGreater(a["time_to_accuracy_s"], 0)
        self.assertEqual(a["stopped_early"], 1)
        self.assertIn("target_accuracy", [k for k, _ in a["_events"]])
        self.assertIn("test_accuracy", a)

    def test_early_stopping_without_improvement(self):
        # No epoch can gain more than 1.0: the first epoch sets the best, the second stops.
        code, text = self.train("early.h5", "--epochs", "5", "--patience", "1", "--min-delta", "1.0")
        self.assertEqual(code, 0, text)
        a = attrs(self.path("early.h5"))
        self.assertEqual(list(a["_epochs"]["epoch"]), [0, 1])
        self.assertEqual(a["best_epoch"], 0)
        self.assertEqual(a["stopped_early"], 1)
        self.assertIn("early_stop", [k for k, _ in a["_events"]])

    def assert_refused(self, args, *needles, ranks=2):
        result = run_scalebench(args, ranks=ranks, timeout=120)
        text = result.stdout + result.stderr
        self.assertEqual(result.returncode, 2, text)
        for needle in needles:
            self.assertIn(needle, text)
        self.assertEqual(text.count("error:"), 1, "one line, from rank 0: " + text)

    def test_bad_data_and_options_are_refused(self):
        base = ["--model", "cifar10_cnn", "--device", "cpu", "--steps", "2", "--quiet",
                "--output", self.path("never.h5")]
        self.assert_refused(base + ["--dataset", "mnist"], "--data-dir")
        self.assert_refused(base + ["--dataset", "fashion-mnist", "--data-dir", self.path("nowhere")],
                            "nowhere")
        broken = self.path("broken")
        os.mkdir(broken)
        write_slice(broken, train=64, test=16)
        with gzip.open(os.path.join(broken, "t10k-images-idx3-ubyte.gz"), "rb") as f:
            data = f.read()
        with gzip.open(os.path.join(broken, "t10k-images-idx3-ubyte.gz"), "wb") as f:
            f.write(data[:-100])  # truncated: the header promises more pixels than there are
        self.assert_refused(base + ["--dataset", "fashion-mnist", "--data-dir", broken],
                            "t10k-images-idx3-ubyte.gz")
        self.assert_refused(base + ["--patience", "3"], "--patience", "validation accuracy")
        self.assert_refused(["--model", "imdb_cnn_lstm", "--device", "cpu", "--steps", "2",
                             "--dataset", "fashion-mnist", "--data-dir", self.data,
                             "--output", self.path("never.h5")], "imdb")
        open(self.path("exists.pt"), "w").close()
        self.assert_refused(base + ["--save", self.path("exists.pt")], "--save", "exists")
        self.assert_refused(["infer", "--model", "cifar10_cnn", "--device", "cpu", "--dataset",
                             "fashion-mnist", "--data-dir", self.data,
                             "--output", self.path("never.h5")], "--weights")
        self.assertFalse(os.path.exists(self.path("never.h5")))


if __name__ == "__main__":
    unittest.main()
