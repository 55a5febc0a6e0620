"""Turn a traced fx graph into the networkx op graph: one node per op with its kind and costs, one edge per
tensor that flows between ops.

Structural nodes (shape arithmetic, tuple indexing, parameter reads) are not ops and leave no node; their
tensors pass through. Deployment rules applied here: BatchNorm right after a conv/linear is folded into it
(switchable), dropout is identity, and a transpose only costs when a later reshape or .contiguous() copies
it, or a matmul/einsum copies it before its GEMM (costmodel/engine/copies.py decides both as ATen does).
"""
from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import networkx as nx
import torch
from torch import fx, nn

from costmodel.engine.attrs import ATTRIBUTE_COLUMNS, CallContext
from costmodel.engine.kinds import OpKind, category, launches_kernel
from costmodel.engine.opcosts import CostFn, OpCall, OpCost, Shape
from costmodel.engine.copies import COPY_INSIDE, MAY_COPY, copies_inside, copies_its_input, is_channel_shuffle
from costmodel.engine.ops import BY_NAME, OpSpec, function_spec, kernel_hint
from costmodel.engine.ops import module_spec, raw_function_name
from costmodel.engine.trace import TracedGraph

TOP_BLOCK = "(top)"
OpHandles = Mapping[str, "CostFn | None"]


@dataclass
class _Tensor:
    """An activation flowing in the graph: who produced it, its shape and dtype."""

    producer: str | None  # op node name; None for the graph input
    shape: Shape
    dtype: torch.dtype | None = None


@dataclass
class _Param:
    qualname: str
    shape: Shape


@dataclass
class _Const:
    """A value that does not depend on the input (position tables, masks, a parameter reshaped): computed
    once, folded away, never charged. The op that uses it reads it like a parameter and owns `params`."""

    shape: Shape
    params: list[_Param]


@dataclass
class _Op:
    """An op under construction; costed once the walk (and BN folding) is done."""

    name: str
    op: str
    spec: OpSpec | None
    target: str
    module: str
    inputs: list[_Tensor]
    params: list[_Param]  # the model's parameters this op owns (a folded BN's included)
    reads: list[Shape]  # parameter tensors the deployed op reads
    outputs: list[Shape]
    dtype: torch.dtype
    attrs: dict[str, object] = field(default_factory=dict)
    bn_folded: bool = False


def _is_tensor_meta(meta: object) -> bool:
    return hasattr(meta, "shape") and hasattr(meta, "dtype")


def _flat_tensor_metas(meta: object) -> list[object]:
    """Tensor leaves of an output, in order (an LSTM returns (out, (h, c)))."""
    if _is_tensor_meta(meta):
        return [meta]
    if isinstance(meta, (tuple, list)):
        return [leaf for item in meta for leaf in _flat_tensor_metas(item)]
    return []


def _tree_of(meta: object, leaves: Iterator[object]) -> object:
    """The output's nested tuple structure with each tensor replaced by the next of `leaves`."""
    if _is_tensor_meta(meta):
        return next(leaves)
    if isinstance(meta, (tuple, list)):
        return tuple(_tree_of(item, leaves) for item in meta)
    return None


def _module_path(node: fx.Node) -> str:
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return str(list(stack.values())[-1][0]) if stack else ""


def _flat_args(node: fx.Node) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return found


def _flat_values(values: list[object]) -> list[object]:
    """Values with tuples (a sliced tuple of split outputs) opened into their items."""
    return [leaf for v in values for leaf in (_flat_values(list(v)) if isinstance(v, tuple) else [v])]


def _shape(meta: object) -> Shape:
    return tuple(int(d) for d in meta.shape)


class _Walker:
    """One pass over the fx graph in execution order, resolving each node to an op, a value, or nothing."""

    def __init__(self, traced: TracedGraph, fold_bn: bool) -> None:
        self.traced = traced
        self.fold_bn = fold_bn
        self.values: dict[str, object] = {}
        self.ops: dict[str, _Op] = {}
        # Users that compute a tensor: a shape check (x.ndim, torch._assert) on a conv output does not keep
        # the BatchNorm after it from folding.
        self.users = {n.name: sum(1 for u in n.users if _flat_tensor_metas(u.meta.get("val")))
                      for n in traced.graph.nodes}

    def run(self) -> list[_Op]:
        for node in self.traced.graph.nodes:
            self._visit(node)
        return list(self.ops.values())

    def _visit(self, node: fx.Node) -> None:
        meta = node.meta.get("val")
        leaves = _flat_tensor_metas(meta)
        shapes = [_shape(m) for m in leaves]
        if node.op in ("placeholder", "get_attr"):
            if node.name in self.traced.param_nodes:
                self.values[node.name] = _Param(self.traced.param_nodes[node.name], shapes[0] if shapes else ())
            elif node.name not in self.traced.constant_nodes and shapes:
                self.values[node.name] = _Tensor(None, shapes[0], dtype=leaves[0].dtype)
            return
        if node.op == "output" or not shapes:
            return  # shape arithmetic and other non-tensor values are not ops
        args = [self.values.get(a.name) for a in _flat_args(node)]
        if node.target is operator.getitem and isinstance(args[0], tuple):
            self.values[node.name] = args[0][node.args[1]]
            return
        args = _flat_values(args)
        spec = self._spec(node)
        if spec is not None and spec.constant or not any(isinstance(a, _Tensor) for a in args):
            self._fold(node, meta, args)
            return
        self._add_op(node, meta, args, spec, shapes, leaves)

    def _fold(self, node: fx.Node, meta: object, args: list[object]) -> None:
        """A node whose value does not depend on the input: a constant carrying the parameters it reads."""
        params = [a for a in args if isinstance(a, _Param)]
        params += [p for a in args if isinstance(a, _Const) for p in a.params]
        if node.op == "call_module":
            params += self._module_params(node)
        self.values[node.name] = _tree_of(meta, iter(_Const(_shape(m), params) for m in _flat_tensor_metas(meta)))

    def _spec(self, node: fx.Node) -> OpSpec | None:
        if node.op == "call_module":
            return module_spec(self.traced.leaf_modules[node.target])
        return function_spec(self._raw(node))

    def _raw(self, node: fx.Node) -> str:
        if node.op == "call_module":
            spec = module_spec(self.traced.leaf_modules[node.target])
            return spec.name if spec else type(self.traced.leaf_modules[node.target]).__name__
        return raw_function_name(node.target)

    def _target(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"nn.{type(self.traced.leaf_modules[node.target]).__name__}"
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        return str(node.target) if self.traced.tracer == "export" else getattr(node.target, "__name__", "?")

    def _module_params(self, node: fx.Node) -> list[_Param]:
        module: nn.Module = self.traced.leaf_modules[node.target]
        return [_Param(f"{node.target}.{n}", tuple(p.shape)) for n, p in module.named_parameters()]

    def _attributes(self, node: fx.Node, spec: OpSpec | None, inputs: list[_Tensor], leaves: list[object]
                    ) -> dict[str, object]:
        """The op's own attributes (from its module or arguments) and the shapes of its tensor operands."""
        def value(n: fx.Node) -> object:
            return n.meta.get("val")

        args = fx.node.map_arg(node.args, value)
        operands = [_shape(v)
                    for v in _flat_tensor_metas(list(args) + list(fx.node.map_arg(node.kwargs, value).values()))]
        found: dict[str, object] = {"operands": operands}
        if spec is not None and spec.attrs is not None:
            module = self.traced.leaf_modules[node.target] if node.op == "call_module" else None
            context = CallContext(
                self._raw(node), module, tuple(args), dict(fx.node.map_arg(node.kwargs, value)),
                tuple(t.dtype for t in inputs), leaves[0].dtype, tuple(_shape(m) for m in leaves))
            found.update(spec.attrs(context))
        return found

    def _add_op(self, node: fx.Node, meta: object, args: list[object], spec: OpSpec | None, shapes: list[Shape],
                leaves: list[object]) -> None:
        inputs = [a for a in args if isinstance(a, _Tensor)]
        module_params = self._module_params(node) if node.op == "call_module" else []
        reads = [a.shape for a in args if isinstance(a, (_Param, _Const))] + [p.shape for p in module_params]
        owned = [p for a in args for p in ([a] if isinstance(a, _Param) else a.params if isinstance(a, _Const) else [])]
        params = list({p.qualname: p for p in owned + module_params}.values())
        raw = self._raw(node)
        name = spec.name if spec else self._target(node)
        operands = self._operands(node) if raw in MAY_COPY else []
        if operands and copies_its_input(leaves[0], operands[0][1]):
            name = "channel_shuffle" if is_channel_shuffle(operands[0][1]) else "copy"
            spec = BY_NAME[name]
        elif raw in COPY_INSIDE:
            inputs = self._copies_inside(node, inputs)
        if name == "batch_norm" and self.fold_bn and self._fold_into_producer(node.name, inputs, params):
            return
        op = _Op(node.name, name, spec, self._target(node), _module_path(node), inputs, params, reads, shapes,
                 leaves[0].dtype, self._attributes(node, spec, inputs, leaves))
        last = self._add_parts(op, module_params) if spec is not None and spec.parts else None
        if last is None:
            self.ops[node.name] = op
        self.values[node.name] = _tree_of(meta, iter(_Tensor(last or node.name, s, m.dtype)
                                                     for s, m in zip(shapes, leaves)))

    def _operands(self, node: fx.Node) -> list[tuple[_Tensor, torch.Tensor]]:
        """Each activation the node reads, with the meta/fake tensor the trace computed for it."""
        pairs = []
        for arg in _flat_args(node):
            values, metas = _flat_values([self.values.get(arg.name)]), _flat_tensor_metas(arg.meta.get("val"))
            if len(values) == len(metas):
                pairs += [(v, m) for v, m in zip(values, metas) if isinstance(v, _Tensor)]
        return pairs

    def _rerun(self, node: fx.Node) -> object:
        """The node's call again, on the trace's meta/fake tensors (no data is computed)."""
        args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda n: n.meta.get("val"))
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        return node.target(*args, **kwargs)

    def _copies_inside(self, node: fx.Node, inputs: list[_Tensor]) -> list[_Tensor]:
        """A matmul/einsum whose operand's strides do not fold into a batched GEMM copies it first: that copy
        becomes an op of its own, and the GEMM reads the copy."""
        operands = self._operands(node)
        inputs = list(inputs)
        for i, (source, shape) in enumerate(copies_inside(lambda: self._rerun(node), [m for _, m in operands])):
            tensor = operands[source][0]
            name = f"{node.name}_copy{i}"
            self.ops[name] = _Op(name, "copy", BY_NAME["copy"], self._target(node), _module_path(node), [tensor],
                                 [], [], [shape], tensor.dtype or torch.float32, {"operands": [tensor.shape]})
            inputs = [_Tensor(name, shape, tensor.dtype) if t is tensor else t for t in inputs]
        return inputs

    def _add_parts(self, op: _Op, module_params: list[_Param]) -> str | None:
        """A module that runs as several kernels becomes a chain of ops, one per kernel, each owning its
        parameters; the name of the last, or None when the table's parts do not apply to this call."""
        call = OpCall(tuple(t.shape for t in op.inputs), tuple(op.outputs), tuple(op.reads), op.attrs)
        parts = op.spec.parts(call)
        previous: str | None = None
        for part in parts:
            name = f"{op.name}_{part.suffix}"
            inputs = (op.inputs[:len(part.inputs)] if previous is None
                      else [_Tensor(previous, shape, dtype=op.dtype) for shape in part.inputs])
            owned = [p for p in module_params if p.qualname[len(op.module) + 1:].startswith(part.params)]
            self.ops[name] = _Op(name, part.op, BY_NAME[part.op], op.target, op.module, inputs, owned,
                                 [p.shape for p in owned], list(part.outputs), op.dtype,
                                 {"operands": [t.shape for t in inputs], **part.attrs})
            previous = name
        return previous

    def _fold_into_producer(self, name: str, inputs: list[_Tensor], bn_params: list[_Param]) -> bool:
        """Fold BN into the conv/linear that feeds only it: the conv owns the BN's parameters (the model's
        parameter count is unchanged) and, if it had none, reads a bias at inference."""
        producer = self.ops.get(inputs[0].producer) if inputs and inputs[0].producer else None
        if producer is None or producer.op not in ("conv", "linear") or self.users[producer.name] != 1:
            return False
        if len(producer.reads) < 2:
            producer.reads.append((producer.outputs[0][1],))
        producer.params += bn_params
        producer.bn_folded = True
        self.values[name] = inputs[0]
        return True


class _BlockResolver:
    """A block is the top-level repeated unit: the first module on the path that is an item of an
    nn.Sequential/ModuleList and is itself a composite module (not a container); otherwise the top-level
    child (stem, head), or TOP_BLOCK for ops written in the root's forward."""

    def __init__(self, root: nn.Module) -> None:
        self.modules = dict(root.named_modules())
        self.cache: dict[str, tuple[str, bool]] = {}

    def __call__(self, path: str) -> tuple[str, bool]:
        if path not in self.cache:
            self.cache[path] = self._resolve(path)
        return self.cache[path]

    def _resolve(self, path: str) -> tuple[str, bool]:
        if not path:
            return TOP_BLOCK, False
        parts = path.split(".")
        containers = (nn.Sequential, nn.ModuleList)
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            module, parent = self.modules.get(prefix), self.modules.get(".".join(parts[: i - 1]))
            if (isinstance(parent, containers) and module is not None and not isinstance(module, containers)
                    and any(True for _ in module.children())):
                return prefix, True
        return parts[0], False


def _numel(shape: Shape) -> int:
    return math.prod(shape)


def _override_keys(op: _Op) -> tuple[str, ...]:
    """The op_handles keys that name `op`: its canonical name, its target, and the target's last part, so that
    'cumsum' names both torch.cumsum and Tensor.cumsum."""
    return op.op, op.target, op.target.rpartition(".")[2]


def _handle(op: _Op, op_handles: OpHandles) -> tuple[CostFn | None, bool]:
    """(cost handle, ignored): a per-analysis override by canonical op name or target, else the table's."""
    for key in _override_keys(op):
        if key in op_handles:
            return op_handles[key], op_handles[key] is None
    return (op.spec.cost if op.spec else None), False


def _warn_unmatched(ops: list[_Op], op_handles: OpHandles) -> None:
    """A key that names no op of the model is most likely a typo: the table's cost stood where the caller meant
    to override it, so say so instead of silently keeping it."""
    named = {key for op in ops for key in _override_keys(op)}
    for key in sorted(set(op_handles) - named):
        warnings.warn(f"op_handles key {key!r} names no op of this model (keys are canonical op names such as "
                      f"'gelu' or an op's target such as 'Tensor.cumsum'); it was not applied", stacklevel=4)


def _cost(op: _Op, op_handles: OpHandles) -> tuple[OpCost | None, OpKind, str]:
    """(cost, kind, status) of an op: unknown ops and ignored ones cost nothing and say so in `status`."""
    handle, ignored = _handle(op, op_handles)
    if ignored:
        return None, OpKind.OTHER, "ignored"
    if handle is None:
        return None, OpKind.UNKNOWN, "unknown"
    call = OpCall(tuple(t.shape for t in op.inputs), tuple(op.outputs), tuple(op.reads), op.attrs)
    cost = handle(call)
    return cost, cost.kind or (op.spec.kind if op.spec else OpKind.OTHER), "complete"


def build_op_graph(traced: TracedGraph, *, fold_bn: bool = True, bytes_per_element: int | None = None,
                   op_handles: OpHandles | None = None) -> nx.DiGraph:
    """The op graph: node attributes hold every per-op metric and attribute; edges hold the tensor that flows.
    `op_handles` maps a canonical op name (or an op's target, or its last part) to a cost handle, or to None to
    ignore it, for this graph only; a key that names no op is a warning."""
    ops = _Walker(traced, fold_bn).run()
    _warn_unmatched(ops, op_handles or {})
    blocks = _BlockResolver(traced.root)
    graph = nx.DiGraph(tracer=traced.tracer, bn_folded=fold_bn)
    seen_params: set[str] = set()
    for order, op in enumerate(ops):
        cost, kind, status = _cost(op, op_handles or {})
        width = bytes_per_element or op.dtype.itemsize
        new_params = [p for p in op.params if p.qualname not in seen_params]
        seen_params.update(p.qualname for p in new_params)
        block, is_unit = blocks(op.module)
        mac = cost.mac if cost else 0
        unfused = cost.extra.get("mac_unfused") if cost else None
        graph.add_node(
            op.name, order=order, op=op.op, kind=kind.value, category=category(kind), target=op.target,
            module=op.module, block=block, block_is_unit=is_unit,
            input_shapes=[t.shape for t in op.inputs], output_shapes=op.outputs, dtype=str(op.dtype).split(".")[-1],
            flops=cost.flops if cost else 0, params=sum(_numel(p.shape) for p in new_params),
            mac_elements=mac, mac_bytes=mac * width, elementwise_elements=cost.elementwise if cost else 0,
            is_elementwise=kind is OpKind.ELEMENTWISE, is_data_movement=kind in (OpKind.DATA_MOVEMENT, OpKind.SHUFFLE),
            launches_kernel=launches_kernel(kind), bn_folded=op.bn_folded, status=status,
            kernel_hint=kernel_hint(op.spec, kind, op.attrs) if status == "complete" else "other",
            mac_unfused_elements=unfused, **{c: op.attrs.get(c) for c in ATTRIBUTE_COLUMNS},
        )
        for tensor in op.inputs:
            if tensor.producer is not None and tensor.producer in graph:
                size = _numel(tensor.shape)
                graph.add_edge(tensor.producer, op.name, shape=tensor.shape, elements=size, bytes=size * width)
    return graph
