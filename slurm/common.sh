# Shared by the batch scripts in slurm/: where scalebench is, how to launch it inside the
# allocation, and passing Slurm's early-warning signal on to it. Sourced, not run.

SCALEBENCH_BIN="${SCALEBENCH_BIN:-$root/build/scalebench}"
if [ ! -x "$SCALEBENCH_BIN" ]; then
  echo "scalebench job: no binary at $SCALEBENCH_BIN: build it (scripts/build) or set SCALEBENCH_BIN" >&2
  exit 2
fi

# The words that start N ranks inside this allocation.
scalebench_launcher() {
  local n="$1"
  case "${SCALEBENCH_LAUNCHER:-mpirun}" in
    srun)
      # One task per rank; --gpus-per-task=1 where the job has GPUs, so rank i sees one GPU.
      local gpu=()
      [ -n "${SLURM_GPUS_PER_NODE:-}${SLURM_GPUS_ON_NODE:-}" ] && gpu=(--gpus-per-task=1)
      echo srun -n "$n" --mpi="${SCALEBENCH_SRUN_MPI:-pmix}" "${gpu[@]}" --kill-on-bad-exit=1 ;;
    mpirun)
      local root_flag=()
      [ "$(id -u)" -eq 0 ] && root_flag=(--allow-run-as-root)
      # Open MPI reads the node list and slots from Slurm; NCCL_*/UCX_* settings travel with -x.
      local exports=()
      for v in $(env | grep -oE '^(NCCL_|UCX_|FI_|OMP_|HDF5_)[A-Za-z0-9_]*' ); do exports+=(-x "$v"); done
      echo mpirun -np "$n" "${root_flag[@]}" "${exports[@]}" ;;
    *)
      echo "scalebench job: SCALEBENCH_LAUNCHER must be mpirun or srun" >&2; return 2 ;;
  esac
}

scalebench_job_info() {
  echo "scalebench job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-$(hostname)}:" \
       "${SLURM_NTASKS:-1} task(s), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# Runs a command in the background and passes USR1/USR2/TERM/INT to it. Bash runs a trap only
# between commands, so the script waits with `wait` (which a signal interrupts) in a loop.
# mpirun forwards SIGUSR1/2 to every rank; SIGTERM to mpirun would kill the ranks a second later,
# so a SIGTERM for this script is passed on as SIGUSR1, the graceful stop.
run_forwarding_signals() {
  "$@" &
  local child=$!
  local forward
  forward() { kill -s "$1" "$child" 2>/dev/null; }
  trap 'echo "scalebench job: SIGUSR1 received, asking the run to stop"; forward USR1' USR1
  trap 'forward USR2' USR2
  trap 'echo "scalebench job: SIGTERM received, asking the run to stop"; forward USR1' TERM
  trap 'forward USR1' INT
  local status
  while true; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break  # the wait ended because the child ended
  done
  trap - USR1 USR2 TERM INT
  return "$status"
}
