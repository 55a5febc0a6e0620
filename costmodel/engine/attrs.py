"""Op attributes read from the call itself: the leaf module (torch.fx) or the function/ATen arguments
(torch.export), never re-derived from FLOPs. Every node of the op graph carries the columns ATTRIBUTE_COLUMNS
(None where they do not apply); docs/readme/engine-columns.md lists what each means.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

ATTRIBUTE_COLUMNS = (
    "kernel_size", "stride", "padding", "dilation", "groups", "transposed", "in_channels", "out_channels",
    "in_features", "out_features", "dims",
)


@dataclass(frozen=True)
class CallContext:
    """One call as the attribute readers see it: tensor arguments replaced by their meta/fake values."""

    raw: str  # the bare function/method/ATen name, or the leaf module's op name
    module: nn.Module | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    in_dtypes: tuple[object, ...] = ()
    out_dtype: object = None
    out_shapes: tuple[tuple[int, ...], ...] = ()

    def arg(self, position: int, name: str, default: Any = None) -> Any:
        if name in self.kwargs:
            return self.kwargs[name]
        return self.args[position] if len(self.args) > position else default

    @property
    def rank(self) -> int:
        """Rank of the first tensor argument (0 if there is none)."""
        first = next((a for a in self.args if hasattr(a, "shape")), None)
        return len(first.shape) if first is not None else 0


AttrFn = Callable[[CallContext], dict[str, object]]


def _tuple(value: Any, n: int) -> tuple[int, ...] | str | None:
    """An int or a sequence as an n-tuple of ints ('same'/'valid' padding strings stay as they are)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        values = tuple(int(v) for v in value)
        return values * n if len(values) == 1 and n > 1 else values
    return (int(value),) * n


def _dims(dims: Any, rank: int) -> tuple[int, ...] | None:
    if dims is None:
        return None
    values = dims if isinstance(dims, Sequence) else (dims,)
    return tuple(sorted(int(d) % rank for d in values)) if rank else tuple(int(d) for d in values)


# Positions of stride, padding, dilation, transposed, groups in each conv call's signature.
_CONV_ARGS = {
    "conv": (3, 4, 5, None, 6),  # conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups)
    "conv_transpose": (3, 4, 7, None, 6),  # (input, weight, bias, stride, padding, output_padding, groups, dilation)
    "convolution": (3, 4, 5, 6, 8),  # aten (input, weight, bias, stride, padding, dilation, transposed, _, groups)
}


def conv_attrs(ctx: CallContext) -> dict[str, object]:
    weight = ctx.module.weight if ctx.module is not None else ctx.arg(1, "weight")
    spatial = len(weight.shape) - 2
    in_channels, out_channels = int(ctx.args[0].shape[1]), int(ctx.out_shapes[0][1])
    if ctx.module is not None:
        m = ctx.module
        stride, padding, dilation, groups = m.stride, m.padding, m.dilation, m.groups
        transposed = isinstance(m, nn.modules.conv._ConvTransposeNd)
    else:
        family = ("conv_transpose" if ctx.raw.startswith("conv_transpose")
                  else "convolution" if "convolution" in ctx.raw else "conv")
        s, p, d, t, g = _CONV_ARGS[family]
        stride, padding, dilation = ctx.arg(s, "stride", 1), ctx.arg(p, "padding", 0), ctx.arg(d, "dilation", 1)
        transposed = bool(ctx.arg(t, "transposed", False)) if t else family == "conv_transpose"
        groups = ctx.arg(g, "groups", 1)
    return {"kernel_size": tuple(int(k) for k in weight.shape[2:]), "stride": _tuple(stride, spatial),
            "padding": _tuple(padding, spatial), "dilation": _tuple(dilation, spatial), "groups": int(groups),
            "transposed": transposed, "in_channels": in_channels, "out_channels": out_channels}


def linear_attrs(ctx: CallContext) -> dict[str, object]:
    weight = ctx.module.weight if ctx.module is not None else ctx.arg(1, "weight")
    return {"in_features": int(weight.shape[1]), "out_features": int(weight.shape[0])}


def pool_attrs(ctx: CallContext) -> dict[str, object]:
    """Window pooling: kernel, stride (default: the kernel), padding, dilation; adaptive: none of these."""
    spatial = max(1, ctx.rank - 2)
    if ctx.module is not None:
        m = ctx.module
        kernel, stride = getattr(m, "kernel_size", None), getattr(m, "stride", None)
        padding, dilation = getattr(m, "padding", 0), getattr(m, "dilation", 1)
    else:
        kernel, stride = ctx.arg(1, "kernel_size"), ctx.arg(2, "stride")
        padding = ctx.arg(3, "padding", 0)
        dilation = ctx.arg(4, "dilation", 1) if "max" in ctx.raw else 1
    if kernel is None or ctx.raw.startswith(("adaptive", "_adaptive")):
        return {}
    return {"kernel_size": _tuple(kernel, spatial), "stride": _tuple(stride or kernel, spatial),
            "padding": _tuple(padding, spatial), "dilation": _tuple(dilation, spatial)}


def dim_attrs(ctx: CallContext) -> dict[str, object]:
    """Dims a reduction or softmax works along (`dim` of the call or module)."""
    dims = getattr(ctx.module, "dim", None) if ctx.module is not None else ctx.arg(1, "dim")
    return {"dims": _dims(dims, ctx.rank)}


def norm_attrs(ctx: CallContext) -> dict[str, object]:
    """Dims a layer/RMS norm normalises over (the trailing normalized_shape); group norm: channels and
    spatial dims, with its group count."""
    rank = ctx.rank
    if ctx.raw in ("group_norm", "GroupNorm") or isinstance(ctx.module, nn.GroupNorm):
        groups = ctx.module.num_groups if ctx.module is not None else ctx.arg(1, "num_groups")
        return {"dims": tuple(range(1, rank)), "groups": int(groups)}
    shape = getattr(ctx.module, "normalized_shape", None) if ctx.module is not None else ctx.arg(1, "normalized_shape")
    count = len(shape) if isinstance(shape, Sequence) else 1
    return {"dims": tuple(range(rank - count, rank))}


def einsum_attrs(ctx: CallContext) -> dict[str, object]:
    return {"equation": str(ctx.args[0])}


def attention_module_attrs(ctx: CallContext) -> dict[str, object]:
    m = ctx.module
    query, key, value = ctx.arg(0, "query"), ctx.arg(1, "key"), ctx.arg(2, "value")
    return {"embed_dim": m.embed_dim, "num_heads": m.num_heads, "batch_first": m.batch_first,
            "self_attention": query is key is value}


def added_term_attrs(ctx: CallContext) -> dict[str, object]:
    """addmm/baddbmm/addbmm: operand 0 is added to the product of operands 1 and 2."""
    return {"added_term": True}


def cast_attrs(ctx: CallContext) -> dict[str, object]:
    """Whether a .to()/.type()/.float() changes the dtype (then it is a copy; otherwise free)."""
    return {"converts": bool(ctx.in_dtypes) and ctx.out_dtype != ctx.in_dtypes[0]}


def index_attrs(ctx: CallContext) -> dict[str, object]:
    """Elements of the integer/bool index tensors among the arguments (the source's elements are not read). The
    source is the first argument, except for an embedding, whose first argument is the indices."""
    def leaves(value: Any) -> list[Any]:
        if isinstance(value, (list, tuple)):
            return [leaf for item in value for leaf in leaves(item)]
        return [value] if hasattr(value, "dtype") and not value.dtype.is_floating_point else []

    indices = ctx.args if ctx.module is not None or ctx.raw == "embedding" else ctx.args[1:]
    return {"index_elements": sum(int(t.numel()) for t in leaves(list(indices) + list(ctx.kwargs.values())))}


def recurrent_attrs(ctx: CallContext) -> dict[str, object]:
    """An LSTM/GRU/RNN module's sizes; `gates` is the number of hidden-size matrix products per step."""
    m = ctx.module
    gates = 4 if isinstance(m, nn.LSTM) else 3 if isinstance(m, nn.GRU) else 1
    return {"in_features": m.input_size, "out_features": m.hidden_size, "num_layers": m.num_layers,
            "directions": 2 if m.bidirectional else 1, "gates": gates}
