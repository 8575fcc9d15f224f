#!/usr/bin/env bash
# End-to-end test against a real Slurm: starts a one-node cluster on this machine (munged,
# slurmctld, slurmd, as root, on localhost, in a private directory and on private ports), submits
# the project's own batch scripts with sbatch, and checks the HDF5 files they leave:
#   1. slurm/sweep.sbatch: a 1/2/4-rank study in one allocation; every run completed, each file
#      carries the Slurm job id and node list; results/report turns it into tables and plots.
#   2. slurm/run.sbatch: a long run that gets Slurm's early-warning signal (scancel --batch
#      --signal=USR1, what --signal=B:USR1@T sends); the file is flushed and closed as
#      "interrupted", with its steps, before the job ends.
# Exit 77 (CTest: skipped) where it cannot run: not root, or Slurm/munge not installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${SCALEBENCH_BIN:-$root/build/scalebench}"
py=/usr/bin/python3

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; dump_logs; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "needs root to start slurmctld and slurmd"
for c in slurmctld slurmd sbatch squeue scancel sinfo; do command -v "$c" >/dev/null || skip "$c not installed (apt-get install slurm-wlm)"; done
[ -x /usr/sbin/munged ] || skip "munged not installed (apt-get install munge)"
[ -x "$bin" ] || fail "no scalebench binary at $bin"

work="$(mktemp -d /tmp/scalebench-slurm.XXXXXX)"
export SLURM_CONF="$work/slurm.conf"
dump_logs() {
  for f in "$work"/*.out "$work"/slurmctld.log "$work"/slurmd.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
  done
}
cleanup() {
  scancel --full $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
  local pids=() p pid i
  for p in slurmd slurmctld; do
    if [ -f "$work/$p.pid" ]; then
      pid="$(cat "$work/$p.pid")"
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  # The daemons write their state files while they shut down: removing the directory before they
  # are gone failed once ("Directory not empty") on a loaded machine. Wait for those pids (15 s,
  # then SIGKILL), and retry the removal.
  for pid in "${pids[@]}"; do
    for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  for i in 1 2 3 4 5; do rm -rf "$work" 2>/dev/null && break; sleep 1; done
  [ ! -e "$work" ] || { echo "slurm: could not remove $work" >&2; return 1; }
}
trap cleanup EXIT

# munge: one key, one daemon (shared with any cluster already on this machine).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
# The machine's munged, found by its socket: another munged (an emulated cluster's, with its own
# socket and key) may be running too and must not be mistaken for it.
if ! { [ -S /run/munge/munge.socket.2 ] && munge -n </dev/null >/dev/null 2>&1; }; then
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  runuser -u munge -- /usr/sbin/munged
fi

host="$(hostname -s)"
ctl_port=$((20000 + $$ % 20000)); d_port=$((ctl_port + 1))
mkdir -p "$work/state" "$work/spool"
# Four CPUs on a 2-core machine (config_overrides): the 4-rank runs oversubscribe, as in the tests.
cat >"$SLURM_CONF" <<CONF
ClusterName=scalebench-test
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=4 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -i
slurmd
for _ in $(seq 60); do
  state="$(sinfo -h -o %T 2>/dev/null || true)"
  [ "$state" = "idle" ] && break
  sleep 1
done
[ "$state" = "idle" ] || fail "the Slurm node did not come up (state: '$state')"
echo "slurm: one-node cluster up on $host (ports $ctl_port/$d_port)"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export SCALEBENCH_BIN="$bin"
cd "$root"

# --- 1. a study in one allocation ---------------------------------------------------------------
study="$work/study"
job=$(sbatch --parsable -W -n 4 --output="$work/sweep-%j.out" slurm/sweep.sbatch \
        --model cifar10_cnn --ranks 1,2,4 --mode weak --batch-size 4 --threads 1 --steps 6 \
        --warmup-steps 1 --out "$study") || fail "the sweep job failed"
echo "slurm: sweep job $job done"
"$py" - "$study" "$job" "$host" <<'PY' || fail "sweep output"
import json, os, sys, h5py
study, job, host = sys.argv[1:]
manifest = json.load(open(os.path.join(study, "manifest.json")))
assert [r["status"] for r in manifest["runs"]] == ["completed"] * 3, manifest["runs"]
assert manifest["slurm"]["SLURM_JOB_ID"] == job, manifest["slurm"]
for r in manifest["runs"]:
    with h5py.File(os.path.join(study, r["file"]), "r") as f:
        assert f.attrs["status"] == "completed"
        assert f.attrs["world_size"] == r["ranks"]
        assert f.attrs["slurm_job_id"] == job, f.attrs["slurm_job_id"]
        assert host in f.attrs["slurm_nodelist"], f.attrs["slurm_nodelist"]
        assert f["steps/step_s"].shape == (6, r["ranks"])
print("slurm: 3 run files completed with job id", job)
PY
results/report "$study" >/dev/null || fail "results/report on the Slurm study"
[ -s "$study/summary.csv" ] && [ -s "$study/throughput_speedup.png" ] || fail "report outputs missing"

# --- 2. the early-warning signal ------------------------------------------------------------------
out="$work/long.h5"
job=$(sbatch --parsable -n 2 --output="$work/long-%j.out" slurm/run.sbatch --model cifar10_cnn \
        --device cpu --steps 3000 --warmup-steps 1 --batch-size 4 --threads 1 --flush-every 2 \
        --quiet --output "$out")
steps_in() {
  HDF5_USE_FILE_LOCKING=FALSE "$py" -c 'import h5py,sys; print(h5py.File(sys.argv[1],"r")["steps/step"].shape[0])' "$1" 2>/dev/null || echo 0
}
for _ in $(seq 180); do
  [ -f "$out.partial" ] && [ "$(steps_in "$out.partial")" -ge 4 ] && break
  sleep 1
done
[ "$(steps_in "$out.partial")" -ge 4 ] || fail "the long run recorded no steps"
scancel --batch --signal=USR1 "$job"
for _ in $(seq 60); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || fail "job $job still running 60 s after the signal"
grep -q "SIGUSR1 received" "$work"/long-"$job".out || fail "the batch script did not see the signal"
"$py" - "$out" "$job" <<'PY' || fail "interrupted run file"
import os, sys, h5py
out, job = sys.argv[1:]
assert not os.path.exists(out), "an interrupted run must not get the final name"
with h5py.File(out + ".partial", "r") as f:
    assert f.attrs["status"] == "interrupted", f.attrs["status"]
    assert f.attrs["slurm_job_id"] == job
    n = f["steps/step"].shape[0]
    assert n >= 4, n
    kinds = list(f["events/kind"].asstr()[:])
    assert "interrupted" in kinds, kinds
print(f"slurm: job {job} interrupted by the early warning with {n} steps recorded")
PY
echo "slurm: all checks passed"
