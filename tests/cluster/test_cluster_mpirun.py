"""scalebench under `scripts/cluster mpirun` on 2 emulated hosts x 2 ranks: the run file sees 2
nodes, the right hostnames and local ranks; the gradients really crossed the hosts' links (eth0
byte counters inside the hosts); and the parameters after the run equal those of 1 rank with the
whole global batch (the same samples: synthetic sample i depends only on the seed and i). Also
`scalebench allreduce` in every scope across the hosts, and the World's node invariants
(tests/mpi/test_world.cpp) with ranks really on two hosts.
"""
import os

import numpy as np

import cluster_util as cu

CLUSTER = cu.Cluster("ctmpi", 2, "--no-slurm")
TOLERANCE = 1e-5  # relative L2 of all parameters, as tests/mpi/test_data_parallel.cpp


def setUpModule():
    CLUSTER.up()


def tearDownModule():
    CLUSTER.down()


class TwoHostsTwoRanks(cu.WithTempDir):
    PREFIX = "scalebench-cluster-"

    def train(self, np_, per_node, batch, name):
        out, model = self.path(name + ".h5"), self.path(name + ".pt")
        CLUSTER.run("mpirun", "-np", str(np_), "--ranks-per-node", str(per_node), cu.BIN, "train",
                    "--model", "fcn_r", "--optimizer", "sgd", "--seed", "7", "--device", "cpu",
                    "--threads", "1", "--steps", "6", "--warmup-steps", "1",
                    "--batch-size", str(batch), "--quiet", "--output", out, "--save", model)
        return out, model

    def test_layout_traffic_and_equivalence(self):
        before = {h: CLUSTER.link_bytes(h) for h in ("h1", "h2")}
        out, model = self.train(4, 2, 4, "np4")
        after = {h: CLUSTER.link_bytes(h) for h in ("h1", "h2")}
        run = cu.h5_summary(out)
        a = run["attrs"]
        self.assertEqual((a["world_size"], a["nodes"], a["ranks_per_node"]), (4, 2, 2))
        self.assertEqual(run["hostname"], ["h1", "h1", "h2", "h2"])
        self.assertEqual(run["local_rank"], [0, 1, 0, 1])
        self.assertEqual(run["node_index"], [0, 0, 1, 1])
        self.assertTrue(run["spans_nodes"] and all(x == 1 for x in run["spans_nodes"]), run["spans_nodes"])
        self.assertEqual(len(set(run["param_checksum"])), 1, run["param_checksum"])
        self.assertEqual(a["param_checksums_agree"], 1)

        # Each element of an allreduced gradient on one host depends on the other host's ranks,
        # so at least the gradient bytes of every step must enter and leave each host's link.
        reduced = sum(run["bytes_reduced"])
        self.assertGreater(reduced, 0)
        for h in ("h1", "h2"):
            tx, rx = (after[h][i] - before[h][i] for i in (0, 1))
            self.assertGreaterEqual(tx, reduced, f"{h} sent {tx} B, gradients were {reduced} B")
            self.assertGreaterEqual(rx, reduced, f"{h} received {rx} B, gradients were {reduced} B")
            print(f"{h} eth0: sent {tx} B, received {rx} B; gradients allreduced: {reduced} B")

        # 1 rank, 4x the batch: the same samples, so the same parameters after the same steps.
        _, ref_model = self.train(1, 1, 16, "np1")
        got, ref = cu.saved_parameters(model), cu.saved_parameters(ref_model)
        self.assertTrue(ref, "no tensors found in the saved model")
        self.assertEqual(sorted(got), sorted(ref))
        diff = np.sqrt(sum(float(np.sum((got[k].astype(np.float64) - ref[k]) ** 2)) for k in ref))
        norm = np.sqrt(sum(float(np.sum(ref[k].astype(np.float64) ** 2)) for k in ref))
        self.assertLessEqual(diff / norm, TOLERANCE, f"relative L2 difference {diff / norm:.3g}")
        print(f"parameters: {len(ref)} tensors, relative L2 difference 4 ranks on 2 hosts vs "
              f"1 rank: {diff / norm:.3g}")

    def test_allreduce_scopes_across_hosts(self):
        out = self.path("ar.h5")
        p = CLUSTER.run("mpirun", "-np", "4", "--ranks-per-node", "2", cu.BIN, "allreduce",
                        "--device", "cpu", "-b", "1K", "-e", "256K", "-f", "16", "-w", "1", "-n", "3",
                        "-o", out)
        # Several nodes with several ranks each: auto sweeps within, across, and all.
        for scope in ("intra", "inter", "all"):
            self.assertIn(f"# scope {scope}:", p.stdout)
        import h5py
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["scopes"], "intra,inter,all")
            self.assertEqual(int(f.attrs["nodes"]), 2)
            rows = list(zip(f["sizes/scope"].asstr()[()], f["sizes/group_size"][()],
                            f["sizes/groups"][()], f["sizes/wrong"][()]))
            self.assertEqual([r[0] for r in rows], ["intra"] * 3 + ["inter"] * 3 + ["all"] * 3)
            shape = {r[0]: (int(r[1]), int(r[2])) for r in rows}
            self.assertEqual(shape, {"intra": (2, 2), "inter": (2, 1), "all": (4, 1)})
            self.assertEqual({int(r[3]) for r in rows}, {0}, "every element exact in every scope")
            inter = f["iterations/inter/1024"][()]
            # Across nodes: each node's first rank (0 on h1, 2 on h2) takes part, the others not.
            self.assertTrue(np.all(inter[:, [0, 2]] > 0))
            self.assertTrue(np.all(np.isnan(inter[:, [1, 3]])))
            self.assertTrue(np.all(f["iterations/intra/1024"][()] > 0))

    def test_world_invariants_across_hosts(self):
        mpi_tests = os.path.join(os.path.dirname(cu.BIN), "tests", "mpi_tests")
        if not os.access(mpi_tests, os.X_OK):
            self.skipTest(f"no {mpi_tests}")
        p = CLUSTER.run("mpirun", "-np", "4", "--ranks-per-node", "2", mpi_tests, "--gtest_filter=World*")
        self.assertIn("PASSED", p.stdout)
        self.assertNotIn("FAILED", p.stdout)


if __name__ == "__main__":
    cu.main()
