#!/usr/bin/env bash
# A multi-node study: one batch job per node count, each running slurm/sweep.sbatch over the rank
# counts that fill it, results under STUDY/nodes-<N>/ (one manifest per job, so jobs never write
# the same file); `results/report STUDY` reads them all.
#
#   slurm/study-nodes.sh --nodes 1,2,4 --ranks-per-node 4 --gpus-per-node 4 --time 01:00:00 \
#       --out runs/modelB-nodes -- --model modelB --mode weak --batch-size 64 -- --device cuda
#
# Options before the first `--` are this script's; after it, launch/sweep's (without --ranks and
# --out, which this script sets: N nodes x ranks-per-node ranks). Extra sbatch options: SBATCH_ARGS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes="" per_node="" gpus="" time_limit="" out="" dry=0
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --ranks-per-node) per_node="$2"; shift 2 ;;
    --gpus-per-node) gpus="$2"; shift 2 ;;
    --time) time_limit="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "study-nodes: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$nodes" ] && [ -n "$per_node" ] && [ -n "$out" ] || {
  echo "study-nodes: --nodes, --ranks-per-node and --out are required (see --help)" >&2; exit 2; }
[[ "$per_node" =~ ^[1-9][0-9]*$ ]] || { echo "study-nodes: --ranks-per-node must be a positive integer" >&2; exit 2; }
IFS=, read -ra node_counts <<<"$nodes"
for n in "${node_counts[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "study-nodes: --nodes must list positive integers, got '$n'" >&2; exit 2; }
done

cd "$root"
for n in "${node_counts[@]}"; do
  cmd=(sbatch -N "$n" --ntasks-per-node="$per_node" --job-name="scalebench-n$n")
  [ -n "$gpus" ] && cmd+=(--gpus-per-node="$gpus")
  [ -n "$time_limit" ] && cmd+=(--time="$time_limit")
  # shellcheck disable=SC2206
  cmd+=(${SBATCH_ARGS:-} slurm/sweep.sbatch --ranks "$((n * per_node))" --ranks-per-node "$per_node"
        --out "$out/nodes-$n" "$@")
  if [ "$dry" = 1 ]; then echo "${cmd[*]}"; else "${cmd[@]}"; fi
done
