"""Trace a model into a shape-annotated torch.fx graph without real computation.

Why torch.fx first: `symbolic_trace` plus shape propagation on meta or fake tensors takes milliseconds even for
EfficientNet-B7, and keeps standard layers as leaf modules, so a conv node carries its module (and so its
parameters) directly. It cannot follow shape-dependent Python control flow; for such models we fall back to
`torch.export` (non-strict, on fake inputs), which handles it at 0.1-1 s and records the module stack per
ATen node. Both give an fx.Graph, which `costmodel.engine.opgraph` reads through the same adapter interface.
"""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, TextIO

import torch
from torch import fx, nn
from torch._subclasses.fake_tensor import FakeTensorMode

from costmodel.engine.ops import SHAPE_PRESERVING_MODULES, function_spec, raw_function_name
from costmodel.errors import CostModelError

Tracer = Literal["fx", "export"]


@dataclass
class TracedGraph:
    """An fx graph with output metadata on every node, plus what a node-name refers to."""

    graph: fx.Graph
    tracer: Tracer
    root: nn.Module
    leaf_modules: dict[str, nn.Module] = field(default_factory=dict)  # fx call_module target -> module
    param_nodes: dict[str, str] = field(default_factory=dict)  # node name -> parameter qualified name
    constant_nodes: set[str] = field(default_factory=set)  # buffers and constants: not activations


def _on_meta(model: nn.Module) -> bool:
    return any(t.is_meta for t in model.parameters()) or any(t.is_meta for t in model.buffers())


def _example_input(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta" if _on_meta(model) else "cpu")


# Leaf modules whose output has their input's shape (the op table's shape_preserving flag): shape propagation
# need not run them. BatchNorm on meta tensors alone took a third of an EfficientNet analysis.
_SHAPE_PRESERVING = SHAPE_PRESERVING_MODULES


class _ShapeRecorder(fx.Interpreter):
    """Runs the graph on meta/fake tensors and keeps each node's result as node.meta['val'], the key
    torch.export uses too (fx's own ShapeProp prints a traceback on failure; we report one line instead)."""

    def run_node(self, node: fx.Node) -> object:
        result = super().run_node(node)
        node.meta["val"] = result
        return result

    def call_module(self, target: str, args: tuple, kwargs: dict) -> object:
        module = self.fetch_attr(target)
        x = args[0] if len(args) == 1 and not kwargs else None
        if isinstance(x, torch.Tensor) and isinstance(module, _SHAPE_PRESERVING):
            return x
        if isinstance(x, torch.Tensor) and isinstance(module, nn.modules.batchnorm._BatchNorm):
            if x.dim() < 2 or x.shape[1] != module.num_features:
                raise RuntimeError(f"{target}: BatchNorm of {module.num_features} features got input {tuple(x.shape)}")
            return x
        return super().call_module(target, args, kwargs)


def _trace_fx(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype) -> TracedGraph:
    gm = fx.symbolic_trace(model)
    # The input is made inside the fake mode too: nothing is allocated, and every activation, the input
    # included, shares memory exactly as ATen's would (costmodel/engine/copies.py reads that).
    fake = contextlib.nullcontext() if _on_meta(model) else FakeTensorMode(allow_non_fake_inputs=True)
    with fake, torch.no_grad():
        _ShapeRecorder(gm).run(_example_input(model, shape, dtype))
    leaves = {n.target: gm.get_submodule(n.target) for n in gm.graph.nodes if n.op == "call_module"}
    params, constants = {}, set()
    named_params = dict(gm.named_parameters())
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            if node.target in named_params:
                params[node.name] = node.target
            else:
                constants.add(node.name)
    return TracedGraph(gm.graph, "fx", model, leaves, params, constants)


@contextlib.contextmanager
def _quiet_torch_logs() -> Iterator[None]:
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class _ThreadRoute(io.TextIOBase):
    """A stand-in for sys.stdout or sys.stderr: one thread's writes go to `target` (None: dropped), every other
    thread's to the real stream. A plain redirect would also take, for the seconds an export takes, the output of
    every other session a server runs."""

    def __init__(self, real: TextIO, target: TextIO | None, thread: int) -> None:
        super().__init__()
        self.real, self.target, self.thread = real, target, thread

    def _stream(self) -> TextIO | None:
        return self.real if threading.get_ident() != self.thread else self.target

    def write(self, text: str) -> int:
        stream = self._stream()
        return len(text) if stream is None else stream.write(text)

    def flush(self) -> None:
        self.real.flush()
        if self.target is not None:
            self.target.flush()

    # What code may ask of a real stream (encoding, isatty, fileno, buffer) is the routed stream's answer.
    @property
    def encoding(self) -> str:
        return (self._stream() or self.real).encoding

    def isatty(self) -> bool:
        return (self._stream() or self.real).isatty()

    def fileno(self) -> int:
        return (self._stream() or self.real).fileno()

    def __getattr__(self, name: str) -> object:
        if name in ("real", "target", "thread"):  # not set yet (copy, pickle): no endless recursion
            raise AttributeError(name)
        return getattr(self._stream() or self.real, name)


@contextlib.contextmanager
def _route_this_thread(stream: Literal["stdout", "stderr"], target: TextIO | None) -> Iterator[None]:
    """Send what the calling thread writes to sys.`stream` to `target` (None: drop it) while the block runs."""
    real = getattr(sys, stream)
    setattr(sys, stream, _ThreadRoute(real, target, threading.get_ident()))
    try:
        yield
    finally:
        setattr(sys, stream, real)


def _quiet_stderr() -> contextlib.AbstractContextManager[None]:
    """Drop what the calling thread writes to stderr while the block runs; other threads are unaffected."""
    return _route_this_thread("stderr", None)


TRACE_LOCK = threading.RLock()  # one trace at a time per process (see the module docstring)
# What a user's model may raise while it is imported, built or traced that is reported as one line: sys.exit()
# too (SystemExit), but not KeyboardInterrupt, which is the person at the keyboard stopping the command.
USER_CODE_ERRORS = (Exception, SystemExit)


@contextlib.contextmanager
def running_user_code() -> Iterator[None]:
    """Around importing, building or tracing a model: what it prints goes to stderr, so stdout stays the
    command's own (`--json` must parse). The swap of sys.stdout is process-wide, so one block at a time."""
    with TRACE_LOCK, _route_this_thread("stdout", sys.stderr):
        yield


def _trace_export(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype) -> TracedGraph:
    example = _example_input(model, shape, dtype)
    # export prints the partial graph and logs hints when it fails; the caller reports one line instead.
    with warnings.catch_warnings(), _quiet_stderr(), _quiet_torch_logs():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (example,), strict=False)
    signature = program.graph_signature
    constants = set(signature.inputs_to_buffers) | set(signature.inputs_to_lifted_tensor_constants)
    return TracedGraph(program.graph, "export", model, {}, dict(signature.inputs_to_parameters), constants)


@contextlib.contextmanager
def _restoring_globals() -> Iterator[None]:
    """Put back every process-wide thing a tracer may leave changed: the patched nn.Module methods, stderr,
    the warning filters and the torch logger level."""
    call, getattr_ = nn.Module.__call__, nn.Module.__getattr__
    stderr, filters = sys.stderr, list(warnings.filters)
    level = logging.getLogger("torch").level
    try:
        yield
    finally:
        nn.Module.__call__, nn.Module.__getattr__ = call, getattr_
        sys.stderr = stderr
        warnings.filters[:] = filters
        logging.getLogger("torch").setLevel(level)


def trace(model: nn.Module, input_shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> TracedGraph:
    """Trace with torch.fx, falling back to torch.export; one clear error if neither can. Thread-safe."""
    if any(d <= 0 for d in input_shape):
        raise CostModelError(f"input shape {input_shape} has a non-positive size", "give sizes like 1,3,224,224")
    with running_user_code(), _restoring_globals():
        return _trace_either(model.eval(), input_shape, dtype)


def _opaque_functions(traced: TracedGraph) -> list[str]:
    """Python functions that torch.fx kept whole (`torch.fx.wrap`, e.g. torchvision's shifted_window_attention)
    and that the op table does not know: torch.export sees through them into ATen ops it can cost."""
    return [node.name for node in traced.graph.nodes if node.op == "call_function"
            and isinstance(node.target, types.FunctionType)
            and str(node.target.__module__).split(".")[0] not in ("torch", "_operator")
            and function_spec(raw_function_name(node.target)) is None]


def _trace_either(model: nn.Module, input_shape: tuple[int, ...], dtype: torch.dtype) -> TracedGraph:
    try:
        traced = _trace_fx(model, input_shape, dtype)
        if not _opaque_functions(traced):
            return traced
        with contextlib.suppress(*USER_CODE_ERRORS):  # export failed too: the fx graph, opaque functions unknown
            return _trace_export(model, input_shape, dtype)
        return traced
    except USER_CODE_ERRORS as fx_error:  # noqa: BLE001 - any fx failure means: try the other tracer
        try:
            return _trace_export(model, input_shape, dtype)
        except USER_CODE_ERRORS as export_error:  # noqa: BLE001
            raise CostModelError(
                f"model could not be traced for input {tuple(input_shape)}: torch.fx said "
                f"'{first_line(fx_error)}', torch.export said '{first_line(export_error)}'", untraceable_hint(model),
            ) from export_error


# What an untraced model's error tells the user to do. Their own model's forward() is theirs to change; a
# library's model (costmodel.sources.hub) carries a hint of its own, set with `set_untraceable_hint`.
USER_CODE_HINT = "check the input shape, or remove data-dependent Python control flow from forward()"
_HINT_ATTRIBUTE = "_costmodel_untraceable_hint"


def set_untraceable_hint(model: nn.Module, hint: str) -> nn.Module:
    """Make `hint` the fix an error names if `model` cannot be traced (instead of USER_CODE_HINT); `model`."""
    vars(model)[_HINT_ATTRIBUTE] = hint
    return model


def untraceable_hint(model: nn.Module) -> str:
    """The fix to name when `model` cannot be traced: its own hint if it has one, else USER_CODE_HINT."""
    hint = vars(model).get(_HINT_ATTRIBUTE)
    return hint if isinstance(hint, str) and hint else USER_CODE_HINT


def first_line(error: BaseException) -> str:
    """'ValueError: its first line' (the type alone when the message is empty, as sys.exit() leaves it): the
    one line a report quotes of an error from a user's code or a tracer."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__)[:300]
