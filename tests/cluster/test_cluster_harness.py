"""scripts/cluster itself: --help, refusals (not root, twice up, bad arguments), status/shape/link,
the network rule (the machine's own namespace gets no cluster address), and clean-up: `down`
removes every namespace, process and file, is idempotent, and works after `up` was killed or
interrupted half-way."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import cluster_util as cu

NAME = "ctharn"
CLUSTER = cu.Cluster(NAME, 2, "--no-slurm", "--link", "100mbit")


def leftovers(name):
    """What of cluster `name` is still on the machine: namespaces, state directory, processes."""
    ns = [l.split()[0] for l in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                               text=True).stdout.splitlines()
          if l.startswith(f"sbc-{name}-")]
    state = os.path.join(os.environ.get("SCALEBENCH_CLUSTER_DIR", "/run/scalebench-cluster"), name)
    found = ns + ([state] if os.path.exists(state) else [])
    # Every process the harness starts (daemons, exec, mpirun and what it starts) carries the
    # cluster's SLURM_CONF in its environment.
    marker = f"SLURM_CONF={state}/".encode()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in env and "scripts/cluster" not in cmd:
                found.append(f"pid {pid}: {cmd}")
    return found


class Harness(unittest.TestCase):
    def cluster(self, *args, name=NAME, **kw):
        return subprocess.run([cu.PY, cu.CLUSTER, "--name", name, *args], capture_output=True,
                              text=True, timeout=120, **kw)

    def tearDown(self):
        CLUSTER.down(quiet=True)

    def test_help_starts_with_examples(self):
        p = subprocess.run([cu.PY, cu.CLUSTER, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        self.assertTrue(any("scripts/cluster up" in l for l in lines[:4]), lines[:4])
        self.assertIn("netem", p.stdout)

    def test_refuses_when_not_root(self):
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            cu.PY, cu.CLUSTER, "--name", NAME, "up", "1"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("root", p.stderr)
        self.assertEqual(leftovers(NAME), [])

    def test_up_status_shape_link_down(self):
        CLUSTER.up()
        # The network rule: no cluster address in this machine's namespace, only in the head.
        ours = subprocess.run(["ip", "-4", "-br", "addr"], capture_output=True, text=True).stdout
        status = self.cluster("status").stdout
        subnet = status.split(",")[1].strip().rsplit(".", 1)[0]
        self.assertNotIn(subnet + ".", ours)
        self.assertIn("rate 100Mbit", status)
        self.assertEqual(self.cluster("exec", "h2", "hostname").stdout.strip(), "h2")
        self.assertEqual(self.cluster("exec", "head", "hostname").stdout.strip(), "head")
        # Twice up: refused in one line, the running cluster untouched.
        p = self.cluster("up", "2", "--no-slurm")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.cluster("exec", "h1", "hostname").stdout.strip(), "h1")
        # Reshape and take a link down and up.
        self.assertEqual(self.cluster("shape", "h1", "1gbit").returncode, 0)
        self.assertIn("rate 1Gbit", self.cluster("status").stdout)
        self.assertEqual(self.cluster("shape", "h1", "off").returncode, 0)
        self.assertEqual(self.cluster("link", "h2", "down").returncode, 0)
        self.assertIn("h2", self.cluster("status").stdout)
        self.assertIn("link DOWN", self.cluster("status").stdout)
        self.assertEqual(self.cluster("link", "h2", "up").returncode, 0)
        p = self.cluster("mpirun", "-np", "2", "hostname")
        self.assertEqual(sorted(p.stdout.split()), ["h1", "h2"], p.stdout + p.stderr)
        self.assertEqual(self.cluster("shape", "h9", "1gbit").returncode, 1)
        # A stray process in a host (a rank that outlived its mpirun): down ends it too.
        stray = subprocess.Popen([cu.PY, cu.CLUSTER, "--name", NAME, "exec", "h1", "sleep", "600"])
        time.sleep(0.5)
        self.assertEqual(self.cluster("down").returncode, 0)
        self.assertEqual(stray.wait(timeout=20), -signal.SIGTERM)
        self.assertEqual(leftovers(NAME), [])
        p = self.cluster("down")
        self.assertEqual(p.returncode, 0)
        self.assertIn("nothing was up", p.stdout)

    def test_down_after_up_was_killed_or_interrupted(self):
        for sig in (signal.SIGKILL, signal.SIGINT):
            for delay in (0.2, 0.6):
                up = subprocess.Popen([cu.PY, cu.CLUSTER, "--name", NAME, "up", "8"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                time.sleep(delay)
                up.send_signal(sig)
                out, err = up.communicate(timeout=60)
                if sig == signal.SIGINT and up.returncode != 0:
                    # up cleans up after itself when interrupted.
                    self.assertEqual(leftovers(NAME), [], err)
                self.assertEqual(self.cluster("down").returncode, 0)
                self.assertEqual(leftovers(NAME), [], (sig, delay))

    def test_refuses_when_a_kernel_feature_is_missing(self):
        # A tc that fails as it does where the kernel has no tbf: `up` refuses in one line,
        # before making anything, and leaves nothing behind (the probe namespace included).
        with tempfile.TemporaryDirectory() as fake:
            with open(os.path.join(fake, "tc"), "w") as f:
                f.write("#!/bin/sh\necho 'Error: Specified qdisc kind is unknown.' >&2\nexit 2\n")
            os.chmod(os.path.join(fake, "tc"), 0o755)
            env = dict(os.environ, PATH=fake + os.pathsep + os.environ["PATH"])
            p = self.cluster("up", "2", "--no-slurm", env=env)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("lacks tbf", p.stderr)
        self.assertEqual(leftovers(NAME), [])

    def test_bad_arguments_create_nothing(self):
        for args in (["up", "2", "--link", "fast"], ["up", "0"], ["up", "2", "--subnet", "192.168.1"],
                     ["up", "2", "--tcp-retries2", "0"], ["up", "2", "--tcp-retries2", "16"]):
            p = self.cluster(*args)
            self.assertEqual(p.returncode, 1, args)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertEqual(leftovers(NAME), [], args)
        self.assertNotEqual(self.cluster("status").returncode, 0)
        p = subprocess.run([cu.PY, cu.CLUSTER, "--name", "Bad_Name", "status"], capture_output=True,
                           text=True)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    cu.main(needs_binary=False)
