"""launch/sweep --hostfile across 2 emulated hosts: `scripts/cluster run` gives the sweep the
cluster's Open MPI settings (OMPI_MCA_*, which the sweep passes on and records), the hostfile
of `scripts/cluster hostfile --slots 1` spreads 2 ranks over both hosts and 4 ranks 2 + 2
(oversubscribing the one slot, as OMPI_MCA_rmaps_base_oversubscribe=1 allows)."""
import json
import os
import shutil
import tempfile
import unittest

import cluster_util as cu

CLUSTER = cu.Cluster("ctsweep", 2, "--no-slurm")


def setUpModule():
    CLUSTER.up()


def tearDownModule():
    CLUSTER.down()


class SweepWithHostfile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scalebench-cluster-sweep-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_ranks_2_and_4_over_two_hosts(self):
        hostfile = CLUSTER.run("hostfile", "--slots", "1").stdout.strip()
        study = os.path.join(self.dir, "study")
        CLUSTER.run("run", cu.PY, os.path.join(cu.ROOT, "launch", "sweep"), "--hostfile", hostfile,
                    "--binary", cu.BIN, "--model", "fcn_r", "--mode", "weak", "--ranks", "2,4",
                    "--batch-size", "4", "--devices", "cpu", "--threads", "1", "--steps", "6",
                    "--warmup-steps", "1", "--out", study,
                    env={"OMPI_MCA_rmaps_base_oversubscribe": "1"})
        with open(os.path.join(study, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual([r["status"] for r in manifest["runs"]], ["completed"] * 2, manifest["runs"])
        expected = {2: (["h1", "h2"], [0, 0], 1), 4: (["h1", "h1", "h2", "h2"], [0, 1, 0, 1], 2)}
        for r in manifest["runs"]:
            run = cu.h5_summary(os.path.join(study, r["file"]))
            hosts, local, per_node = expected[r["ranks"]]
            self.assertEqual(run["hostname"], hosts)
            self.assertEqual(run["local_rank"], local)
            a = run["attrs"]
            self.assertEqual((a["world_size"], a["nodes"], a["ranks_per_node"]),
                             (r["ranks"], 2, per_node))
            self.assertEqual(a["param_checksums_agree"], 1)
        # The sweep recorded the settings its runs had (it keeps OMPI_MCA_* for each run).
        text = json.dumps(manifest)
        self.assertIn("OMPI_MCA_btl_tcp_if_include", text)
        self.assertIn("OMPI_MCA_mpi_yield_when_idle", text)


if __name__ == "__main__":
    cu.main()
