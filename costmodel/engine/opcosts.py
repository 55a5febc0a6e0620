"""Cost handles: small pure functions from an op call (shapes and attributes) to FLOPs and MAC.

The op table (costmodel.engine.ops) names which handle costs which op; this module only holds the formulas.
Conventions (docs/readme/engine.md): FLOPs are multiply-adds and only dense arithmetic (conv, linear, matmul,
attention) has them; elementwise work is counted separately as elements processed; MAC is elements read +
written (inputs, parameters, outputs), assuming a cache big enough for the op's own tensors (ShuffleNet V2's
assumption). Data movement (concat, split, slice, pad, gather, the channel-shuffle copy) has MAC and no FLOPs.
"""
from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, Mapping

from costmodel.engine.kinds import OpKind

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OpCall:
    """What a cost handle sees: activation inputs, parameter tensors read, outputs, and attributes (the op's
    own, see costmodel.engine.attrs, plus `operands`: the shapes of every tensor argument in call order)."""

    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    params: tuple[Shape, ...] = ()
    attrs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OpCost:
    """An op's cost; `kind` None means the op table's kind for the op."""

    flops: int = 0  # multiply-adds
    mac: int = 0  # elements read + written
    elementwise: int = 0  # elements processed by elementwise arithmetic (never mixed into flops)
    kind: OpKind | None = None
    extra: Mapping[str, object] = field(default_factory=dict)  # more per-op numbers (e.g. unfused MAC)


CostFn = Callable[[OpCall], OpCost]


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def io_elements(op: OpCall) -> int:
    return sum(map(numel, op.inputs)) + sum(map(numel, op.outputs)) + sum(map(numel, op.params))


def _operands(op: OpCall) -> list[Shape]:
    return list(op.attrs.get("operands") or op.inputs)


def conv_kind(in_channels: int, groups: int) -> OpKind:
    """Dense (g = 1), depthwise (g = C_in) or group conv."""
    if groups == 1:
        return OpKind.CONV
    return OpKind.DEPTHWISE_CONV if groups == in_channels else OpKind.GROUP_CONV


def conv_cost(op: OpCall) -> OpCost:
    """A conv's output element needs C_in/g * prod(k) multiply-adds; a transposed conv scatters every input
    element into C_out/g * prod(k) outputs (its weight is (C_in, C_out/g, k...)). Bias adds are not counted."""
    weight = op.params[0]
    per_element = numel(weight[1:])
    counted = op.inputs[0] if op.attrs.get("transposed") else op.outputs[0]
    in_channels = op.inputs[0][1]
    groups = int(op.attrs.get("groups") or in_channels // weight[1])
    return OpCost(numel(counted) * per_element, io_elements(op), kind=conv_kind(in_channels, groups))


def linear_cost(op: OpCall) -> OpCost:
    weight = op.params[0]
    return OpCost(numel(op.outputs[0]) * weight[1], io_elements(op))


def matmul_cost(op: OpCall) -> OpCost:
    """Matrix product (matmul, mm, bmm): each output element is a dot product over the first operand's last
    dimension. With addmm/baddbmm the product is operands 1 and 2 (operand 0 is the added term)."""
    operands = _operands(op)
    first = operands[1] if op.attrs.get("added_term") else operands[0]
    return OpCost(numel(op.outputs[0]) * first[-1], io_elements(op))


def _einsum_letters(equation: str, operands: Sequence[Shape]) -> tuple[list[str], str]:
    """Input subscripts with '...' expanded into spare letters, and the output subscript (implicit form: the
    letters used once, sorted, after the broadcast dims)."""
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    spare = [c for c in string.ascii_letters if c not in equation]
    covered = [len(shape) - (len(term) - 3) if "..." in term else 0 for term, shape in zip(terms, operands)]
    ellipsis = "".join(spare[:max(covered, default=0)])
    expanded = [term.replace("...", ellipsis[len(ellipsis) - n:]) for term, n in zip(terms, covered)]
    if not arrow:
        letters = "".join(expanded)
        output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
    return expanded, output.replace("...", ellipsis)


def einsum_flops(equation: str, operands: Sequence[Shape]) -> int:
    """Multiply-adds of an einsum contracted pairwise left to right: each pairwise step costs the product of
    the sizes of every index in either operand (one multiply-add per combination)."""
    terms, output = _einsum_letters(equation, operands)
    size: dict[str, int] = {}
    for term, shape in zip(terms, operands):
        size.update({c: max(size.get(c, 1), d) for c, d in zip(term, shape)})
    flops, current = 0, terms[0]
    for i, term in enumerate(terms[1:], start=1):
        union = set(current) | set(term)
        later = set(output).union(*terms[i + 1:])
        flops += math.prod(size[c] for c in union)
        current = "".join(c for c in sorted(union) if c in later)
    return flops


def einsum_cost(op: OpCall) -> OpCost:
    operands = _operands(op)
    flops = einsum_flops(str(op.attrs["equation"]), operands) if len(operands) > 1 else 0
    return OpCost(flops, io_elements(op))


def attention_parts(q: Shape, k: Shape, v: Shape) -> tuple[int, int]:
    """(multiply-adds, elements of the score matrix) of softmax(Q K^T) V over leading batch/head dims:
    Q K^T costs L*S*E per batch-head and A V costs L*S*E_v."""
    batch, length, depth = numel(q[:-2]), q[-2], q[-1]
    keys = k[-2]
    return batch * length * keys * (depth + v[-1]), batch * length * keys


def sdpa_cost(op: OpCall) -> OpCost:
    """scaled_dot_product_attention. MAC is a fused kernel's (reads Q, K, V, any mask, writes the output;
    the L x S scores never reach memory), the kernel PyTorch dispatches to; `mac_unfused` adds the
    sequence QK^T -> softmax -> AV, which writes the scores, reads and writes them in softmax and reads
    them in AV (4 x L x S per batch-head)."""
    q, k, v = _operands(op)[:3]
    flops, scores = attention_parts(q, k, v)
    mac = io_elements(op)
    return OpCost(flops, mac, extra={"mac_unfused": mac + 4 * scores})


def multihead_attention_cost(op: OpCall) -> OpCost:
    """nn.MultiheadAttention as its parts: Q, K, V projections, fused attention, output projection (the
    unfused MAC again in `mac_unfused`). Inputs are query, key, value; (L, N, E) or batch_first (N, L, E)."""
    embed, heads = int(op.attrs["embed_dim"]), int(op.attrs["num_heads"])
    query, key, value = (list(op.inputs) + [op.inputs[0]] * 2)[:3]
    token_dim = 1 if op.attrs.get("batch_first") and len(query) == 3 else 0
    length, keys = query[token_dim], key[token_dim]
    tokens_q, tokens_k = numel(query[:-1]), numel(key[:-1])
    batch = tokens_q // length
    projections = tokens_q * query[-1] * embed + tokens_k * (key[-1] + value[-1]) * embed
    attention = 2 * batch * length * keys * embed
    out_proj = tokens_q * embed * embed
    q_k_v = tokens_q * embed + 2 * tokens_k * embed
    # Projections read the inputs and write Q, K, V; attention reads them and writes its result per head; a
    # copy merges the heads (reads and writes it), and the output projection reads it before writing the output.
    mac = io_elements(op) + 2 * q_k_v + 4 * tokens_q * embed
    scores = batch * heads * length * keys
    return OpCost(projections + attention + out_proj, mac, extra={"mac_unfused": mac + 4 * scores})


def recurrent_cost(op: OpCall) -> OpCost:
    """LSTM/GRU/RNN: per token, layer and direction, `gates` products of the hidden size with the layer's input
    and with the previous hidden state; the gate nonlinearities are not counted (as for a conv's activation)."""
    a = op.attrs
    hidden, directions, gates = int(a["out_features"]), int(a["directions"]), int(a["gates"])
    tokens = numel(op.inputs[0][:-1])
    flops = sum(tokens * directions * gates * hidden * ((int(a["in_features"]) if layer == 0 else hidden * directions)
                                                        + hidden) for layer in range(int(a["num_layers"])))
    return OpCost(flops, io_elements(op))


@dataclass(frozen=True)
class Part:
    """One kernel of a module that runs as several: its canonical op, shapes, the module parameters it owns
    (by local-name prefix) and its attributes. The first part reads the module's input, each later part the
    output of the one before."""

    suffix: str
    op: str
    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    params: tuple[str, ...] = ()
    attrs: Mapping[str, object] = field(default_factory=dict)


def self_attention_parts(op: OpCall) -> list[Part]:
    """nn.MultiheadAttention with query = key = value, as it runs: the packed Q/K/V projection, a copy that
    splits it into heads (ATen's _transform_bias_rescale_qkv, or .contiguous() outside the fast path), the fused
    attention (QK^T, softmax, AV), a copy that merges the heads, the output projection. Cross-attention stays
    one op (see above)."""
    if not op.attrs.get("self_attention"):
        return []
    x, embed, heads = op.inputs[0], int(op.attrs["embed_dim"]), int(op.attrs["num_heads"])
    token_dim = 1 if op.attrs.get("batch_first") and len(x) == 3 else 0
    length = x[token_dim]
    batch = numel(x[:-1]) // length
    per_head = (batch, heads, length, embed // heads)
    return [
        Part("in_proj", "linear", (x,), ((*x[:-1], 3 * embed),), ("in_proj_", "bias_k", "bias_v", "q_proj_",
             "k_proj_", "v_proj_"), {"in_features": x[-1], "out_features": 3 * embed}),
        Part("split_heads", "copy", ((*x[:-1], 3 * embed),), ((3, *per_head),)),
        Part("attention", "scaled_dot_product_attention", (per_head,) * 3, (per_head,),
             attrs={"operands": [per_head] * 3}),
        Part("merge_heads", "copy", (per_head,), ((*x[:-1], embed),)),
        Part("out_proj", "linear", ((*x[:-1], embed),), ((*x[:-1], embed),), ("out_proj",),
             {"in_features": embed, "out_features": embed}),
    ]


def elementwise_cost(op: OpCall) -> OpCost:
    """Activations, arithmetic, unfused normalisation: one pass over the output, reads of every input."""
    return OpCost(mac=io_elements(op), elementwise=numel(op.outputs[0]))


def io_cost(op: OpCall) -> OpCost:
    """Data movement, pooling, reductions: everything read and written, no arithmetic counted."""
    return OpCost(mac=io_elements(op))


def gather_cost(op: OpCall) -> OpCost:
    """index / gather / index_select / embedding lookup: reads the selected elements (as many as it writes)
    and the indices (attribute `index_elements`), writes the output; the rest of the source is never touched."""
    out = sum(map(numel, op.outputs))
    return OpCost(mac=2 * out + int(op.attrs.get("index_elements", 0)))


def slice_cost(op: OpCall) -> OpCost:
    """Basic slicing copies what it reads; indexing with a tensor (x[idx], x[mask]) is a gather."""
    return gather_cost(op) if op.attrs.get("index_elements") else io_cost(op)


def cast_cost(op: OpCall) -> OpCost:
    """A dtype conversion reads and writes every element; to the same dtype (or only a device) it is free."""
    return OpCost(mac=io_elements(op)) if op.attrs.get("converts") else OpCost(kind=OpKind.VIEW)


def free_cost(op: OpCall) -> OpCost:
    """Reshapes of contiguous tensors, transposes before their copy, dropout at inference: no memory moved."""
    return OpCost()


def g1_lower_bound(hw: float, flops: float) -> float:
    """ShuffleNet V2's G1: the least MAC (elements) of a 1x1 conv with `flops` multiply-adds over `hw` output
    positions, 2*sqrt(hw*B) + B/hw, reached when input and output channels are equal."""
    return 2 * math.sqrt(hw * flops) + flops / hw
