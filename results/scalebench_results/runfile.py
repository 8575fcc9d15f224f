"""Reading one scalebench run file (docs/hdf5-layout.md, schema version 1) into a RunData.

load_run reads the attributes, /ranks and /events, and checks the shapes of /steps and
/buckets without reading them: their rows are read later in slices along the step axis
(RunData.iter_step_blocks, iter_bucket_blocks), a bounded number of bytes at a time, so that a
run file of any length is analysed in bounded memory. RunData.steps and bucket_duration_s still
give whole datasets, read from the file when asked for (small files, tests).

Bucket rows: files with /buckets/step (every file since `--record-buckets every:K`, K = 1
included) hold bucket rows only for the steps listed there, /buckets attribute `every` = K;
older files lack both, and their bucket row i is /steps row i.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

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

# Rows read at a time: a multiple of the writer's 64-row chunks, within BLOCK_BYTES for the
# datasets read together (never under one chunk, never over MAX_BLOCK_ROWS).
CHUNK_ROWS = 64
BLOCK_BYTES = 16 * 1024 * 1024
MAX_BLOCK_ROWS = 4096

RUN_SUFFIXES = (".h5", ".hdf5")
PARTIAL_SUFFIX = ".partial"


class RunFileError(Exception):
    """The file is not a run file this reader can use (foreign, newer schema, unreadable)."""


class IncompleteRun(Exception):
    """The file is a run file, but of a run that did not complete; it is skipped, not used."""


def block_rows(row_bytes: int, budget: int = BLOCK_BYTES) -> int:
    """Rows per read for rows of `row_bytes` bytes (all datasets read together)."""
    rows = budget // max(int(row_bytes), 1) // CHUNK_ROWS * CHUNK_ROWS
    return int(min(MAX_BLOCK_ROWS, max(CHUNK_ROWS, rows)))


class _LazyColumns(Mapping):
    """name -> whole dataset of one group, read from the file on each access (no cache)."""

    def __init__(self, path: str, group: str, names: Sequence[str], locking: Any):
        self._path, self._group, self._names, self._locking = path, group, list(names), locking

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        with _open(self._path, self._locking) as f:
            return _read_column(f[self._group][name])

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


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
    # name -> [n_steps, world_size], read whole from the file on access: analyses stream with
    # iter_step_blocks instead.
    steps: Mapping[str, np.ndarray]
    n_steps: int
    bucket_bytes: np.ndarray           # [n_buckets] int64
    bucket_num_params: np.ndarray      # [n_buckets] int64
    # [n_buckets] int64, 1 where the bucket's allreduce crossed nodes; None in files written
    # before /buckets/spans_nodes existed (the layout allows it to be absent).
    bucket_spans_nodes: Optional[np.ndarray] = None
    ranks: Dict[str, np.ndarray] = field(default_factory=dict)  # name -> [world_size]
    events: Dict[str, np.ndarray] = field(default_factory=dict)  # name -> [n_events]
    # Rows of /buckets/start_s and duration_s (n_steps in older files; 0 where they are absent).
    n_bucket_rows: int = 0
    # /buckets attribute `every` (K of --record-buckets every:K); None in older files.
    bucket_every: Optional[int] = None
    has_bucket_step: bool = False      # /buckets/step present (bucket rows name their steps)
    locking: Any = "best-effort"
    cache: Dict[str, Any] = field(default_factory=dict, repr=False)  # for analysis

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def n_buckets(self) -> int:
        return int(len(self.bucket_bytes))

    def _open(self) -> h5py.File:
        return _open(self.path, self.locking)

    def _buckets(self, name: str) -> np.ndarray:
        shape = (self.n_bucket_rows, self.world_size, self.n_buckets)
        if self.n_bucket_rows == 0:
            return np.zeros(shape)
        with self._open() as f:
            return np.asarray(f["buckets"][name][()], dtype=np.float64)

    @property
    def bucket_start_s(self) -> np.ndarray:
        """[bucket rows, world_size, n_buckets], read whole (see bucket_step)."""
        return self._buckets("start_s")

    @property
    def bucket_duration_s(self) -> np.ndarray:
        """[bucket rows, world_size, n_buckets], read whole (see bucket_step)."""
        return self._buckets("duration_s")

    @property
    def bucket_step(self) -> np.ndarray:
        """The /steps/step value of each bucket row: /buckets/step, or in older files the
        step of the /steps row of the same index."""
        with self._open() as f:
            if self.has_bucket_step:
                return np.asarray(f["buckets/step"][()], dtype=np.int64)
        return self.step_index()[: self.n_bucket_rows]

    def step_index(self) -> np.ndarray:
        """[n_steps] int64: /steps/step of each row (rank 0's column), read in slices."""
        out = np.empty(self.n_steps, np.int64)
        for start, block in self.iter_step_blocks(("step",), columns=slice(0, 1)):
            out[start:start + len(block["step"])] = block["step"][:, 0]
        return out

    def iter_step_blocks(self, fields: Sequence[str], rows: Optional[int] = None,
                         columns: Any = slice(None)) -> Iterator[Tuple[int, Dict[str, np.ndarray]]]:
        """(first row, {field: [rows, world_size] (or the given columns)}) for consecutive
        slices of the /steps rows, the file held open throughout."""
        fields = list(fields)
        if rows is None:
            rows = block_rows(8 * self.world_size * max(len(fields), 1))
        with self._open() as f:
            ds = [f["steps"][name] for name in fields]
            for start in range(0, self.n_steps, rows):
                stop = min(start + rows, self.n_steps)
                yield start, {name: d[start:stop, columns] for name, d in zip(fields, ds)}

    def iter_bucket_blocks(self, rows: Optional[int] = None
                           ) -> Iterator[Tuple[int, np.ndarray, Optional[np.ndarray]]]:
        """(first row, duration_s [rows, world_size, n_buckets], /buckets/step of those rows
        or None in older files) for consecutive slices of the bucket rows."""
        if self.n_bucket_rows == 0 or self.n_buckets == 0:
            return
        if rows is None:
            rows = block_rows(8 * self.world_size * self.n_buckets)
        with self._open() as f:
            b = f["buckets"]
            dur = b["duration_s"]
            step = b["step"] if self.has_bucket_step else None
            for start in range(0, self.n_bucket_rows, rows):
                stop = min(start + rows, self.n_bucket_rows)
                yield (start, np.asarray(dur[start:stop], dtype=np.float64),
                       None if step is None else np.asarray(step[start:stop], dtype=np.int64))

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
        locking = False if partial else "best-effort"
        f = _open(path, locking=locking)
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
        shapes = {name: ds.shape for name, ds in f["steps"].items()}
        missing = [n for n in STEP_FIELDS if n not in shapes]
        if missing:
            raise RunFileError(f"{path}: missing /steps datasets: {', '.join(missing)}")
        if len(shapes["step_s"]) != 2:
            raise RunFileError(f"{path}: /steps/step_s is not 2-D [step, rank]")
        n_steps, world = shapes["step_s"]
        for name, shape in shapes.items():
            if shape[:2] != (n_steps, world):
                raise RunFileError(f"{path}: /steps/{name} has shape {shape}, expected "
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
        has_bucket_step = "step" in b
        every = _py(b.attrs.get("every"))
        if every is not None and (not isinstance(every, int) or every < 1):
            raise RunFileError(f"{path}: /buckets attribute every is {every!r}, expected an "
                               f"integer >= 1")
        if has_bucket_step:
            if len(b["step"].shape) != 1:
                raise RunFileError(f"{path}: /buckets/step has shape {b['step'].shape}, "
                                   f"expected [bucket rows]")
            bucket_rows = int(b["step"].shape[0])
        else:
            bucket_rows = n_steps  # older files: bucket row i is /steps row i
        present = [name for name in ("start_s", "duration_s") if name in b]
        for name in present:
            if b[name].shape != (bucket_rows, world, nb):
                what = "/buckets/step rows" if has_bucket_step else "steps"
                raise RunFileError(f"{path}: /buckets/{name} has shape {b[name].shape}, "
                                   f"expected ({bucket_rows}, {world}, {nb}) ({what})")
        if "duration_s" not in b:
            bucket_rows = 0  # nothing recorded: as all-zero durations, no bandwidth

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
        steps=_LazyColumns(path, "steps", list(shapes), locking),
        n_steps=int(n_steps),
        bucket_bytes=np.asarray(bucket_bytes, dtype=np.int64),
        bucket_num_params=np.asarray(num_params, dtype=np.int64),
        bucket_spans_nodes=spans_nodes,
        ranks=ranks,
        events=events,
        n_bucket_rows=bucket_rows,
        bucket_every=every,
        has_bucket_step=has_bucket_step,
        locking=locking,
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
