"""Reading one scalebench run file (docs/hdf5-layout.md, schema version 1) into a RunData."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import h5py
import numpy as np

FORMAT_NAME = "scalebench-run"
SCHEMA_VERSION = 1  # the newest layout this reader understands

# /steps fields as documented; only these are required, extra ones (added in later
# compatible versions) are read too.
STEP_FIELDS = (
    "step", "warmup", "epoch", "samples", "loss", "step_s", "data_s", "forward_s",
    "backward_s", "comm_exposed_s", "optimizer_s", "comm_busy_s", "bytes_reduced", "cpu_s",
    "peak_rss_bytes", "device_peak_allocated_bytes", "device_peak_reserved_bytes",
    "device_used_bytes", "end_time_s",
)
RANK_FIELDS = ("hostname", "local_rank", "device_name", "device_bus_id", "cpu_affinity", "pid",
               "param_checksum")
EVENT_FIELDS = ("time_s", "rank", "step", "kind", "message")

RUN_SUFFIXES = (".h5", ".hdf5")
PARTIAL_SUFFIX = ".partial"


class RunFileError(Exception):
    """The file is not a run file this reader can use (foreign, newer schema, unreadable)."""


class IncompleteRun(Exception):
    """The file is a run file, but of a run that did not complete; it is skipped, not used."""


@dataclass
class RunData:
    path: str
    attrs: Dict[str, Any]              # every root attribute, as Python scalars
    config: Dict[str, Any]             # the `config` attribute, parsed
    status: str
    schema_version: int
    model: str
    mode: str                          # "weak" or "strong" ("unknown" if it cannot be told)
    device: str                        # "cpu" or "cuda"
    threads: int
    world_size: int
    steps: Dict[str, np.ndarray]       # name -> [n_steps, world_size]
    bucket_start_s: np.ndarray         # [n_steps, world_size, n_buckets]
    bucket_duration_s: np.ndarray      # [n_steps, world_size, n_buckets]
    bucket_bytes: np.ndarray           # [n_buckets] int64
    bucket_num_params: np.ndarray      # [n_buckets] int64
    # [n_buckets] int64, 1 where the bucket's allreduce crossed nodes; None in files written
    # before /buckets/spans_nodes existed (the layout allows it to be absent).
    bucket_spans_nodes: Optional[np.ndarray] = None
    ranks: Dict[str, np.ndarray] = field(default_factory=dict)  # name -> [world_size]
    events: Dict[str, np.ndarray] = field(default_factory=dict)  # name -> [n_events]

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def n_steps(self) -> int:
        return int(self.steps["step_s"].shape[0])

    @property
    def device_name(self) -> str:
        names = self.ranks.get("device_name")
        return str(names[0]) if names is not None and len(names) else ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def epoch_samples(self) -> Optional[int]:
        """Samples in one epoch (steps_per_epoch x global_batch), or None if not recorded."""
        spe = self.attrs.get("steps_per_epoch")
        gb = self.attrs.get("global_batch")
        if isinstance(spe, int) and isinstance(gb, int) and spe > 0 and gb > 0:
            return spe * gb
        return None


def is_partial_path(path: str) -> bool:
    return path.endswith(PARTIAL_SUFFIX)


def is_run_path(path: str) -> bool:
    base = path[: -len(PARTIAL_SUFFIX)] if is_partial_path(path) else path
    return base.endswith(RUN_SUFFIXES)


def _py(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _read_column(dataset: h5py.Dataset) -> np.ndarray:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.array(dataset.asstr()[()], dtype=object)
    return dataset[()]


def _mode(attrs: Dict[str, Any], config: Dict[str, Any], path: str) -> str:
    mode = attrs.get("scaling_mode")
    if mode in ("weak", "strong"):
        return mode
    # The trainer runs strong scaling exactly when a global batch was given.
    if "global_batch" in config:
        return "strong" if config["global_batch"] is not None else "weak"
    words = re.split(r"[^a-z]+", os.path.basename(path).lower())
    for candidate in ("weak", "strong"):
        if candidate in words:
            return candidate
    return "unknown"


def _open(path: str, locking: Any) -> h5py.File:
    try:
        return h5py.File(path, "r", locking=locking)
    except TypeError:  # h5py < 3.5 has no locking argument
        return h5py.File(path, "r")


def check_header(f: h5py.File, path: str) -> None:
    fmt = _py(f.attrs.get("format"))
    if fmt != FORMAT_NAME:
        raise RunFileError(f"{path}: not a scalebench run file (format attribute is "
                           f"{fmt!r}, expected {FORMAT_NAME!r})")
    version = _py(f.attrs.get("schema_version"))
    if not isinstance(version, int):
        raise RunFileError(f"{path}: schema_version attribute missing or not an integer")
    if version > SCHEMA_VERSION:
        raise RunFileError(f"{path}: schema_version {version} is newer than this reader "
                           f"understands ({SCHEMA_VERSION}); update scalebench_results")


def load_run(path: str, allow_incomplete: bool = False) -> RunData:
    """Loads one run file.

    Raises RunFileError for a file that is not a usable run file, and IncompleteRun for a
    `.partial` file or one whose status is not "completed" (unless allow_incomplete).
    """
    partial = is_partial_path(path)
    try:
        # A .partial of a live run is locked by its writer; reading it without the lock is
        # only for telling the user what state it is in.
        f = _open(path, locking=False if partial else "best-effort")
    except OSError as e:
        if partial and not allow_incomplete:
            raise IncompleteRun(f"{path}: partial run file (unreadable: {e})") from e
        raise RunFileError(f"{path}: cannot be read as HDF5 ({e})") from e
    with f:
        check_header(f, path)
        attrs = {k: _py(v) for k, v in f.attrs.items()}
        status = str(attrs.get("status", "unknown"))
        if not allow_incomplete:
            if partial:
                raise IncompleteRun(f"{path}: partial run file (status {status})")
            if status != "completed":
                raise IncompleteRun(f"{path}: run status is {status!r}, not 'completed'")
        try:
            config = json.loads(attrs.get("config", "{}") or "{}")
        except json.JSONDecodeError as e:
            raise RunFileError(f"{path}: config attribute is not valid JSON ({e})") from e
        if not isinstance(config, dict):
            raise RunFileError(f"{path}: config attribute is not a JSON object")

        for group in ("steps", "buckets"):
            if group not in f:
                raise RunFileError(f"{path}: missing group /{group}")
        steps = {}
        for name, ds in f["steps"].items():
            steps[name] = _read_column(ds)
        missing = [n for n in STEP_FIELDS if n not in steps]
        if missing:
            raise RunFileError(f"{path}: missing /steps datasets: {', '.join(missing)}")
        n_steps, world = steps["step_s"].shape if steps["step_s"].ndim == 2 else (None, None)
        if world is None:
            raise RunFileError(f"{path}: /steps/step_s is not 2-D [step, rank]")
        for name, arr in steps.items():
            if arr.shape[:2] != (n_steps, world):
                raise RunFileError(f"{path}: /steps/{name} has shape {arr.shape}, expected "
                                   f"({n_steps}, {world})")
        ws_attr = attrs.get("world_size")
        if isinstance(ws_attr, int) and ws_attr != world:
            raise RunFileError(f"{path}: world_size attribute {ws_attr} disagrees with /steps "
                               f"width {world}")

        b = f["buckets"]
        bucket_bytes = b["bytes"][()] if "bytes" in b else np.zeros(0, np.int64)
        num_params = b["num_params"][()] if "num_params" in b else np.zeros(0, np.int64)
        nb = len(bucket_bytes)
        spans_nodes = None
        if "spans_nodes" in b:
            spans_nodes = np.asarray(b["spans_nodes"][()], dtype=np.int64).reshape(-1)
            if spans_nodes.shape != (nb,):
                raise RunFileError(f"{path}: /buckets/spans_nodes has shape {spans_nodes.shape}, "
                                   f"expected ({nb},)")
        start = b["start_s"][()] if "start_s" in b else np.zeros((n_steps, world, nb))
        duration = b["duration_s"][()] if "duration_s" in b else np.zeros((n_steps, world, nb))
        for name, arr in (("start_s", start), ("duration_s", duration)):
            if arr.shape != (n_steps, world, nb):
                raise RunFileError(f"{path}: /buckets/{name} has shape {arr.shape}, expected "
                                   f"({n_steps}, {world}, {nb})")

        ranks = {}
        if "ranks" in f:
            for name, ds in f["ranks"].items():
                ranks[name] = _read_column(ds)
        events = {}
        if "events" in f:
            for name, ds in f["events"].items():
                events[name] = _read_column(ds)

    threads = attrs.get("threads", config.get("threads", 0))
    return RunData(
        path=path,
        attrs=attrs,
        config=config,
        status=status,
        schema_version=int(attrs["schema_version"]),
        model=str(attrs.get("model", config.get("model", "unknown"))),
        mode=_mode(attrs, config, path),
        device=str(attrs.get("device", config.get("device", "unknown"))),
        threads=int(threads) if isinstance(threads, (int, float)) else 0,
        world_size=int(world),
        steps=steps,
        bucket_start_s=np.asarray(start, dtype=np.float64),
        bucket_duration_s=np.asarray(duration, dtype=np.float64),
        bucket_bytes=np.asarray(bucket_bytes, dtype=np.int64),
        bucket_num_params=np.asarray(num_params, dtype=np.int64),
        bucket_spans_nodes=spans_nodes,
        ranks=ranks,
        events=events,
    )


def find_run_files(paths: List[str]) -> List[str]:
    """Run files (and .partial ones) among `paths`: directories are searched recursively,
    files are taken as given."""
    found: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if is_run_path(full):
                        found.append(full)
        else:
            found.append(p)
    return found
