"""Design-space sweeps on Dask distributed: a grid or a sample of design points, costed and predicted on each
device by worker processes, written to Parquet as chunks finish.

A sweep is a `Plan` (architecture, parameter grid or sample, devices, batch) cut into chunks; each chunk is one
Dask task that builds its models on the meta device, analyses and predicts them, and returns rows. The client
writes every finished chunk at once as a Parquet file in `<out>.parts/` (atomically, so a killed run loses only
chunks in flight) and merges the parts into `<out>` at the end or on Ctrl-C. `resume` skips the points already in
`<out>` or its parts. A point that fails (an invalid combination) is a row with status "error" and its message;
what would fail every point or the writing (an unknown arch, a grid value its column cannot hold, a `<out>` that is
not Parquet) is one line before anything runs, and a run that fails before its first row leaves no file behind.

Columns (`columns(plan)`, stable for a given plan; docs/readme/sweeps.md documents them):
point_index, point, arch, param:<key> per swept parameter, input_resolution, flops (multiply-adds), params,
mac_elements, mac_bytes, elementwise_ops, elementwise_mac_share, data_movement_ops, data_movement_mac_share,
kernels, kernels_per_block, parallel_width, status, error, then per device: batch:<d>, ms:<d>, throughput:<d>,
bound:<d> (host or device: what limits an eager GPU run) and ms:<d>:<category>, the device time of ShuffleNet V2
Figure 2's categories (they sum to ms:<d> unless the run is host-bound).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from torch import nn

from costmodel.engine.analysis import analyze
from costmodel.engine.kinds import CATEGORIES
from costmodel.engine.report import Report
from costmodel.errors import CostModelError
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile
from costmodel.latency.schedule import MODES
from costmodel.sources.hub import is_hub_spec
from costmodel.sources.names import label, load_model, shown, split_named
from costmodel.sources.userfile import is_user_spec
from costmodel.studies import search_space
from costmodel.studies.evaluate import cost_columns
from costmodel.zoo import ARCHS

MAX_GRID = 10_000_000  # points a grid may enumerate; beyond it, sample
MAX_RANGE_VALUES = 100_000  # values one lo:hi:step range may expand to: checked before any is built
RESOLUTION_KEY = "resolution"  # a swept key that sets the input size, not a builder argument
_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
_WORDS = {bool: ("true or false", "true/false", "false,true"), int: ("a whole number (64-bit)", "whole numbers", "1,2"),
          float: ("a number", "numbers", "0.5,1.0")}  # a type in an error: one value, several, an example
_BOOLS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}
INT64 = (-2**63, 2**63 - 1)
COST_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("input_resolution", pa.int64()), ("flops", pa.int64()), ("params", pa.int64()), ("mac_elements", pa.int64()),
    ("mac_bytes", pa.int64()), ("elementwise_ops", pa.int64()), ("elementwise_mac_share", pa.float64()),
    ("data_movement_ops", pa.int64()), ("data_movement_mac_share", pa.float64()), ("kernels", pa.int64()),
    ("kernels_per_block", pa.float64()), ("parallel_width", pa.float64()), ("status", pa.string()),
    ("error", pa.string()))


# ---------------------------------------------------------------- the plan: which points, which devices
@dataclass(frozen=True)
class Point:
    """One design point: its position in the grid (a stable id) and its parameter values in grid order."""

    index: int
    values: tuple[tuple[str, Any], ...]

    def label(self, arch: str) -> str:
        return label(arch, dict(self.values))


@dataclass(frozen=True)
class Plan:
    """What a sweep evaluates: `arch` at `points`, costs at batch 1 and latency on `devices` at `batch`
    (None: each device's own)."""

    arch: str
    keys: tuple[tuple[str, type], ...]  # swept parameter and its Python type, in grid order
    points: tuple[Point, ...]
    devices: tuple[DeviceProfile, ...] = ()
    batch: int | None = None
    dtype: str = "float32"
    mode: str = "eager"
    fold_bn: bool = True  # BatchNorm folded into the convs before costing, as `analyze` does by default


def _number(text: str, key: str) -> float:
    """One bound or step of a range; nan and inf are not (a range of them has no count)."""
    hint = f"write ranges of finite numbers, like {key}=0.5:2.0:0.25"
    try:
        number = float(text)
    except ValueError:
        raise CostModelError(f"'{shown(text)}' in a range is not a number", hint) from None
    if not math.isfinite(number):
        raise CostModelError(f"'{shown(text)}' in the range of {key} is not a finite number", hint)
    return number


def expand_values(key: str, text: str) -> list[str]:
    """'0.5,1,2' -> ['0.5', '1', '2']; 'lo:hi:step' -> every value from lo to hi inclusive (as text)."""
    if ":" not in text:
        values = [v.strip() for v in text.split(",") if v.strip()]
    else:
        parts = text.split(":")
        if len(parts) != 3:
            raise CostModelError(f"range '{key}={text}' is not lo:hi:step", "write it like phi=0:3:0.5")
        low, high, step = (_number(p, key) for p in parts)
        if step <= 0 or high < low:
            raise CostModelError(f"range '{key}={text}' is empty", "use lo <= hi and a positive step")
        count = math.floor((high - low) / step + 1e-9) + 1
        if count > MAX_RANGE_VALUES:
            raise CostModelError(f"range '{key}={text}' has {count:.3g} values, more than {MAX_RANGE_VALUES:,}",
                                 "use a larger step or a narrower range")
        integral = all(float(p).is_integer() for p in (low, high, step))
        values = [str(int(low + i * step)) if integral else repr(round(low + i * step, 10)) for i in range(count)]
        if len(set(values)) < len(values):  # a step below the 10 decimals a value keeps
            raise CostModelError(f"range '{key}={text}' repeats values (each is kept to 10 decimals)",
                                 "use a step of at least 1e-10")
    if not values:
        raise CostModelError(f"grid '{key}=' has no values", "write it like width=0.5,1.0 or width=0.5:2:0.5")
    return values


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """['width=0.5,1', 'phi=0:2:1'] -> {'width': ['0.5', '1'], 'phi': ['0', '1', '2']}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise CostModelError(f"grid '{item}' is not key=values", "write it like width=0.5,1.0")
        if key.strip() in grid:
            raise CostModelError(f"grid key '{key.strip()}' is given twice", "give each key once")
        grid[key.strip()] = expand_values(key.strip(), text.strip())
    return grid


def _infer(texts: Sequence[str]) -> type:
    """The narrowest of bool, int, float, str that reads every value (for architectures without declared types)."""
    lowered = [t.lower() for t in texts]
    if all(t in ("true", "false") for t in lowered):
        return bool
    for kind in (int, float):
        try:
            [kind(t) for t in texts]
            return kind
        except ValueError:
            continue
    return str


class _NotFinite(ValueError):
    """A float value that reads as nan or inf."""


def _distinct(key: str, texts: Sequence[str], values: Sequence[Any]) -> None:
    """A value given twice (`c1=0,16,0`, or `16,16.0` for a whole number) would make duplicate points, one of
    them evaluated for nothing and the point count wrong: one line that shows the list without repeats."""
    kept: dict[Any, str] = {}  # each value's first text, in order
    repeated: tuple[str, str] | None = None
    for text, value in zip(texts, values):
        if value in kept:
            repeated = repeated or (kept[value], text)
        else:
            kept[value] = text
    if repeated:
        first, again = repeated
        also = "" if first == again else f" (as {shown(again)})"
        raise CostModelError(f"grid {key} has {shown(first)} twice{also}",
                             f"give each value once, e.g. {key}={shown(','.join(kept.values()))}")


def _parse(text: str, kind: type) -> Any:
    """`text` as `kind` ('2.0' is the int 2); ValueError if it is none, an int its int64 column cannot hold, or
    (_NotFinite) a float that is nan or inf."""
    if kind is bool:
        if text.lower() not in _BOOLS:
            raise ValueError(text)
        return _BOOLS[text.lower()]
    if kind is float:
        number = float(text)
        if not math.isfinite(number):  # nan and inf: no zoo parameter takes them, a column of them sorts nowhere
            raise _NotFinite(text)
        return number
    if kind is not int:
        return kind(text)
    number = float(text)
    if not number.is_integer():
        raise ValueError(text)
    value = int(text) if text.strip().lstrip("+-").isdigit() else int(number)  # digits: exact, not via a float
    if not INT64[0] <= value <= INT64[1]:
        raise ValueError(text)
    return value


def _convert(key: str, text: str, kind: type) -> Any:
    """`text` as the type of the key's Parquet column. A point that fails to build is an error row, but a value
    its column cannot hold (or nan and inf, which no point can use) would end the run at the first write or fail
    every point alike, so it is one line before anything runs."""
    try:
        return _parse(text, kind)
    except _NotFinite:
        raise CostModelError(f"grid value {key}={shown(text)} is not a finite number",
                             f"write {key} as finite numbers, e.g. {key}={_WORDS[float][2]}") from None
    except ValueError:
        one, many, example = _WORDS[kind]
        raise CostModelError(f"grid value {key}={shown(text)} is not {one}",
                             f"write {key} as {many}, e.g. {key}={example}") from None


def key_type(arch: str, key: str, texts: Sequence[str]) -> type:
    """A swept key's type: the zoo's or the search space's declaration, else inferred from the values.
    A key the architecture does not have is an error for the whole plan."""
    if key == RESOLUTION_KEY:
        return int
    if arch == search_space.NAME:
        return search_space.param(key).type
    if arch in ARCHS:
        params = {p.name: p for p in ARCHS[arch].params}
        if key not in params:
            raise CostModelError(f"{arch} has no parameter {key!r}", f"use {', '.join(params)} or resolution")
        return params[key].type
    return _infer(texts)


def _choices(arch: str, grid: Mapping[str, list[str]]) -> dict[str, list[Any]]:
    """Every key's values: the search space's choices unless the grid narrows them, else the grid's."""
    base: dict[str, list[str]] = {k: [str(v) for v in c] for k, c in search_space.choices().items()} \
        if arch == search_space.NAME else {}
    merged = {**base, **grid}
    choices = {k: [_convert(k, t, key_type(arch, k, texts)) for t in texts] for k, texts in merged.items()}
    for key, values in choices.items():
        _distinct(key, merged[key], values)
    return choices


def _decode(index: int, values: Sequence[Sequence[Any]], keys: Sequence[str]) -> Point:
    """The point at mixed-radix `index` of the grid (last key fastest, as itertools.product)."""
    chosen, rest = [], index
    for options in reversed(values):
        rest, digit = divmod(rest, len(options))
        chosen.append(options[digit])
    return Point(index, tuple(zip(keys, reversed(chosen))))


def make_plan(arch: str, grid: Mapping[str, list[str]], *, sample: int | None = None, seed: int = 0,
              devices: Sequence[DeviceProfile] = (), batch: int | None = None, dtype: str = "float32",
              mode: str = "eager", fold_bn: bool = True, limit: int = MAX_GRID) -> Plan:
    """The points of `grid` (all of them, or `sample` drawn without replacement with `seed`) for `arch`; more
    than `limit` points is an error (a caller's bound on the sweep's size)."""
    if mode not in MODES:
        raise CostModelError(f"unknown mode '{mode}'", f"use one of {', '.join(MODES)}")
    if batch is not None and batch < 1:
        raise CostModelError(f"batch {batch} is not positive", "use --batch 1 or more")
    choices = _choices(arch, grid)
    keys = list(choices)
    total = math.prod(len(v) for v in choices.values())
    if sample is not None and sample < 1:
        raise CostModelError(f"a sample of {sample} points is not positive", "sample 1 point or more")
    if min(total, sample or total) > limit:
        raise CostModelError(f"the grid of {arch} has {total:.3g} points, more than {limit:,}",
                             f"sample at most {limit:,} of them")
    indices = sorted(random.Random(seed).sample(range(total), min(sample, total))) if sample else range(total)
    values = [choices[k] for k in keys]
    points = tuple(_decode(i, values, keys) for i in indices)
    types = tuple((k, key_type(arch, k, grid.get(k, []))) for k in keys)
    return Plan(arch, types, points, tuple(devices), batch, dtype, mode, fold_bn)


def columns(plan: Plan) -> pa.Schema:
    """The Parquet schema of a plan's results (see the module docstring); its metadata records the arch, mode,
    batch and dtype, so a resume cannot mix settings."""
    fields = [("point_index", pa.int64()), ("point", pa.string()), ("arch", pa.string())]
    fields += [(f"param:{k}", _TYPES[kind]) for k, kind in plan.keys]
    fields += list(COST_COLUMNS)
    for device in plan.devices:
        fields += [(f"batch:{device.name}", pa.int64()), (f"ms:{device.name}", pa.float64()),
                   (f"throughput:{device.name}", pa.float64()), (f"bound:{device.name}", pa.string())]
        fields += [(f"ms:{device.name}:{c}", pa.float64()) for c in CATEGORIES]
    settings = {"arch": plan.arch, "mode": plan.mode, "batch": plan.batch, "dtype": plan.dtype, "fold_bn": plan.fold_bn}
    return pa.schema(fields, metadata={"costmodel.sweep": json.dumps(settings)})


# ---------------------------------------------------------------- what a worker does with one chunk
def build(arch: str, values: Mapping[str, Any], batch: int) -> tuple[nn.Module, tuple[int, ...]]:
    """The model of one point (meta device) and its input shape: the search space, or any name load_model reads."""
    params = {k: v for k, v in values.items() if k != RESOLUTION_KEY}
    resolution = values.get(RESOLUTION_KEY)
    if arch == search_space.NAME:
        return search_space.build(params, resolution=resolution, batch=batch)
    model, shape, _ = load_model(arch, params=params, resolution=resolution, batch=batch)
    return model, shape


def check_arch(arch: str) -> None:
    """An unknown architecture or model would fail every point alike: one line before the sweep instead, the one
    other commands print ('did you mean'), from building its default model (meta device; inline parameters left
    out, since the grid may be what makes them valid)."""
    if arch == search_space.NAME:
        return
    if is_hub_spec(arch) or not is_user_spec(arch):
        source, name, _ = split_named(arch)
        arch = f"{source}:{name}" if source else name
    load_model(arch)


def _message(error: Exception) -> str:
    """One line: a CostModelError as it is, anything else with its type."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if isinstance(error, CostModelError) else f"{type(error).__name__}: {text}"[:500]


def _identity(plan: Plan, point: Point) -> dict[str, Any]:
    """The columns that name a point: index, label, arch and its parameters."""
    return {"point_index": point.index, "point": point.label(plan.arch), "arch": plan.arch,
            **{f"param:{k}": v for k, v in point.values}}


def evaluate_point(plan: Plan, point: Point) -> dict[str, Any]:
    """One row: costs at batch 1 and latency on every device; a failure is a row with status 'error'."""
    row = _identity(plan, point)
    reports: dict[int, Report] = {}

    def report(batch: int) -> Report:
        if batch not in reports:
            model, shape = build(plan.arch, dict(point.values), batch)
            reports[batch] = analyze(model, shape, dtype=plan.dtype, fold_bn=plan.fold_bn, arch=row["point"])
        return reports[batch]

    try:
        per_image = report(1)
        row.update(cost_columns(per_image), input_resolution=int(per_image.summary["input_shape"][-1]),
                   data_movement_mac_share=per_image.summary["data_movement"]["mac_share"], error=None)
        for device in plan.devices:
            latency = predict(report(plan.batch or device.batch), device, mode=plan.mode)
            row.update({f"batch:{device.name}": latency.batch, f"ms:{device.name}": latency.ms,
                        f"throughput:{device.name}": latency.throughput, f"bound:{device.name}": latency.bound,
                        **{f"ms:{device.name}:{c}": latency.breakdown[c] for c in CATEGORIES}})
    except Exception as error:  # an invalid combination is a row, never a crashed sweep
        row.update(status="error", error=_message(error))
    return row


def evaluate_chunk(plan: Plan, points: Sequence[Point]) -> list[dict[str, Any]]:
    """The Dask task: rows of `points` (the plan travels without its points)."""
    return [evaluate_point(plan, point) for point in points]


def error_rows(plan: Plan, points: Sequence[Point], error: Exception) -> list[dict[str, Any]]:
    """Rows for a chunk whose task itself failed (a worker died): every point carries the error."""
    return [{**_identity(plan, p), "status": "error", "error": _message(error)} for p in points]


# ---------------------------------------------------------------- Parquet: parts as chunks finish, one file at the end
def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _existing(out: Path) -> list[Path]:
    """The Parquet files holding finished rows: `out` and the parts a killed or interrupted run left."""
    parts = parts_dir(out)
    found = sorted(parts.glob("*.parquet")) if parts.is_dir() else []
    return ([out] if out.exists() else []) + found


def _unreadable(path: str | Path, error: Exception) -> CostModelError:
    """A file that is not Parquet (or not readable): one line, never Arrow's traceback."""
    return CostModelError(f"cannot read sweep results {path} ({_message(error)})",
                          "name a Parquet file written by sweep")


def _check_schema(path: Path, schema: pa.Schema) -> None:
    try:
        found = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise _unreadable(path, error) from None
    if not found.equals(schema, check_metadata=False) or \
            (found.metadata or {}).get(b"costmodel.sweep") != schema.metadata[b"costmodel.sweep"]:
        raise CostModelError(f"{path} holds another sweep (other parameters, devices, mode, batch or dtype)",
                             "resume with the same arch, grid and devices, or write to a new --out")


def done_points(out: Path, schema: pa.Schema) -> set[str]:
    """Labels of the points already written to `out` or its parts."""
    done: set[str] = set()
    for path in _existing(out):
        _check_schema(path, schema)
        done.update(pq.read_table(path, columns=["point"]).column("point").to_pylist())
    return done


def merge(out: Path, schema: pa.Schema) -> int:
    """Merge `out` and its parts into `out` (atomically, each point once) and drop the parts; returns the rows."""
    sources = _existing(out)
    if not sources:
        _write_atomic(schema.empty_table(), out)
        return 0
    seen: set[str] = set()
    tmp = out.with_name(out.name + ".merging")
    with pq.ParquetWriter(tmp, schema) as writer:
        for path in sources:
            table = pq.read_table(path, schema=schema)
            fresh = [p not in seen for p in table.column("point").to_pylist()]
            seen.update(table.column("point").to_pylist())
            writer.write_table(table.filter(pa.array(fresh)))
    os.replace(tmp, out)
    shutil.rmtree(parts_dir(out), ignore_errors=True)
    return len(seen)


# ---------------------------------------------------------------- running: Dask or a plain loop
Task = tuple[Plan, tuple[Point, ...]]


def _serial(tasks: list[Task]) -> Iterator[tuple[Task, list[dict[str, Any]]]]:
    for task in tasks:
        yield task, evaluate_chunk(*task)


def _dask(tasks: list[Task], workers: int, scheduler: str | None) -> Iterator[tuple[Task, list[dict[str, Any]]]]:
    """Tasks on a LocalCluster of `workers` processes (one thread each), or on the scheduler at `scheduler`."""
    from distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
            except ValueError as error:  # distributed's words for an address it cannot parse
                raise CostModelError(f"--scheduler {shown(scheduler)} is not a Dask scheduler address ({error})",
                                     "write it like tcp://HOST:8786") from None
            except OSError as error:
                raise CostModelError(f"no Dask scheduler answers at {scheduler} ({error})",
                                     "start one with `dask scheduler` and `dask worker ADDRESS`, or drop --scheduler")
        plan = client.scatter(tasks[0][0], broadcast=True) if tasks else None
        futures = {client.submit(evaluate_chunk, plan, points, pure=False): (task_plan, points)
                   for task_plan, points in tasks}
        for future in as_completed(futures):
            task = futures.pop(future)
            try:
                yield task, future.result()
            except Exception as error:  # a task that died with its worker: its points become error rows
                yield task, error_rows(task[0], task[1], error)
            future.release()


@dataclass
class Outcome:
    """What a run did: rows written now, points skipped as already done, error rows, seconds."""

    out: Path
    total: int
    written: int = 0
    skipped: int = 0
    errors: int = 0
    seconds: float = 0.0
    rows: int = 0  # rows in the file at the end
    first_error: tuple[int, str, str] | None = None  # (point_index, point, message) of the lowest failed point

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Count a finished chunk's rows and keep the lowest failed point's message, whatever order chunks end in."""
        failed = [(row["point_index"], row["point"], row["error"]) for row in rows if row["status"] == "error"]
        self.written += len(rows)
        self.errors += len(failed)
        self.first_error = min(failed + ([self.first_error] if self.first_error else []), default=None)

    @property
    def points_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else float("nan")


def chunk_size(points: int, workers: int) -> int:
    """About 8 tasks per worker, at most 50 points each: balanced, yet few enough tasks to schedule cheaply."""
    return max(1, min(50, math.ceil(points / (8 * max(1, workers)))))


def run(plan: Plan, out: str | Path, *, workers: int = 2, scheduler: str | None = None, resume: bool = False,
        serial: bool = False, chunk: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Evaluate `plan` and write its rows to `out` (Parquet; its folder is created if missing - the CLI checks
    --out's folder before any work instead, so a mistyped path is an error there). `serial` runs a plain loop in
    this process (no Dask); `progress(done, total)` is called as chunks finish. Ctrl-C merges what finished into
    `out` and re-raises; a run that fails before its first row removes the parts folder it made and writes no
    `out`."""
    out = Path(out)
    schema = columns(plan)
    if not resume and _existing(out):
        raise CostModelError(f"{out} already exists (or a stopped run left {parts_dir(out).name})",
                             "pass --resume to complete it, or choose another --out")
    if workers < 1:
        raise CostModelError(f"--workers {workers} is not positive", "use 1 or more workers")
    check_arch(plan.arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = done_points(out, schema) if resume else set()
    todo = [p for p in plan.points if p.label(plan.arch) not in done]
    outcome = Outcome(out, len(plan.points), skipped=len(plan.points) - len(todo))
    size = chunk or chunk_size(len(todo), workers)
    bare = dataclasses.replace(plan, points=())
    tasks = [(bare, tuple(todo[i:i + size])) for i in range(0, len(todo), size)]
    parts = parts_dir(out)
    fresh = not out.exists() and not parts.exists()  # this run creates both: a failure before any row removes them
    parts.mkdir(exist_ok=True)
    start = time.perf_counter()
    finished = False
    try:
        if progress:
            progress(outcome.skipped, outcome.total)
        results = _serial(tasks) if serial or not tasks else _dask(tasks, workers, scheduler)
        with contextlib.closing(results):
            for (_, points), rows in results:
                _write_atomic(_table(rows, schema), parts / f"{points[0].index:012d}-{len(points)}.parquet")
                outcome.add(rows)
                if progress:
                    progress(outcome.skipped + outcome.written, outcome.total)
        finished = True
    finally:  # also on Ctrl-C: what finished is merged into a valid file; a run that wrote nothing leaves nothing
        outcome.seconds = time.perf_counter() - start
        if finished or outcome.written or not fresh:
            outcome.rows = merge(out, schema)
        else:
            shutil.rmtree(parts, ignore_errors=True)
    return outcome


def read(path: str | Path) -> pa.Table:
    """A sweep's rows (sorted by point_index); a missing or unreadable file is a one-line error."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise _unreadable(path, error) from None
    if "point_index" not in table.column_names:
        raise CostModelError(f"{path} is not a sweep's results (no point_index column)",
                             "name a Parquet file written by `python -m costmodel sweep`")
    return table.sort_by("point_index")

