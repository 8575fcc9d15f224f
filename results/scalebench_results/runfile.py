"""Reading one scalebench run file (docs/hdf5-layout.md, schema versions 1, 2 and 3) into a RunData.

load_run reads the attributes, /ranks and /events, and checks the shapes of /steps and
/buckets without reading them: their rows are read later in slices along the step axis
(RunData.iter_step_blocks, iter_bucket_blocks), a bounded number of bytes at a time, so that a
run file of any length is analysed in bounded memory. RunData.steps and bucket_duration_s still
give whole datasets, read from the file when asked for (small files, tests).

Bucket rows: files with /buckets/step (every file since `--record-buckets every:K`, K = 1
included) hold bucket rows only for the steps listed there, /buckets attribute `every` = K;
older files lack both, and their bucket row i is /steps row i.

Recorded ranks (`--record-ranks all|stats|sample:K`, root attribute `record_ranks`; absent:
"all"): files in mode `all` (schema_version 1) hold every rank's column in /steps and /buckets.
Files in modes `stats` and `sample:K` (schema_version 2) hold the columns of the world ranks
listed in the /steps attribute `ranks` only (ascending, rank 0 first: [0] for stats; for
sample:K, K' = min(K, world_size) ranks i * world_size // K'), and /rank_stats/<field>
[n_steps, 5] for every /steps field: min, median, max, mean over ALL ranks of that step and
max_rank, the lowest rank holding the max (group attribute `columns`). The root `world_size`
stays the job's; /ranks columns stay one entry per world rank. RunData.recorded_ranks names the
/steps columns (0..world_size-1 where the attribute is absent).

Schema versions: 1 (mode all) and 2 (stats, sample:K) are the older layouts; version 3 is every
new file whatever its mode (its mode is told by record_ranks and /steps attribute `ranks`, as in
version 2). Version 3 requires the /steps fields of STEP_FIELDS_V3 besides STEP_FIELDS:
control_s (the per-step stop/step-count agreement, which files of versions 1-2 may already
hold: read where present), buffer_sync_s and buffer_sync_bytes (the broadcast of the model's
buffers, which versions 1-2 counted inside forward_s), wall_s (start of a step to the start of
the next on that rank: the phases, control_s and other_s add up to it), other_s (wall time
outside the phases and control_s) and start_time_s (the step's start on the rank's run clock).
RunData.has_wall says whether wall_s is there. The root attribute summary_comm_overlap of
versions 1-2 is summary_comm_concurrent_share in version 3 (RunData.file_comm_concurrent_share
reads either). Datasets beyond these (e.g. /buckets/ready_s, /ranks/clock_offset_*) are allowed
and not used here.
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
SCHEMA_VERSION = 3  # the newest layout this reader understands (1: mode all only, 2: reduced)
RECORD_MODES = ("all", "stats", "sample:K")
# /rank_stats/<field> columns, in order (group attribute `columns`)
RANK_STATS_COLUMNS = ("min", "median", "max", "mean", "max_rank")
STAT = {name: i for i, name in enumerate(RANK_STATS_COLUMNS)}
# iter_step_blocks fields with this prefix are read from /rank_stats ([rows, 5]) instead
RANK_STATS_PREFIX = "rank_stats/"

# /steps fields as documented; only these are required, extra ones (added in later
# compatible versions) are read too.
STEP_FIELDS = (
    "step", "warmup", "epoch", "samples", "loss", "step_s", "data_s", "forward_s",
    "backward_s", "comm_exposed_s", "optimizer_s", "comm_busy_s", "bytes_reduced", "cpu_s",
    "peak_rss_bytes", "device_peak_allocated_bytes", "device_peak_reserved_bytes",
    "device_used_bytes", "end_time_s",
)
# /steps fields required from schema version 3 on (control_s: read where present before)
STEP_FIELDS_V3 = ("control_s", "buffer_sync_s", "buffer_sync_bytes", "wall_s", "other_s",
                  "start_time_s")
# root attributes of version 3 that describe the math libraries and settings (informational)
MATH_ATTRS = ("blas", "blas_library", "lapack", "lapack_library", "onednn", "intra_op_threads",
              "inter_op_threads", "omp_max_threads", "math_tf32_matmul", "math_tf32_cudnn",
              "math_cudnn_benchmark", "math_cudnn_deterministic", "autocast")
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
    world_size: int                    # the job's world size (root attribute)
    # name -> [n_steps, len(recorded_ranks)], read whole from the file on access: analyses
    # stream with iter_step_blocks instead.
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
    # `--record-ranks` mode: "all", "stats" or "sample:K" (root attribute record_ranks)
    record_ranks: str = "all"
    # [K] int64: the world rank of each /steps and /buckets column (None: 0..world_size-1)
    ranks_recorded: Optional[np.ndarray] = None
    # name -> [n_steps, 5] over every rank (RANK_STATS_COLUMNS); empty in mode all
    rank_stats: Mapping[str, np.ndarray] = field(default_factory=dict)
    cache: Dict[str, Any] = field(default_factory=dict, repr=False)  # for analysis

    @property
    def recorded_ranks(self) -> np.ndarray:
        """[K] int64: the world ranks whose columns /steps and /buckets hold, in order."""
        if self.ranks_recorded is None:
            return np.arange(self.world_size, dtype=np.int64)
        return self.ranks_recorded

    @property
    def n_recorded(self) -> int:
        """Columns of /steps and /buckets (world_size in mode all)."""
        return self.world_size if self.ranks_recorded is None else int(len(self.ranks_recorded))

    @property
    def all_ranks_recorded(self) -> bool:
        return self.n_recorded == self.world_size

    @property
    def has_wall(self) -> bool:
        """Whether /steps has wall_s (every file of schema version 3)."""
        return "wall_s" in self.steps

    def has_field(self, name: str) -> bool:
        """Whether /steps has the field (e.g. control_s, which older files may lack)."""
        return name in self.steps

    @property
    def file_comm_concurrent_share(self) -> Optional[float]:
        """The writer's own summary of the share of bucket communication concurrent with
        compute: summary_comm_concurrent_share (version 3), summary_comm_overlap before."""
        for key in ("summary_comm_concurrent_share", "summary_comm_overlap"):
            v = self.attrs.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
        return None

    @property
    def has_rank_stats(self) -> bool:
        """Whether /rank_stats is read: files in modes stats and sample:K."""
        return len(self.rank_stats) > 0

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def n_buckets(self) -> int:
        return int(len(self.bucket_bytes))

    def _open(self) -> h5py.File:
        return _open(self.path, self.locking)

    def _buckets(self, name: str) -> np.ndarray:
        shape = (self.n_bucket_rows, self.n_recorded, self.n_buckets)
        if self.n_bucket_rows == 0:
            return np.zeros(shape)
        with self._open() as f:
            return np.asarray(f["buckets"][name][()], dtype=np.float64)

    @property
    def bucket_start_s(self) -> np.ndarray:
        """[bucket rows, recorded ranks, n_buckets], read whole (see bucket_step)."""
        return self._buckets("start_s")

    @property
    def bucket_duration_s(self) -> np.ndarray:
        """[bucket rows, recorded ranks, n_buckets], read whole (see bucket_step)."""
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
        """(first row, {field: [rows, recorded ranks] (or the given columns)}) for consecutive
        slices of the /steps rows, the file held open throughout. A field named
        "rank_stats/<field>" is that row's /rank_stats/<field> [rows, 5] (all columns)."""
        fields = list(fields)
        stats = [n for n in fields if n.startswith(RANK_STATS_PREFIX)]
        if rows is None:
            rows = block_rows(8 * self.n_recorded * max(len(fields) - len(stats), 1)
                              + 8 * len(RANK_STATS_COLUMNS) * len(stats))
        with self._open() as f:
            ds = [f[name] if name.startswith(RANK_STATS_PREFIX) else f["steps"][name]
                  for name in fields]
            for start in range(0, self.n_steps, rows):
                stop = min(start + rows, self.n_steps)
                yield start, {name: d[start:stop] if name.startswith(RANK_STATS_PREFIX)
                              else d[start:stop, columns] for name, d in zip(fields, ds)}

    def iter_bucket_blocks(self, rows: Optional[int] = None
                           ) -> Iterator[Tuple[int, np.ndarray, Optional[np.ndarray]]]:
        """(first row, duration_s [rows, recorded ranks, n_buckets], /buckets/step of those
        rows or None in older files) for consecutive slices of the bucket rows."""
        if self.n_bucket_rows == 0 or self.n_buckets == 0:
            return
        if rows is None:
            rows = block_rows(8 * self.n_recorded * self.n_buckets)
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


def _py_array(value: Any) -> Any:
    """An attribute value as read, a 0-d array turned into its one element."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
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
    if version < 1:
        raise RunFileError(f"{path}: schema_version {version} is not a valid version (>= 1)")


def _text_list(value: Any) -> List[str]:
    """A string-array attribute as a list of str (h5py gives str or bytes elements)."""
    if value is None:
        return []
    items = value.tolist() if isinstance(value, np.ndarray) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in items]


def record_mode(attrs: Dict[str, Any], path: str) -> Tuple[str, Optional[int]]:
    """The file's `--record-ranks` mode ("all" where the attribute is absent) and K of
    sample:K; RunFileError for anything else or a schema_version that cannot hold it."""
    mode = attrs.get("record_ranks", "all")
    k: Optional[int] = None
    ok = mode in ("all", "stats")
    if isinstance(mode, str) and mode.startswith("sample:"):
        digits = mode[len("sample:"):]
        ok = digits.isdigit() and int(digits) >= 1
        k = int(digits) if ok else None
    if not ok:
        raise RunFileError(f"{path}: record_ranks attribute is {mode!r}, expected one of "
                           f"{', '.join(RECORD_MODES)} (K >= 1)")
    if mode != "all" and int(attrs["schema_version"]) < 2:
        raise RunFileError(f"{path}: record_ranks {mode!r} needs schema_version 2 or newer, "
                           f"the file says {attrs['schema_version']}")
    return mode, k


def _check_recorded_ranks(value: Any, world: int, mode: str, path: str) -> np.ndarray:
    """The /steps attribute `ranks` checked: 1-D integers, ascending without repeats, within
    [0, world_size), rank 0 first; all ranks in mode all."""
    a = np.asarray(value)
    if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer):
        raise RunFileError(f"{path}: /steps attribute ranks is {value!r}, expected a non-empty "
                           f"1-D integer array of world ranks")
    a = a.astype(np.int64)
    if np.any(np.diff(a) <= 0):
        raise RunFileError(f"{path}: /steps attribute ranks is not ascending without repeats: "
                           f"{a.tolist()[:16]}")
    if a[0] != 0:
        raise RunFileError(f"{path}: /steps attribute ranks lacks rank 0 (starts at {a[0]})")
    if a[-1] >= world:
        raise RunFileError(f"{path}: /steps attribute ranks names rank {a[-1]}, beyond the "
                           f"world size {world}")
    if mode == "all" and a.size != world:
        raise RunFileError(f"{path}: record_ranks is 'all' but /steps attribute ranks lists "
                           f"{a.size} of {world} ranks")
    return a


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
        version = int(attrs["schema_version"])
        required = STEP_FIELDS + (STEP_FIELDS_V3 if version >= 3 else ())
        missing = [n for n in required if n not in shapes]
        if missing:
            raise RunFileError(f"{path}: missing /steps datasets: {', '.join(missing)}"
                               + (f" (required by schema_version {version})"
                                  if any(n in STEP_FIELDS_V3 for n in missing) else ""))
        if len(shapes["step_s"]) != 2:
            raise RunFileError(f"{path}: /steps/step_s is not 2-D [step, rank]")
        record, _ = record_mode(attrs, path)
        n_steps, width = shapes["step_s"]
        ws_attr = attrs.get("world_size")
        ranks_attr = f["steps"].attrs.get("ranks")
        recorded: Optional[np.ndarray] = None
        if ranks_attr is None:
            # every rank's column: /steps is as wide as the world
            if isinstance(ws_attr, int) and ws_attr != width:
                raise RunFileError(f"{path}: world_size attribute {ws_attr} disagrees with "
                                   f"/steps width {width}" + (
                                       "" if record == "all" else
                                       f" (record_ranks {record!r} without a /steps "
                                       f"attribute ranks)"))
            world = width
        else:
            if not isinstance(ws_attr, int) or isinstance(ws_attr, bool) or ws_attr < 1:
                raise RunFileError(f"{path}: world_size attribute missing or not a positive "
                                   f"integer ({ws_attr!r}); a file with /steps attribute ranks "
                                   f"needs it")
            world = ws_attr
            recorded = _check_recorded_ranks(ranks_attr, world, record, path)
            if recorded.size != width:
                raise RunFileError(f"{path}: /steps/step_s has {width} columns, but /steps "
                                   f"attribute ranks lists {recorded.size} ranks")
            if recorded.size == world:
                recorded = None  # every rank, in order: as mode all
        for name, shape in shapes.items():
            if shape[:2] != (n_steps, width):
                raise RunFileError(f"{path}: /steps/{name} has shape {shape}, expected "
                                   f"({n_steps}, {width})")

        stat_names: List[str] = []
        if record != "all":
            if "rank_stats" not in f:
                raise RunFileError(f"{path}: record_ranks {record!r} but no /rank_stats group: "
                                   f"the figures over all ranks cannot be computed")
            rs = f["rank_stats"]
            columns = _text_list(_py_array(rs.attrs.get("columns")))
            if columns != list(RANK_STATS_COLUMNS):
                raise RunFileError(f"{path}: /rank_stats attribute columns is {columns}, "
                                   f"expected {list(RANK_STATS_COLUMNS)}")
            lacking = [n for n in shapes if n not in rs]
            if lacking:
                raise RunFileError(f"{path}: /rank_stats lacks datasets for /steps fields: "
                                   f"{', '.join(lacking)}")
            for name in shapes:
                shape = rs[name].shape
                if shape != (n_steps, len(RANK_STATS_COLUMNS)):
                    raise RunFileError(f"{path}: /rank_stats/{name} has shape {shape}, "
                                       f"expected ({n_steps}, {len(RANK_STATS_COLUMNS)})")
            stat_names = list(shapes)

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
            if b[name].shape != (bucket_rows, width, nb):
                what = "/buckets/step rows" if has_bucket_step else "steps"
                raise RunFileError(f"{path}: /buckets/{name} has shape {b[name].shape}, "
                                   f"expected ({bucket_rows}, {width}, {nb}) ({what}"
                                   f"{', recorded ranks' if width != world else ''})")
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
        record_ranks=record,
        ranks_recorded=recorded,
        rank_stats=(_LazyColumns(path, "rank_stats", stat_names, locking) if stat_names
                    else {}),
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
