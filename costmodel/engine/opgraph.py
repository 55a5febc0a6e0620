"""Turn a traced fx graph into the networkx op graph: one node per op with its kind and costs, one edge per
tensor that flows between ops.

Structural nodes (shape arithmetic, tuple indexing, parameter reads) are not ops and leave no node; their
tensors pass through. Deployment rules applied here: BatchNorm right after a conv/linear is folded into it
(switchable), dropout is identity, and a transpose only costs when a later reshape or .contiguous() copies
it (the copy of a 5-D channel-group transpose is a channel shuffle).
"""
from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx
import torch
from torch import fx, nn

from costmodel.engine.kinds import OpKind, category, launches_kernel
from costmodel.engine.opcosts import OpCall, Shape, cost_of
from costmodel.engine.opnames import COPY_IF_STRIDED, PERMUTING, canonical, is_known_function, module_op_name
from costmodel.engine.opnames import raw_function_name
from costmodel.engine.trace import TracedGraph

TOP_BLOCK = "(top)"


@dataclass
class _Tensor:
    """An activation flowing in the graph: who produced it, its shape, whether its strides are permuted."""

    producer: str | None  # op node name; None for the graph input
    shape: Shape
    strided: bool = False


@dataclass
class _Param:
    qualname: str
    shape: Shape


@dataclass
class _Op:
    """An op under construction; costed once the walk (and BN folding) is done."""

    name: str
    op: str
    known: bool
    target: str
    module: str
    inputs: list[_Tensor]
    params: list[_Param]  # the model's parameters this op owns (a folded BN's included)
    reads: list[Shape]  # parameter tensors the deployed op reads
    outputs: list[Shape]
    dtype: torch.dtype
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


def _tree_of(meta: object, leaves: Iterator[_Tensor]) -> object:
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


class _Walker:
    """One pass over the fx graph in execution order, resolving each node to an op, a value, or nothing."""

    def __init__(self, traced: TracedGraph, fold_bn: bool) -> None:
        self.traced = traced
        self.fold_bn = fold_bn
        self.values: dict[str, object] = {}
        self.ops: dict[str, _Op] = {}
        self.users = {n.name: len(n.users) for n in traced.graph.nodes}

    def run(self) -> list[_Op]:
        for node in self.traced.graph.nodes:
            self._visit(node)
        return list(self.ops.values())

    def _visit(self, node: fx.Node) -> None:
        meta = node.meta.get("val")
        leaves = _flat_tensor_metas(meta)
        shapes = [tuple(int(d) for d in m.shape) for m in leaves]
        if node.op in ("placeholder", "get_attr"):
            if node.name in self.traced.param_nodes:
                self.values[node.name] = _Param(self.traced.param_nodes[node.name], shapes[0] if shapes else ())
            elif node.name not in self.traced.constant_nodes and shapes:
                self.values[node.name] = _Tensor(None, shapes[0])
            return
        if node.op == "output" or not shapes:
            return  # shape arithmetic and other non-tensor values are not ops
        args = [self.values.get(a.name) for a in _flat_args(node)]
        if node.target is operator.getitem and isinstance(args[0], tuple):
            self.values[node.name] = args[0][node.args[1]]
            return
        self._add_op(node, meta, args, shapes, leaves[0].dtype)

    def _raw_name(self, node: fx.Node) -> str | None:
        if node.op == "call_module":
            return module_op_name(self.traced.leaf_modules[node.target])
        raw = raw_function_name(node.target)
        return raw if is_known_function(raw) else None

    def _target(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"nn.{type(self.traced.leaf_modules[node.target]).__name__}"
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        return str(node.target) if self.traced.tracer == "export" else getattr(node.target, "__name__", "?")

    def _add_op(self, node: fx.Node, meta: object, args: list[object], shapes: list[Shape], dtype: torch.dtype
                ) -> None:
        inputs = [a for a in args if isinstance(a, _Tensor)]
        params = [a for a in args if isinstance(a, _Param)]
        if node.op == "call_module":
            module: nn.Module = self.traced.leaf_modules[node.target]
            params += [_Param(f"{node.target}.{n}", tuple(p.shape)) for n, p in module.named_parameters()]
        raw = self._raw_name(node)
        name = canonical(raw) if raw else self._target(node)
        strided = False
        if name in ("view", "identity") and inputs:
            strided = inputs[0].strided or raw in PERMUTING
            if inputs[0].strided and raw in COPY_IF_STRIDED:
                name, strided = ("channel_shuffle" if len(inputs[0].shape) == 5 else "copy"), False
        if name == "batch_norm" and self.fold_bn and self._fold_into_producer(node.name, inputs, params):
            return
        self.ops[node.name] = _Op(node.name, name, raw is not None, self._target(node), _module_path(node),
                                  inputs, params, [p.shape for p in params], shapes, dtype)
        self.values[node.name] = _tree_of(meta, iter(_Tensor(node.name, s, strided) for s in shapes))

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


def build_op_graph(traced: TracedGraph, *, fold_bn: bool = True, bytes_per_element: int | None = None
                   ) -> nx.DiGraph:
    """The op graph: node attributes hold every per-op metric; edges hold the tensor that flows."""
    ops = _Walker(traced, fold_bn).run()
    blocks = _BlockResolver(traced.root)
    graph = nx.DiGraph(tracer=traced.tracer, bn_folded=fold_bn)
    seen_params: set[str] = set()
    for order, op in enumerate(ops):
        cost = cost_of(op.op, OpCall(tuple(t.shape for t in op.inputs), tuple(op.outputs), tuple(op.reads)))
        kind = cost.kind if cost and op.known else OpKind.UNKNOWN
        width = bytes_per_element or op.dtype.itemsize
        new_params = [p for p in op.params if p.qualname not in seen_params]
        seen_params.update(p.qualname for p in new_params)
        block, is_unit = blocks(op.module)
        mac = cost.mac if cost and op.known else 0
        graph.add_node(
            op.name, order=order, op=op.op, kind=kind.value, category=category(kind), target=op.target,
            module=op.module, block=block, block_is_unit=is_unit,
            input_shapes=[t.shape for t in op.inputs], output_shapes=op.outputs, dtype=str(op.dtype).split(".")[-1],
            flops=cost.flops if cost and op.known else 0, params=sum(_numel(p.shape) for p in new_params),
            mac_elements=mac, mac_bytes=mac * width, elementwise_elements=cost.elementwise if cost else 0,
            is_elementwise=kind is OpKind.ELEMENTWISE, is_data_movement=kind in (OpKind.DATA_MOVEMENT, OpKind.SHUFFLE),
            launches_kernel=launches_kernel(kind), bn_folded=op.bn_folded,
            status="complete" if kind is not OpKind.UNKNOWN else "unknown",
        )
        for tensor in op.inputs:
            if tensor.producer is not None and tensor.producer in graph:
                size = _numel(tensor.shape)
                graph.add_edge(tensor.producer, op.name, shape=tensor.shape, elements=size, bytes=size * width)
    return graph
