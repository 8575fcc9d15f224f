"""Shared helpers for the tests that run the scalebench binary, as CTest starts them.

CTest sets SCALEBENCH_BIN (the built binary) and SCALEBENCH_MPIEXEC (mpiexec), plus Open MPI's
consent to run as root and to oversubscribe (see tests/CMakeLists.txt).
"""
import os
import shutil
import subprocess
import unittest

BIN = os.environ.get("SCALEBENCH_BIN", "")
MPIEXEC = os.environ.get("SCALEBENCH_MPIEXEC") or shutil.which("mpiexec") or "mpiexec"


def require_binary(test_case_class):
    """Skips a suite run by hand without the binary (CTest always provides it)."""
    if not (BIN and os.access(BIN, os.X_OK)):
        return unittest.skip("SCALEBENCH_BIN is not set to the built scalebench binary")(test_case_class)
    return test_case_class


def run_scalebench(args, ranks=2, timeout=120, cwd=None):
    """Runs `mpiexec -n ranks scalebench args...`; returns CompletedProcess (text)."""
    cmd = [MPIEXEC, "-n", str(ranks)]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += ["--oversubscribe", BIN] + list(args)
    env = dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def step_schema():
    """`scalebench schema --json`: the one definition of the run file's /steps fields."""
    import json
    res = subprocess.run([BIN, "schema", "--json"], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"scalebench schema --json failed: {res.stdout}{res.stderr}")
    return json.loads(res.stdout)
