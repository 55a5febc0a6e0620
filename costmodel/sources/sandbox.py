"""Analyse a user's model in a child process with a time and a memory limit, so that uploaded code that loops,
allocates without end, raises or crashes yields one clear line and the app keeps serving.

The child (`python -m costmodel.sources.sandbox`) imports torch and the engine first, says `ready`, caps its address
space (RLIMIT_AS), then imports the user's file, builds the model and traces it; the parent's clock for the
time limit starts at `ready`, so the limit measures the user's code, not torch's import. The child sends back
the op graph as JSON (node-link form) and the parent derives the tables and summary with the engine's own
functions. Nothing the child sends is ever unpickled.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from costmodel.engine.analysis import DTYPE_BYTES, analyze
from costmodel.errors import CostModelError
from costmodel.engine.report import Report, blocks_frame, ops_frame, summarise
from costmodel.sources.userfile import load_user_model

PACKAGE_PARENT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 120.0  # importing torch in a fresh process: ~2 s here, much more on a loaded machine
MAX_RESULT_BYTES = 256 * 2**20  # a 10k-op graph is a few MB; more means something is wrong
STDERR_TAIL_BYTES = 2000
_READY, _LOADED = "ready", "loaded"


@dataclass(frozen=True)
class Limits:
    """What the user's code may use once the child is ready: wall-clock seconds for import + build + trace,
    and bytes of address space (torch and the engine already take about 1 GiB of it)."""

    seconds: float = 60.0
    memory_bytes: int = 4 * 2**30

    def memory_text(self) -> str:
        return f"{self.memory_bytes / 2**30:g} GiB"


def module_classes(source: str, filename: str) -> list[str]:
    """Classes in `source` that subclass nn.Module (directly, via an nn container, or via another such class
    in the same file), found by parsing - no code runs. A syntax error becomes a one-line CostModelError."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as error:
        where = f" line {error.lineno}" if error.lineno else ""
        raise CostModelError(f"syntax error in '{filename}'{where}: {error.msg}", "fix the file") from None
    except (ValueError, RecursionError, MemoryError) as error:  # pathological nesting
        raise CostModelError(f"'{filename}' cannot be parsed as Python ({type(error).__name__})",
                             "give a Python source file") from None
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    found: list[str] = []
    for node in classes:  # top-level classes are defined in order, so a base class comes before its subclasses
        bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
        if bases & {"Module", "Sequential", "ModuleList", "ModuleDict"} or bases & set(found):
            found.append(node.name)
    return found


def resolve_spec(spec: str) -> str:
    """'file.py' -> 'file.py:Name' when the file defines exactly one nn.Module class; other specs unchanged."""
    if ":" in spec or not spec.endswith(".py"):
        return spec
    path = Path(spec)
    if not path.is_file():
        raise CostModelError(f"model file '{spec}' does not exist", "check the path")
    found = module_classes(path.read_text(encoding="utf-8", errors="replace"), path.name)
    if not found:
        raise CostModelError(f"no nn.Module class is defined in '{path.name}'",
                             "define a torch.nn.Module subclass, or name a function that returns one: file.py:Name")
    if len(found) > 1:
        raise CostModelError(f"'{path.name}' defines several nn.Module classes: {', '.join(found)}",
                             f"name the one to analyse, e.g. {path.name}:{found[-1]}")
    return f"{spec}:{found[0]}"


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes/contexts (user-code errors arrive wrapped in a CostModelError)."""
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and all(link is not seen for seen in chain):
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def _memory_exhausted(error: BaseException) -> bool:
    """Whether an allocation failed somewhere in the chain (Python's MemoryError or torch's ENOMEM)."""
    return any(isinstance(e, MemoryError) or "can't allocate memory" in str(e) for e in _chain(error))


def _allocation_text(error: BaseException) -> str:
    """' (it tried to allocate 8 GiB)' when torch says how much; '' otherwise."""
    found = re.search(r"tried to allocate (\d+) bytes", " ".join(map(str, _chain(error))))
    return f" (it tried to allocate {int(found.group(1)) / 2**30:.3g} GiB)" if found else ""


def _phase(name: str, loaded: bool) -> str:
    return f"'{name}': " + ("tracing the model" if loaded else "importing the file and building the model")


def _describe(error: BaseException, phase: str, limits: Limits) -> str:
    """One line for any failure of the user's code inside the child."""
    if _memory_exhausted(error):
        return (f"{phase} ran out of memory{_allocation_text(error)}: the limit is {limits.memory_text()} "
                "(memory limit) - shrink the model or raise the limit")
    if isinstance(error, CostModelError):
        return str(error)
    if isinstance(error, SystemExit):
        return f"{phase} called exit({error.code!r}) - remove the exit() call from the file"
    first = str(error).splitlines()[0][:300] if str(error) else ""
    return f"{phase} failed with {type(error).__name__}: {first}"


def _child() -> None:
    """Entry point of `python -m costmodel.sources.sandbox`: one request on stdin, protocol lines on the real stdout."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the user's code prints goes to stderr, never into the protocol
    request = json.loads(sys.stdin.read())
    limits = Limits(request["seconds"], request["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # CPU-time backstop for an orphaned child (the parent normally kills it at the wall-clock limit)
    cpu_seconds = math.ceil(limits.seconds * (os.cpu_count() or 1) + STARTUP_LIMIT_S)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    print(_READY, file=channel)
    phase = _phase(request["name"], loaded=False)
    try:
        model = load_user_model(resolve_spec(request["spec"]))
        print(_LOADED, file=channel)
        phase = _phase(request["name"], loaded=True)
        graphs = [analyze(model, shape, dtype=request["dtype"], fold_bn=request["fold_bn"]).graph
                  for shape in request["input_shapes"]]
        text = json.dumps({"ok": True, "graphs": [nx.node_link_data(g, edges="edges") for g in graphs]})
    except BaseException as error:  # noqa: BLE001 - every failure of user code is reported as one line
        text = json.dumps({"ok": False, "error": _describe(error, phase, limits)})
    channel.write(text)
    channel.close()


class _ChildOutput:
    """Reads the child's stdout (protocol) and stderr (kept as a short tail) without blocking on either."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.selector = selectors.DefaultSelector()
        self.selector.register(process.stdout, selectors.EVENT_READ, "out")
        self.selector.register(process.stderr, selectors.EVENT_READ, "err")
        self.out = bytearray()
        self.err = bytearray()

    def lines(self) -> list[str]:
        return self.out.decode("utf-8", errors="replace").split("\n")

    def _stdout_open(self) -> bool:
        return any(key.data == "out" for key in self.selector.get_map().values())

    def pump(self, deadline: float, until_line: str | None = None) -> bool:
        """Read until stdout closes (or shows `until_line`); False if the deadline passes first."""
        while self._stdout_open():
            if until_line is not None and until_line in self.lines()[:-1]:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.selector.select(timeout=left):
                chunk = os.read(key.fileobj.fileno(), 1 << 16)
                if not chunk:
                    self.selector.unregister(key.fileobj)
                elif key.data == "out":
                    self.out += chunk
                    if len(self.out) > MAX_RESULT_BYTES:
                        raise CostModelError("the model's report is larger than 256 MiB", "analyse a smaller model")
                else:
                    self.err = (self.err + chunk)[-STDERR_TAIL_BYTES:]
        return until_line is None or until_line in self.lines()[:-1]

    def stderr_tail(self) -> str:
        lines = self.err.decode("utf-8", errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else ""


def _child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE_PARENT), path) if p)}


def _kill(process: subprocess.Popen) -> None:
    """End the child and anything it started (it leads its own session)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _exit_code(process: subprocess.Popen) -> int | None:
    """The child's exit status once its stdout has closed (None if it lingers, e.g. in a user thread)."""
    try:
        return process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return None


def _timeout_message(name: str, loaded: bool, limits: Limits) -> str:
    where = "forward()" if loaded else "the file's top level or the constructor"
    return (f"{_phase(name, loaded)} did not finish within {limits.seconds:g} s (time limit) - "
            f"look for an endless loop in {where}, or raise the limit")


def _exit_message(name: str, code: int | None, tail: str, limits: Limits) -> str:
    if code is not None and code < 0:
        signame = signal.Signals(-code).name
        hint = f" (out of memory? the limit is {limits.memory_text()})" if -code == signal.SIGKILL else ""
        return f"'{name}': the model process was killed by {signame}{hint}{': ' + tail if tail else ''}"
    return f"'{name}': the model process exited (code {code}) without a report{': ' + tail if tail else ''}"


def run_sandboxed(spec: str, input_shapes: Sequence[tuple[int, ...]], *, dtype: str = "float32",
                  fold_bn: bool = True, label: str | None = None, limits: Limits = Limits(),
                  cwd: str | Path | None = None) -> dict[str, Any]:
    """Import and build `spec` ('file.py', 'file.py:Name' or 'pkg.mod:Name') once in a limited child process
    and trace it at each of `input_shapes` (e.g. batch 1 for costs and a device's batch for latency).

    Returns plain JSON data for `reports_from_data` (cacheable as is); raises CostModelError with one line.
    """
    name = spec.rsplit(":", 1)[0] if ":" in spec else spec
    shapes = [[int(d) for d in shape] for shape in input_shapes]
    request = {"spec": spec, "name": name, "input_shapes": shapes, "dtype": dtype, "fold_bn": fold_bn,
               "seconds": limits.seconds, "memory_bytes": limits.memory_bytes}
    process = subprocess.Popen([sys.executable, "-m", "costmodel.sources.sandbox"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=_child_env(),
                               start_new_session=True)
    try:
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
        output = _ChildOutput(process)
        if not output.pump(time.monotonic() + STARTUP_LIMIT_S, until_line=_READY):
            raise CostModelError(f"the analysis process did not start ({output.stderr_tail() or 'no output'})",
                                 "check that torch imports in this environment")
        if not output.pump(time.monotonic() + limits.seconds):
            raise CostModelError(_timeout_message(name, _LOADED in output.lines(), limits))
        try:
            result = json.loads(output.lines()[-1])
        except json.JSONDecodeError:
            raise CostModelError(_exit_message(name, _exit_code(process), output.stderr_tail(), limits)) from None
    finally:
        _kill(process)
    if not result["ok"]:
        raise CostModelError(result["error"])
    return {"arch": label or spec, "dtype": dtype,
            "reports": [{"input_shape": shape, "graph": graph} for shape, graph in zip(shapes, result["graphs"])]}


def run_uploaded(content: bytes, filename: str, attr: str | None, input_shapes: Sequence[tuple[int, ...]],
                 **options: Any) -> dict[str, Any]:
    """`run_sandboxed` for an uploaded file: written alone into a fresh temporary folder, analysed there (its
    name in messages is the uploaded name), then deleted."""
    name = Path(filename).name
    if not name.endswith(".py"):
        raise CostModelError(f"'{name}' is not a Python file", "upload a .py file")
    spec = f"{name}:{attr}" if attr else name
    with tempfile.TemporaryDirectory(prefix="costmodel_upload_") as folder:
        (Path(folder) / name).write_bytes(content)
        return run_sandboxed(spec, input_shapes, cwd=folder, **{"label": spec, **options})


def _as_tuples(shapes: list[list[int]]) -> list[tuple[int, ...]]:
    return [tuple(s) for s in shapes]


def _report(graph_data: dict[str, Any], input_shape: list[int], arch: str, dtype: str) -> Report:
    graph = nx.node_link_graph(graph_data, edges="edges")
    for _, attrs in graph.nodes(data=True):
        attrs["input_shapes"] = _as_tuples(attrs["input_shapes"])
        attrs["output_shapes"] = _as_tuples(attrs["output_shapes"])
    for *_, attrs in graph.edges(data=True):
        attrs["shape"] = tuple(attrs["shape"])
    ops = ops_frame(graph)
    blocks = blocks_frame(graph, ops)
    summary = summarise(graph, ops, blocks, arch=arch, input_shape=tuple(input_shape), dtype=dtype,
                        bytes_per_element=DTYPE_BYTES[dtype])
    return Report(graph, ops, blocks, summary)


def reports_from_data(data: dict[str, Any]) -> list[Report]:
    """The Reports of `run_sandboxed`'s data, one per input shape: the same tables and summary as an
    in-process `analyze`."""
    return [_report(item["graph"], item["input_shape"], data["arch"], data["dtype"]) for item in data["reports"]]


def analyze_sandboxed(spec: str, input_shape: tuple[int, ...], **options: Any) -> Report:
    """The Report of a user's model at one input shape, computed out of process."""
    return reports_from_data(run_sandboxed(spec, [input_shape], **options))[0]


if __name__ == "__main__":
    _child()
