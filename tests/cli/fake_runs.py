"""Writes fake scalebench run files with h5py, following docs/hdf5-layout.md (schema 3 by
default, every recording mode; schema_version=1 or 2 writes the older layouts: 1 for mode all,
2 for the others) exactly, from hand-chosen numbers; with /ranks/node_index and
/buckets/spans_nodes as src/io/run_file.cpp writes them (node_datasets=False: as older files,
without them). Shared by the tests of results/ and of anything else reading run files.

    from fake_runs import write_run
    write_run(path, step_s=[[0.10, 0.12], [0.11, 0.10]], warmup=1, samples=32)
    write_run(path, step_s=..., record_ranks="sample:4")   # every rank's data given, 4 kept

record_ranks="stats" | "sample:K" (`--record-ranks`): the data are given for every rank as in
mode all; /steps and /buckets keep the columns of recorded_ranks() only (/steps attribute
`ranks`), and /rank_stats/<field> [n_steps, 5] is computed from every rank's values
(rank_stats_of), so that a test can compare a file of each mode with the same data in mode all.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import h5py
import numpy as np

ArrayLike = Union[float, int, Sequence[Any], np.ndarray]

# name, integer?, unit, description: as step_fields() in src/metrics/step_record.cpp
STEP_FIELDS = (
    ("step", True, "1", "global step index, 0-based, warm-up included"),
    ("warmup", True, "1", "1 for a warm-up step (recorded, excluded from summaries)"),
    ("epoch", True, "1", "epoch the step belongs to, 0-based"),
    ("samples", True, "samples", "samples this rank processed in the step"),
    ("loss", False, "1", "this rank's mean training loss over its batch"),
    ("step_s", False, "s", "whole step, wall clock"),
    ("data_s", False, "s", "waiting for the next batch"),
    ("forward_s", False, "s", "forward pass and loss"),
    ("backward_s", False, "s", "autograd backward; bucket allreduces start inside it"),
    ("comm_exposed_s", False, "s",
     "after backward returned, waiting for the last bucket allreduce (communication not hidden)"),
    ("optimizer_s", False, "s", "optimizer update"),
    ("comm_busy_s", False, "s", "sum of the step's bucket allreduce durations"),
    ("bytes_reduced", True, "B", "gradient bytes this rank allreduced in the step"),
    ("cpu_s", False, "s", "process CPU time (user+sys, all threads) spent during the step"),
    ("peak_rss_bytes", True, "B", "peak resident host memory of the process so far (VmHWM)"),
    ("device_peak_allocated_bytes", True, "B",
     "CUDA caching allocator peak allocated bytes; -1 where not measured"),
    ("device_peak_reserved_bytes", True, "B",
     "CUDA caching allocator peak reserved bytes; -1 where not measured"),
    ("device_used_bytes", True, "B", "device memory in use (cudaMemGetInfo); -1 where not measured"),
    ("end_time_s", False, "s", "end of the step, seconds since the run started on this rank"),
    ("control_s", False, "s",
     "after the step, outside step_s: the ranks' agreement on stopping and on the step count "
     "(one small allreduce), the only per-step control traffic"),
    ("buffer_sync_s", False, "s",
     "broadcast of the model's floating-point buffers (BatchNorm running statistics) from "
     "rank 0, after data and before forward; 0 without buffers"),
    ("buffer_sync_bytes", True, "B",
     "bytes of model buffers this rank broadcast or received in the step's buffer sync"),
    ("wall_s", False, "s",
     "start of this step to the start of the next on this rank (the last step: to the end of "
     "its control agreement); the phases, control_s and other_s add up to it"),
    ("other_s", False, "s",
     "wall_s outside the phases and control_s: recording the previous step (gather, file "
     "writes), memory probes, progress output"),
    ("start_time_s", False, "s",
     "start of the step, the origin of its /buckets times, on this rank's run clock (as "
     "end_time_s); /ranks/clock_offset_* align it to rank 0's"),
)
# fields only schema version 3 has (control_s is in files of versions 1-2 already)
V3_ONLY_FIELDS = ("buffer_sync_s", "buffer_sync_bytes", "wall_s", "other_s", "start_time_s")
SCHEMA_VERSION = 3
# the phases of a step in version 3, in order: step_s is their span
PHASES_V3 = ("data_s", "buffer_sync_s", "forward_s", "backward_s", "comm_exposed_s",
             "optimizer_s")
# root attributes of version 3 on the math libraries, with the values a CPU build writes
MATH_ATTRS = {
    "blas": "OpenBLAS 0.3.21 (openmp)",
    "blas_library": "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "lapack": "OpenBLAS 0.3.21 (openmp)",
    "lapack_library": "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "onednn": 1, "intra_op_threads": 1, "inter_op_threads": 1, "omp_max_threads": 1,
    "math_tf32_matmul": 0, "math_tf32_cudnn": 0, "math_cudnn_benchmark": 0,
    "math_cudnn_deterministic": 0, "autocast": "none",
}


def step_fields(schema_version: int = SCHEMA_VERSION):
    """The STEP_FIELDS rows a file of that schema version holds."""
    if schema_version >= 3:
        return STEP_FIELDS
    return tuple(row for row in STEP_FIELDS if row[0] not in V3_ONLY_FIELDS)


def legacy_version(record_ranks: Optional[str]) -> int:
    """The schema version the writer stamped before version 3: 1 for mode all, else 2."""
    return 1 if record_ranks in (None, "all") else 2

STR = h5py.string_dtype("utf-8")  # variable-length UTF-8, as the C++ writer stores strings
RANK_STATS_COLUMNS = ("min", "median", "max", "mean", "max_rank")


def recorded_ranks(record_ranks: Optional[str], world: int) -> Optional[np.ndarray]:
    """The world ranks a mode keeps, as the writer picks them: None for all (every column);
    [0] for stats; for sample:K, K' = min(K, world) ranks i * world // K'."""
    if record_ranks in (None, "all"):
        return None
    if record_ranks == "stats":
        return np.zeros(1, np.int64)
    if isinstance(record_ranks, str) and record_ranks.startswith("sample:"):
        k = min(int(record_ranks[len("sample:"):]), world)
        return (np.arange(k, dtype=np.int64) * world) // k
    raise ValueError(f"record_ranks {record_ranks!r}: expected all, stats or sample:K")


def rank_stats_of(data: np.ndarray) -> np.ndarray:
    """[n_steps, 5] float64 of [n_steps, world] values: min, median (of an even count the mean
    of the two middle values), max, mean, and the lowest rank holding the max."""
    a = np.asarray(data, dtype=np.float64)
    out = np.empty((a.shape[0], len(RANK_STATS_COLUMNS)))
    if a.shape[0] == 0:
        return out
    out[:, 0] = a.min(axis=1)
    out[:, 1] = np.median(a, axis=1)
    out[:, 2] = a.max(axis=1)
    out[:, 3] = a.mean(axis=1)
    out[:, 4] = np.argmax(a, axis=1)
    return out


def _grid(value: ArrayLike, n_steps: int, world: int, dtype: Any) -> np.ndarray:
    """A scalar, a per-rank row [world], or a full [n_steps, world] array."""
    a = np.asarray(value, dtype=dtype)
    if a.ndim == 0:
        return np.full((n_steps, world), a, dtype=dtype)
    if a.ndim == 1:
        return np.tile(a, (n_steps, 1)).astype(dtype)
    if a.shape != (n_steps, world):
        raise ValueError(f"expected shape ({n_steps}, {world}), got {a.shape}")
    return a


def _document(ds: h5py.Dataset, unit: Optional[str], description: str) -> None:
    if unit is not None:
        ds.attrs["unit"] = unit
    ds.attrs["description"] = description


def _appendable(group: h5py.Group, name: str, data: np.ndarray, dtype: Any) -> h5py.Dataset:
    rows = data.shape[1:]
    chunk_rows = 64
    # compressed per chunk, as src/io/run_file.cpp wrote the step datasets until 2026-12-02 (it
    # now writes them uncompressed, for durability): readers must take both, and the fakes of
    # large runs stay small on disk this way.
    filters = {"shuffle": True, "compression": "gzip", "compression_opts": 1}
    if all(r > 0 for r in rows):
        return group.create_dataset(name, data=data, dtype=dtype, maxshape=(None,) + rows,
                                    chunks=(chunk_rows,) + rows, **filters)
    # HDF5 has no zero-length chunk dimension (a run with no buckets): let that axis grow too.
    chunks = (chunk_rows,) + tuple(max(r, 1) for r in rows)
    return group.create_dataset(name, data=data, dtype=dtype,
                                maxshape=(None,) * data.ndim, chunks=chunks, **filters)


def _bucket_grid(bucket_duration_s: Optional[ArrayLike], n_steps: int, world: int,
                 nb: int) -> np.ndarray:
    if bucket_duration_s is None:
        return np.zeros((n_steps, world, nb))
    d = np.asarray(bucket_duration_s, dtype=np.float64)
    dur = np.full((n_steps, world, nb), d) if d.ndim == 0 else d
    if dur.shape != (n_steps, world, nb):
        raise ValueError(f"bucket_duration_s: expected ({n_steps}, {world}, {nb}), got "
                         f"{dur.shape}")
    return dur


def _step_tables(step: np.ndarray, first_step: int, warm: np.ndarray, samples: ArrayLike,
                 phases: Optional[Mapping[str, ArrayLike]], dur: np.ndarray,
                 bucket_bytes: Sequence[int], threads: int, steps_per_epoch: int,
                 end_offset: Any, peak_rss_bytes: ArrayLike,
                 device_peak_allocated_bytes: ArrayLike,
                 device_peak_reserved_bytes: ArrayLike, buffer_sync_bytes: ArrayLike = 0):
    """Every /steps field of the rows [first_step, first_step + len(step)): (floats, ints).

    Defaults (each overridden by `phases`): buffer_sync_s, control_s and other_s 0; data,
    forward, backward, comm_exposed, optimizer split step_s - buffer_sync_s 10/30/40/10/10%, so
    that the phases add up to step_s; wall_s = step_s + control_s + other_s (the phases'
    span, the control agreement and the rest of the wall time)."""
    n_steps, world = step.shape
    per_rank_samples = _grid(samples, n_steps, world, np.int64)
    given = {name: _grid(v, n_steps, world, np.float64) for name, v in (phases or {}).items()}
    buffer_sync = given.get("buffer_sync_s", np.zeros((n_steps, world)))
    defaults = {"data_s": 0.1, "forward_s": 0.3, "backward_s": 0.4, "comm_exposed_s": 0.1,
                "optimizer_s": 0.1}
    values: Dict[str, np.ndarray] = {name: (step - buffer_sync) * share
                                     for name, share in defaults.items()}
    values.update(given)
    values["step_s"] = step
    values["buffer_sync_s"] = buffer_sync
    values.setdefault("control_s", np.zeros((n_steps, world)))
    values.setdefault("other_s", np.zeros((n_steps, world)))
    values.setdefault("wall_s", step + values["control_s"] + values["other_s"])
    values.setdefault("comm_busy_s", dur.sum(axis=2))
    values.setdefault("loss", np.full((n_steps, world), 2.3))
    values.setdefault("cpu_s", step * threads)
    values.setdefault("end_time_s", np.cumsum(step, axis=0) + end_offset)
    values.setdefault("start_time_s", values["end_time_s"] - step)
    index = np.arange(first_step, first_step + n_steps, dtype=np.int64)
    ints: Dict[str, np.ndarray] = {
        "step": np.tile(index[:, None], (1, world)),
        "warmup": np.tile(np.asarray(warm, np.int64)[:, None], (1, world)),
        "epoch": np.tile((index // max(steps_per_epoch, 1))[:, None], (1, world)),
        "samples": per_rank_samples,
        "bytes_reduced": np.full((n_steps, world), int(sum(bucket_bytes)), np.int64),
        "peak_rss_bytes": _grid(peak_rss_bytes, n_steps, world, np.int64),
        "device_peak_allocated_bytes": _grid(device_peak_allocated_bytes, n_steps, world, np.int64),
        "device_peak_reserved_bytes": _grid(device_peak_reserved_bytes, n_steps, world, np.int64),
        "device_used_bytes": np.full((n_steps, world), -1, np.int64),
        "buffer_sync_bytes": _grid(buffer_sync_bytes, n_steps, world, np.int64),
    }
    return values, ints


def _bucket_rows(step_index: np.ndarray, every: int) -> np.ndarray:
    """Rows whose step s has s % every == 0: the rows `--record-buckets every:K` keeps."""
    return np.nonzero(np.asarray(step_index) % every == 0)[0]


def _write_bucket_rows(buckets: h5py.Group, dur: np.ndarray, steps: np.ndarray,
                       every: Optional[int], start: Optional[np.ndarray] = None,
                       ready: Optional[np.ndarray] = None) -> None:
    """Creates /buckets/start_s (zeros unless given), duration_s, ready_s where given (and,
    with `every`, /buckets/step and the attribute) holding the given rows."""
    _document(_appendable(buckets, "start_s", np.zeros_like(dur) if start is None else start,
                          np.float64), "s",
              "start of the bucket's gradient allreduce, relative to the step's start")
    _document(_appendable(buckets, "duration_s", dur, np.float64), "s",
              "duration of the bucket's gradient allreduce")
    if ready is not None:
        _document(_appendable(buckets, "ready_s", ready, np.float64), "s",
                  "when the bucket's last gradient arrived, relative to the step's start; NaN "
                  "where not measured")
    if every is not None:
        _document(_appendable(buckets, "step", steps, np.int64), "1",
                  "the /steps/step value of each bucket row")
        buckets.attrs["every"] = np.int64(every)


def write_run(
    path: str,
    *,
    step_s: Optional[ArrayLike] = None,
    n_steps: int = 8,
    world_size: int = 1,
    warmup: Union[int, Sequence[int]] = 0,
    samples: ArrayLike = 32,
    phases: Optional[Mapping[str, ArrayLike]] = None,
    bucket_bytes: Sequence[int] = (),
    bucket_duration_s: Optional[ArrayLike] = None,
    peak_rss_bytes: ArrayLike = 100 * 1024 * 1024,
    device_peak_allocated_bytes: ArrayLike = -1,
    device_peak_reserved_bytes: ArrayLike = -1,
    buffer_sync_bytes: ArrayLike = 0,
    model: str = "mlp",
    mode: str = "weak",
    device: str = "cpu",
    threads: int = 1,
    status: str = "completed",
    format_name: str = "scalebench-run",
    schema_version: Optional[int] = None,
    record_ranks: Optional[str] = None,
    steps_per_epoch: int = 100,
    device_name: Optional[Union[str, Sequence[str]]] = None,
    hostnames: Optional[Sequence[str]] = None,
    cpu_affinity: Union[str, Sequence[str]] = "0-1",
    nodes: int = 1,
    ranks_per_node: Optional[int] = None,
    node_index: Optional[Sequence[int]] = None,
    spans_nodes: Optional[Sequence[int]] = None,
    node_datasets: bool = True,
    bucket_every: int = 1,
    bucket_step_dataset: bool = True,
    tag: str = "",
    attrs: Optional[Mapping[str, Any]] = None,
    config: Optional[Mapping[str, Any]] = None,
    events: Sequence[Mapping[str, Any]] = (),
    bucket_start_s: Optional[ArrayLike] = None,
    bucket_ready_s: Optional[ArrayLike] = None,
    clock_offset_start_s: Optional[ArrayLike] = None,
    clock_offset_end_s: Optional[ArrayLike] = None,
    clock_offset_uncertainty_s: ArrayLike = 1e-5,
    clock_sync_s: Optional[Sequence[float]] = None,
    events_origin_run_clock_s: Optional[float] = None,
) -> str:
    """Writes one run file at `path` (add `.partial` yourself for a partial one).

    step_s: [n_steps, world_size] seconds (default 0.1 everywhere, shape from n_steps and
    world_size). warmup: the number of leading warm-up steps, or one 0/1 flag per step.
    samples, peak_rss_bytes, device_*: scalar, per rank, or [n_steps, world_size].
    phases: data_s, forward_s, backward_s, comm_exposed_s, optimizer_s (and any other
    float step field: buffer_sync_s, control_s, other_s, wall_s, ...) as scalar / per rank /
    full arrays; defaults: buffer_sync_s, control_s, other_s 0, the five phases split
    step_s - buffer_sync_s 10/30/40/10/10%, wall_s = step_s + control_s + other_s (consistent:
    the phases add up to step_s, and with control_s and other_s to wall_s, as the trainer's).
    buffer_sync_bytes: int per rank-step (scalar, per rank or full), default 0.
    bucket_duration_s: [n_steps, world_size, n_buckets] or a scalar for all.
    bucket_start_s, bucket_ready_s: the same shapes, /buckets/start_s (default zeros) and
    /buckets/ready_s (default: not written, as files before it); relative to each step's
    start_time_s (set it, and end_time_s, through `phases`).
    clock_offset_start_s, clock_offset_end_s: per rank, each rank's run clock minus rank 0's
    (/ranks/clock_offset_{start,end}_s, with clock_offset_uncertainty_s, a scalar or per rank,
    as both uncertainties, and clock_origin_monotonic_s consistent with the start offsets);
    clock_sync_s = (start, end): the root attributes clock_sync_start_s, clock_sync_end_s
    (default (0, the last end_time_s + 1)). Without clock_offset_start_s none of them is
    written (as files before them); without clock_offset_end_s no end estimate (a stuck run).
    events_origin_run_clock_s: the root attribute placing /events/time_s on rank 0's run
    clock (default: not written, as files before it).
    nodes, ranks_per_node: the layout, ranks filling nodes in order (ranks_per_node default:
    world / nodes rounded up); it sets the root attributes and, unless given, hostnames
    (node0, node1, ...), /ranks/node_index (rank's node), /ranks/local_rank and
    /buckets/spans_nodes (1 per bucket where nodes > 1, as the trainer writes it).
    node_datasets=False leaves out /ranks/node_index and /buckets/spans_nodes, as in files
    written before they existed.
    bucket_every=K: /buckets/start_s and duration_s hold rows only for the steps s with
    s % K == 0 (`--record-buckets every:K`), taken from the full bucket_duration_s; the
    /steps rows (comm_busy_s included) stay those of every step. /buckets/step lists each
    bucket row's step and /buckets carries attribute `every`, as every new file does (K = 1
    too). bucket_step_dataset=False writes the older layout without them, bucket rows aligned
    one-to-one with /steps rows (K must be 1).
    record_ranks: None (no attribute: mode all, as files before the recording modes), "all"
    (the attribute, the layout as None), "stats" or "sample:K": the arguments still give every
    rank's data; /steps and /buckets keep the recorded ranks' columns (attribute `ranks`),
    /rank_stats holds the statistics over every rank. schema_version: default 3 (every mode,
    with the version-3 step fields and root attributes); 1 or 2 writes the older layout
    without buffer_sync_s, buffer_sync_bytes, wall_s, other_s, the math attributes, and with
    summary_comm_overlap for summary_comm_concurrent_share (legacy_version(record_ranks) is the
    version the writer then stamped); a version above 3 writes the version-3 layout.
    device_name: /ranks/device_name, one for every rank (default "NVIDIA H100" on cuda,
    "cpu: Test CPU" on cpu) or a list, one per rank (mixed hardware). cpu_affinity:
    /ranks/cpu_affinity, one list for every rank (default "0-1") or one per rank.
    attrs: root attributes to add or override (after the defaults), e.g. intra_op_threads,
    blas, blas_library, tool_version, git_revision, version_<library>.
    """
    if step_s is None:
        step = np.full((n_steps, world_size), 0.1)
    else:
        step = np.atleast_2d(np.asarray(step_s, dtype=np.float64))
    n_steps, world = step.shape
    rpn = ranks_per_node or -(-world // max(nodes, 1))
    rank_node = (np.asarray(node_index, dtype=np.int64) if node_index is not None
                 else np.minimum(np.arange(world) // rpn, max(nodes, 1) - 1).astype(np.int64))

    if isinstance(warmup, (int, np.integer)):
        warm = np.zeros(n_steps, np.int64)
        warm[: int(warmup)] = 1
    else:
        warm = np.asarray(warmup, dtype=np.int64)
    n_warm = int(warm.sum())

    nb = len(bucket_bytes)
    dur = _bucket_grid(bucket_duration_s, n_steps, world, nb)
    bstart = None if bucket_start_s is None else _bucket_grid(bucket_start_s, n_steps, world, nb)
    bready = None if bucket_ready_s is None else _bucket_grid(bucket_ready_s, n_steps, world, nb)
    if bucket_every < 1 or (not bucket_step_dataset and bucket_every != 1):
        raise ValueError("bucket_every must be >= 1, and 1 without /buckets/step")
    values, ints = _step_tables(
        step, 0, warm, samples, phases, dur, bucket_bytes, threads, steps_per_epoch, 0.0,
        peak_rss_bytes, device_peak_allocated_bytes, device_peak_reserved_bytes,
        buffer_sync_bytes)
    per_rank_samples = ints["samples"]
    batch = int(per_rank_samples[0, 0]) if n_steps else 0
    global_batch = int(per_rank_samples[0].sum()) if n_steps else 0
    run_config = {
        "model": model, "dataset": "synthetic", "device": device, "backend": "mpi",
        "batch_size": batch if mode == "weak" else None,
        "global_batch": global_batch if mode == "strong" else None,
        "steps": n_steps - n_warm, "epochs": None, "warmup_steps": n_warm, "optimizer": "",
        "lr": None, "lr_decay": None, "momentum": 0.0, "seed": 42, "threads": threads,
        "bucket_mb": 25.0, "overlap": True, "output": path, "overwrite": False, "tag": tag,
        "comm_timeout_s": 300.0, "flush_every": 20, "synthetic_batches": 8,
    }
    if config is not None:
        run_config.update(config)

    keep = recorded_ranks(record_ranks, world)
    if schema_version is None:
        schema_version = SCHEMA_VERSION
    v3 = schema_version >= 3
    i64 = np.int64
    root: Dict[str, Any] = {
        "format": format_name,
        "schema_version": i64(schema_version),
        "status": status,
        "tool": "scalebench",
        "tool_version": "0.1.0",
        "git_revision": "unknown",
        "command_line": f"mpirun -np {world} scalebench train --model {model}",
        "config": json.dumps(run_config),
        "start_time": "2026-11-22T13:45:05Z",
        "model": model,
        "dataset": "synthetic",
        "model_source": "test",
        "input_shape": "1x28x28",
        "params_total": i64(1000),
        "params_trainable": i64(1000),
        "macs_per_sample": i64(5000),
        "flops_per_sample": i64(10000),
        "world_size": i64(world),
        "nodes": i64(nodes),
        "ranks_per_node": i64(rpn),
        "batch_per_rank": i64(batch),
        "global_batch": i64(global_batch),
        "scaling_mode": mode,
        "device": device,
        "backend": "nccl" if device == "cuda" else "mpi",
        "precision": "fp32",
        "optimizer": "sgd",
        "lr": np.float64(0.01),
        "lr_decay": np.float64(0.0),
        "overlap": i64(1),
        "bucket_mb": np.float64(25.0),
        "n_buckets": i64(nb),
        "warmup_steps": i64(n_warm),
        "steps": i64(n_steps),
        "steps_per_epoch": i64(steps_per_epoch),
        "threads": i64(threads),
        "tag": tag,
        "seed": i64(42),
        "comm_timeout_s": np.float64(300.0),
        "flush_every": i64(20),
        "slurm_job_id": "",
        "slurm_nodelist": "",
    }
    for lib in ("scalebench", "libtorch", "cuda_runtime", "cuda_driver", "cudnn", "nccl", "mpi",
                "hdf5"):
        root[f"version_{lib}"] = "none"
    if status != "running":
        root["end_time"] = "2026-11-22T13:50:05Z"
        root["param_checksums_agree"] = i64(1)
    if status == "completed":
        measured = warm == 0
        slowest = step[measured].max(axis=1) if measured.any() else np.zeros(1)
        med = float(np.median(slowest))
        share = (values["comm_exposed_s"][measured] / step[measured]).mean(axis=1)
        root.update({
            "summary_measured_steps": i64(int(measured.sum())),
            "summary_median_step_s": np.float64(med),
            "summary_throughput_samples_per_s": np.float64(global_batch / med if med else 0.0),
            "summary_exposed_comm_share": np.float64(np.median(share) if share.size else 0.0),
            ("summary_comm_concurrent_share" if v3 else "summary_comm_overlap"):
                np.float64(0.0),
            "summary_peak_rss_bytes": i64(int(ints["peak_rss_bytes"].max(initial=0))),
        })
    if v3:
        root.update({k: (i64(v) if isinstance(v, int) else v) for k, v in MATH_ATTRS.items()})
    if record_ranks is not None:
        root["record_ranks"] = record_ranks
    root.update(attrs or {})
    cols = slice(None) if keep is None else keep

    with h5py.File(path, "w") as f:
        for k, v in root.items():
            f.attrs[k] = v
        steps = f.create_group("steps")
        if keep is not None:
            steps.attrs["ranks"] = keep
            stats = f.create_group("rank_stats")
            stats.attrs["columns"] = np.array(RANK_STATS_COLUMNS, dtype=object)
        for name, is_int, unit, doc in step_fields(schema_version):
            data = ints[name] if is_int else np.asarray(values[name], dtype=np.float64)
            ds = _appendable(steps, name, data[:, cols], np.int64 if is_int else np.float64)
            _document(ds, unit, doc)
            if keep is not None:
                _document(_appendable(stats, name, rank_stats_of(data), np.float64), unit,
                          "per step, statistics of the field over every rank")

        buckets = f.create_group("buckets")
        rows = _bucket_rows(np.arange(n_steps), bucket_every)
        _write_bucket_rows(buckets, dur[rows][:, cols], rows.astype(np.int64),
                           bucket_every if bucket_step_dataset else None,
                           None if bstart is None else bstart[rows][:, cols],
                           None if bready is None else bready[rows][:, cols])
        _document(buckets.create_dataset("bytes", data=np.asarray(bucket_bytes, np.int64)),
                  "B", "gradient bytes in the bucket")
        _document(buckets.create_dataset("num_params", data=np.ones(nb, np.int64)), "1",
                  "parameter tensors in the bucket")
        if node_datasets:
            spans = (np.asarray(spans_nodes, np.int64) if spans_nodes is not None
                     else np.full(nb, 1 if nodes > 1 else 0, np.int64))
            _document(buckets.create_dataset("spans_nodes", data=spans), "1",
                      "1 if the bucket's allreduce joins ranks of more than one node (its "
                      "traffic crosses the network), 0 if it stays within one node")

        ranks = f.create_group("ranks")
        dev_name = device_name or ("NVIDIA H100" if device == "cuda" else "cpu: Test CPU")
        dev_names = [dev_name] * world if isinstance(dev_name, str) else list(dev_name)
        affinities = ([cpu_affinity] * world if isinstance(cpu_affinity, str)
                      else list(cpu_affinity))
        hosts = list(hostnames) if hostnames else [f"node{i}" for i in rank_node]
        local = np.array([int(np.count_nonzero(rank_node[:r] == rank_node[r]))
                          for r in range(world)], dtype=np.int64)
        columns = (
            ("hostname", np.array(hosts, dtype=object), STR, None, "host the rank ran on"),
            ("local_rank", local, np.int64, "1", "index of the rank among the ranks on its node"),
        )
        if node_datasets:
            columns += (("node_index", rank_node, np.int64, "1",
                         "the rank's node, 0..nodes-1 in the order of each node's lowest rank"),)
        columns += (
            ("device_name", np.array(dev_names, dtype=object), STR, None,
             "device the rank trained on: GPU model, or \"cpu: \" and the CPU model"),
            ("device_bus_id", np.array(["" if device == "cpu" else f"0000:{r:02x}:00.0"
                                        for r in range(world)], dtype=object), STR, None,
             "PCI bus id of the rank's GPU; empty on CPU"),
            ("cpu_affinity", np.array(affinities, dtype=object), STR, None,
             "CPUs the rank's process could run on, e.g. 0-3,8"),
            ("pid", np.arange(1000, 1000 + world, dtype=np.int64), np.int64, "1",
             "process id of the rank"),
        )
        if status != "running":
            columns += (("param_checksum", np.array(["abc123"] * world, dtype=object), STR,
                         None, "checksum (hex) of the rank's model parameters and buffers at "
                         "the end of the run; equal on every rank when the replicas stayed "
                         "identical"),)
        if clock_offset_start_s is not None:
            uncertainty = np.broadcast_to(np.asarray(clock_offset_uncertainty_s, np.float64),
                                          (world,))
            start_offsets = np.broadcast_to(np.asarray(clock_offset_start_s, np.float64),
                                            (world,))
            sync = clock_sync_s or (0.0, float(np.max(values["end_time_s"], initial=0.0)) + 1.0)
            f.attrs["clock_sync_start_s"] = np.float64(sync[0])
            if events_origin_run_clock_s is not None:
                f.attrs["events_origin_run_clock_s"] = np.float64(events_origin_run_clock_s)
            columns += (
                ("clock_offset_start_s", start_offsets, np.float64, "s",
                 "this rank's run clock minus rank 0's at the same instant, estimated at the "
                 "start of the run"),
                ("clock_offset_start_uncertainty_s", uncertainty, np.float64, "s",
                 "bound of clock_offset_start_s's error"),
                # one host's monotonic clock: origin(r) = origin(0) - offset(r)
                ("clock_origin_monotonic_s", 1000.0 - start_offsets, np.float64, "s",
                 "origin of the rank's run clock on its host's monotonic clock"),
            )
            if clock_offset_end_s is not None:
                f.attrs["clock_sync_end_s"] = np.float64(sync[1])
                columns += (
                    ("clock_offset_end_s", np.broadcast_to(np.asarray(
                        clock_offset_end_s, np.float64), (world,)), np.float64, "s",
                     "this rank's run clock minus rank 0's at the same instant, estimated at "
                     "the end of the run"),
                    ("clock_offset_end_uncertainty_s", uncertainty, np.float64, "s",
                     "bound of clock_offset_end_s's error"),
                )
        for name, data, dtype, unit, doc in columns:
            _document(ranks.create_dataset(name, data=data, dtype=dtype), unit, doc)

        ev = f.create_group("events")
        ev_cols = (
            ("time_s", np.float64, "s", "when the event happened, seconds since the run started",
             0.0),
            ("rank", np.int64, "1", "rank that reported the event", 0),
            ("step", np.int64, "1", "step the event belongs to; -1 if none", -1),
            ("kind", STR, None, "kind of event, e.g. failed, checksum_mismatch", ""),
            ("message", STR, None, "what happened, in words", ""),
        )
        for name, dtype, unit, doc, default in ev_cols:
            data = np.array([e.get(name, default) for e in events],
                            dtype=object if dtype is STR else dtype)
            ds = ev.create_dataset(name, data=data, dtype=dtype, maxshape=(None,), chunks=(64,))
            _document(ds, unit, doc)
    return path


def append_steps(
    path: str,
    *,
    step_s: ArrayLike,
    warmup: Union[int, Sequence[int]] = 0,
    samples: ArrayLike = 32,
    phases: Optional[Mapping[str, ArrayLike]] = None,
    bucket_duration_s: Optional[ArrayLike] = None,
    peak_rss_bytes: ArrayLike = 100 * 1024 * 1024,
    device_peak_allocated_bytes: ArrayLike = -1,
    device_peak_reserved_bytes: ArrayLike = -1,
    buffer_sync_bytes: ArrayLike = 0,
) -> str:
    """Appends steps to a file write_run made, as the trainer's flushes do: the arguments as
    write_run's, for the new rows only (step_s [rows, world_size]: every rank, in any
    recording mode; warmup counts or flags within them). Bucket rows follow the file's layout
    (`every`, /buckets/step), /steps and /buckets columns its recorded ranks, /rank_stats is
    appended to where present. The root attribute `steps` is updated; the summary_*
    attributes are left as they were."""
    with h5py.File(path, "a") as f:
        st, b = f["steps"], f["buckets"]
        first, width = st["step_s"].shape
        world = int(f.attrs.get("world_size", width))
        kept_ranks = st.attrs.get("ranks")
        cols = slice(None) if kept_ranks is None else np.asarray(kept_ranks, np.int64)
        stats = f["rank_stats"] if "rank_stats" in f else None
        step = np.asarray(step_s, dtype=np.float64).reshape(-1, world)
        rows = step.shape[0]
        warm = np.zeros(rows, np.int64)
        if isinstance(warmup, (int, np.integer)):
            warm[: int(warmup)] = 1
        else:
            warm[:] = np.asarray(warmup, dtype=np.int64)
        bucket_bytes = b["bytes"][()]
        dur = _bucket_grid(bucket_duration_s, rows, world, len(bucket_bytes))
        end = st["end_time_s"][first - 1] if first else 0.0
        if kept_ranks is not None and first:  # every rank continues from rank 0's end time
            end = np.full(world, end[0])
        values, ints = _step_tables(
            step, first, warm, samples, phases, dur, bucket_bytes,
            int(f.attrs.get("threads", 1)), int(f.attrs.get("steps_per_epoch", 100)), end,
            peak_rss_bytes, device_peak_allocated_bytes, device_peak_reserved_bytes,
            buffer_sync_bytes)
        for name, is_int, _, _ in STEP_FIELDS:
            if name not in st:  # an older layout's file
                continue
            data = ints[name] if is_int else values[name]
            ds = st[name]
            ds.resize(first + rows, axis=0)
            ds[first:] = data[:, cols]
            if stats is not None:
                stats[name].resize(first + rows, axis=0)
                stats[name][first:] = rank_stats_of(data)
        every = b.attrs.get("every")
        index = np.arange(first, first + rows, dtype=np.int64)
        keep = _bucket_rows(index, int(every)) if every is not None else np.arange(rows)
        old = b["duration_s"].shape[0]
        rows_kept = dur[keep][:, cols]
        parts = [("start_s", np.zeros_like(rows_kept)), ("duration_s", rows_kept)]
        if "ready_s" in b:  # a file given bucket_ready_s: not measured in the new rows
            parts.append(("ready_s", np.full_like(rows_kept, np.nan)))
        for name, data in parts:
            b[name].resize(old + len(keep), axis=0)
            b[name][old:] = data
        if "step" in b:
            b["step"].resize(old + len(keep), axis=0)
            b["step"][old:] = index[keep]
        f.attrs["steps"] = np.int64(first + rows)
    return path


def write_run_blocks(path: str, n_steps: int, block_steps: int,
                     make_block: Callable[[int, int], Mapping[str, Any]], **kwargs: Any) -> str:
    """A run of n_steps written block_steps rows at a time, so that a large fake file never
    sits whole in memory: make_block(start, stop) gives write_run's per-step arguments
    (step_s, warmup, samples, phases, bucket_duration_s, peak_rss_bytes, ...) for the rows
    [start, stop); kwargs are write_run's other arguments (world_size from step_s)."""
    for start in range(0, max(n_steps, 1), block_steps):
        block = dict(make_block(start, min(start + block_steps, n_steps)))
        if start == 0:
            write_run(path, **kwargs, **block)
        else:
            append_steps(path, **block)
    return path
