"""The project's Slurm scripts on an emulated 2-host Slurm (one slurmd per host namespace):
slurm/run.sbatch over 2 nodes with mpirun (Open MPI takes the allocation from Slurm and starts
its daemon on the other host with srun), the same with srun --mpi=pmix as the launcher, and
slurm/study-nodes.sh over 1 and 2 nodes followed by results/report.
"""
import csv
import os
import subprocess
import time

import cluster_util as cu

CLUSTER = cu.Cluster("ctslurm", 2)


def setUpModule():
    CLUSTER.up()


def tearDownModule():
    CLUSTER.down()


class SlurmAcrossHosts(cu.WithTempDir):
    PREFIX = "scalebench-cluster-slurm-"

    def sbatch_run(self, name, launcher):
        out = self.path(name + ".h5")
        log = self.path(name + "-%j.out")
        p = CLUSTER.run("sbatch", "--parsable", "-W", "-N", "2", "--ntasks-per-node", "2",
                        "--time", "5", f"--output={log}", "slurm/run.sbatch", "--model",
                        "cifar10_cnn", *cu.TINY, "--output", out,
                        env={"SCALEBENCH_BIN": cu.BIN, "SCALEBENCH_LAUNCHER": launcher},
                        check=False, timeout=300)
        job = p.stdout.strip().split(";")[0]
        logs = ""
        for f in sorted(os.listdir(self.dir)):
            if f.startswith(name) and f.endswith(".out"):
                with open(os.path.join(self.dir, f)) as log_file:
                    logs += log_file.read()
        self.assertEqual(p.returncode, 0, f"job {job} failed: {p.stderr}\n{logs[-3000:]}")
        run = cu.h5_summary(out)
        a = run["attrs"]
        self.assertEqual(a["status"], "completed")
        self.assertEqual(a["slurm_job_id"], job)
        self.assertEqual((a["world_size"], a["nodes"], a["ranks_per_node"]), (4, 2, 2))
        self.assertIn(a["slurm_nodelist"], ("h[1-2]", "h1,h2"))
        self.assertEqual(run["hostname"], ["h1", "h1", "h2", "h2"])
        self.assertEqual(run["local_rank"], [0, 1, 0, 1])
        self.assertEqual(len(set(run["param_checksum"])), 1)

    def test_1_run_sbatch_mpirun_two_nodes(self):
        self.sbatch_run("mpirun", "mpirun")

    def test_2_run_sbatch_srun_pmix_two_nodes(self):
        self.sbatch_run("srun", "srun")

    def test_3_study_nodes_and_report(self):
        study = self.path("study")
        CLUSTER.run("run", "slurm/study-nodes.sh", "--nodes", "1,2", "--ranks-per-node", "1",
                    "--out", study, "--", "--model", "cifar10_cnn", "--mode", "weak",
                    "--batch-size", "4", "--devices", "cpu", "--threads", "1", "--steps", "6",
                    "--warmup-steps", "1",
                    env={"SCALEBENCH_BIN": cu.BIN,
                         "SBATCH_ARGS": f"--output={self.path('study-%j.out')} --time=5"})
        deadline = time.time() + 300
        while time.time() < deadline:
            if not CLUSTER.run("squeue", "-h").stdout.strip():
                break
            time.sleep(2)
        self.assertFalse(CLUSTER.run("squeue", "-h").stdout.strip(), "study jobs still queued")
        for n in (1, 2):
            files = [f for f in os.listdir(os.path.join(study, f"nodes-{n}")) if f.endswith(".h5")]
            self.assertEqual(len(files), 1, (n, files))
            run = cu.h5_summary(os.path.join(study, f"nodes-{n}", files[0]))
            self.assertEqual(run["attrs"]["nodes"], n)
            self.assertEqual(run["hostname"], ["h1", "h2"][:n])
        p = subprocess.run([os.path.join(cu.ROOT, "results", "report"), study],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(study, "summary.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertIn("nodes", rows[0], rows[0].keys())
        # One row per run and (where the report groups them) one per configuration: each kind
        # has a row for 1 node and one for 2.
        for kind in sorted({r.get("kind", "") for r in rows}):
            nodes = sorted(int(r["nodes"]) for r in rows if r.get("kind", "") == kind)
            self.assertEqual(nodes, [1, 2], (kind, rows))


if __name__ == "__main__":
    cu.main(needs_slurm=True)
