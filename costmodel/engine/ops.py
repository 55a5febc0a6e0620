"""The op table: every op the engine understands, in one place.

One entry per canonical op: its aliases (nn.Module leaf classes of torch.fx traces; function, tensor-method and
ATen names, in-place '_' stripped), its kind, its cost handle (costmodel.engine.opcosts), its kernel-class
hint for the latency model, its attribute reader (costmodel.engine.attrs), whether a leaf module of it keeps
its input's shape (so shape propagation need not run it), and whether it is a constant (its value does not
depend on the input's values, like zeros_like: folded away, never charged). Adding an op is one entry here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import nn

from costmodel.engine import attrs as A
from costmodel.engine import opcosts as C
from costmodel.engine.kinds import CONV_KINDS, OpKind


@dataclass(frozen=True)
class OpSpec:
    name: str
    kind: OpKind
    cost: C.CostFn
    hint: str  # kernel class (costmodel.latency.kernels) of the op, conv flavours refined by kernel_hint
    modules: tuple[type[nn.Module], ...] = ()
    functions: tuple[str, ...] = ()
    attrs: A.AttrFn | None = None
    shape_preserving: bool = False
    constant: bool = False
    parts: Callable[[C.OpCall], list[C.Part]] | None = None  # a module that runs as several kernels


def _activation(name: str, modules: tuple[type[nn.Module], ...], functions: Iterable[str] = (),
                transcendental: bool = False, hint: str | None = None) -> OpSpec:
    """An elementwise activation: shape-preserving, 'activation' hint when it evaluates a transcendental
    (`hint` overrides: the few that CPU builds evaluate far below memory speed get their own class)."""
    return OpSpec(name, OpKind.ELEMENTWISE, C.elementwise_cost,
                  hint or ("activation" if transcendental else "elementwise"), modules, (name, *functions),
                  shape_preserving=True)


def _elementwise(name: str, *functions: str, transcendental: bool = False, attrs: A.AttrFn | None = None,
                 modules: tuple[type[nn.Module], ...] = ()) -> OpSpec:
    return OpSpec(name, OpKind.ELEMENTWISE, C.elementwise_cost, "activation" if transcendental else "elementwise",
                  modules, (name, *functions), attrs)


def _moving(name: str, hint: str, *functions: str, cost: C.CostFn = C.io_cost,
            modules: tuple[type[nn.Module], ...] = ()) -> OpSpec:
    return OpSpec(name, OpKind.DATA_MOVEMENT, cost, hint, modules, (name, *functions))


_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
             nn.Identity)

# Order matters only where module classes inherit (ReLU6 is a Hardtanh): the first match wins.
OPS: tuple[OpSpec, ...] = (
    OpSpec("conv", OpKind.CONV, C.conv_cost, "conv", (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
           nn.ConvTranspose2d, nn.ConvTranspose3d),
           ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
            "convolution", "_convolution"), A.conv_attrs),
    OpSpec("linear", OpKind.LINEAR, C.linear_cost, "linear", (nn.Linear,), ("linear",), A.linear_attrs),
    OpSpec("matmul", OpKind.LINEAR, C.matmul_cost, "linear", (), ("matmul", "bmm", "mm", "mv", "matmul_")),
    OpSpec("addmm", OpKind.LINEAR, C.matmul_cost, "linear", (), ("addmm", "baddbmm", "addbmm"),
           A.added_term_attrs),
    OpSpec("einsum", OpKind.LINEAR, C.einsum_cost, "linear", (), ("einsum",), A.einsum_attrs),
    OpSpec("scaled_dot_product_attention", OpKind.LINEAR, C.sdpa_cost, "attention", (),
           ("scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
            "_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention")),
    OpSpec("multihead_attention", OpKind.LINEAR, C.multihead_attention_cost, "attention",
           (nn.MultiheadAttention,), (), A.attention_module_attrs, parts=C.self_attention_parts),
    OpSpec("recurrent", OpKind.LINEAR, C.recurrent_cost, "linear", (nn.LSTM, nn.GRU, nn.RNN), (), A.recurrent_attrs),
    OpSpec("batch_norm", OpKind.ELEMENTWISE, C.elementwise_cost, "batch_norm", (nn.modules.batchnorm._BatchNorm,),
           ("batch_norm", "native_batch_norm", "_native_batch_norm_legit_no_training")),
    OpSpec("layer_norm", OpKind.ELEMENTWISE, C.elementwise_cost, "norm", (nn.LayerNorm, nn.GroupNorm),
           ("layer_norm", "group_norm", "native_layer_norm", "native_group_norm"), A.norm_attrs),
    OpSpec("rms_norm", OpKind.ELEMENTWISE, C.elementwise_cost, "norm", (nn.RMSNorm,), ("rms_norm",),
           A.norm_attrs),
    _activation("relu6", (nn.ReLU6, nn.Hardtanh), ("hardtanh",)),
    _activation("relu", (nn.ReLU,)),
    _activation("silu", (nn.SiLU,), transcendental=True),
    _activation("hardswish", (nn.Hardswish,)),
    _activation("hardsigmoid", (nn.Hardsigmoid,)),
    _activation("sigmoid", (nn.Sigmoid,), transcendental=True),
    _activation("gelu", (nn.GELU,), transcendental=True),
    _activation("tanh", (nn.Tanh,), hint="slow_activation"),
    _activation("leaky_relu", (nn.LeakyReLU,)),
    _activation("elu", (nn.ELU,), hint="slow_activation"),
    _activation("mish", (nn.Mish,), transcendental=True),
    _activation("softplus", (nn.Softplus,), transcendental=True),
    _activation("prelu", (nn.PReLU,), ("_prelu_kernel",)),
    _activation("selu", (nn.SELU,), transcendental=True),
    _elementwise("softmax", "_softmax", "log_softmax", "_log_softmax", transcendental=True, attrs=A.dim_attrs,
                 modules=(nn.Softmax, nn.LogSoftmax)),
    _elementwise("exp", "erf", "log", "sin", "cos", "rsqrt", transcendental=True),
    *(_elementwise(n) for n in ("neg", "sqrt", "pow", "abs", "reciprocal", "square", "clamp", "clamp_min",
                                "clamp_max", "clip", "sign", "floor", "ceil", "round", "where", "masked_fill",
                                "lerp", "maximum", "minimum", "eq", "ne", "lt", "gt", "le", "ge", "logical_not")),
    _elementwise("add", "iadd", "radd"),
    _elementwise("sub", "isub", "rsub"),
    _elementwise("mul", "imul", "rmul"),
    _elementwise("div", "truediv", "itruediv", "rtruediv", "floordiv"),
    _elementwise("addcmul", "addcdiv"),
    _elementwise("normalize", attrs=A.dim_attrs),
    _moving("cat", "concat", "concat", "concatenate"),
    _moving("stack", "concat", "hstack", "vstack"),
    _moving("split", "split", "split_with_sizes", "chunk", "unbind", "tensor_split"),
    OpSpec("slice", OpKind.DATA_MOVEMENT, C.slice_cost, "split", (), ("slice", "narrow", "select", "getitem"),
           A.index_attrs),
    OpSpec("index", OpKind.DATA_MOVEMENT, C.gather_cost, "data_movement", (nn.Embedding,),
           ("index", "index_select", "gather", "take_along_dim", "embedding"), A.index_attrs),
    _moving("roll", "data_movement", "flip"),
    _moving("unfold", "data_movement", "fold", "im2col", "col2im", modules=(nn.Unfold, nn.Fold)),
    _moving("repeat", "data_movement", "tile", "repeat_interleave"),
    _moving("pad", "data_movement", "constant_pad_nd",
            modules=(nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)),
    _moving("interpolate", "data_movement", "upsample", "upsample_nearest1d", "upsample_nearest2d",
            "upsample_nearest3d", "upsample_linear1d", "upsample_bilinear2d", "upsample_bicubic2d",
            "upsample_trilinear3d", "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa", modules=(nn.Upsample,)),
    _moving("copy", "data_movement", "clone"),
    OpSpec("cast", OpKind.DATA_MOVEMENT, C.cast_cost, "data_movement", (),
           ("to", "type", "type_as", "float", "half", "bfloat16", "double", "_to_copy"), A.cast_attrs),
    OpSpec("channel_shuffle", OpKind.SHUFFLE, C.io_cost, "shuffle", (nn.ChannelShuffle,),
           ("channel_shuffle", "native_channel_shuffle")),
    OpSpec("max_pool", OpKind.POOLING, C.io_cost, "max_pool", (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
           ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices"), A.pool_attrs),
    OpSpec("avg_pool", OpKind.POOLING, C.io_cost, "avg_pool", (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
           ("avg_pool1d", "avg_pool2d", "avg_pool3d"), A.pool_attrs),
    OpSpec("adaptive_avg_pool", OpKind.POOLING, C.io_cost, "reduction",
           (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d),
           ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "_adaptive_avg_pool2d")),
    OpSpec("adaptive_max_pool", OpKind.POOLING, C.io_cost, "reduction",
           (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d),
           ("adaptive_max_pool1d", "adaptive_max_pool2d")),
    *(OpSpec(n, OpKind.REDUCTION, C.io_cost, "reduction", (), (n,), A.dim_attrs)
      for n in ("mean", "sum", "amax", "amin", "max", "min", "var", "std", "norm", "argmax", "logsumexp",
                "linalg_vector_norm", "var_mean")),
    OpSpec("identity", OpKind.VIEW, C.free_cost, "other", _DROPOUTS,
           ("identity", "dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout", "alpha_dropout",
            "feature_alpha_dropout", "stochastic_depth", "drop_path", "detach", "alias"),
           shape_preserving=True),
    # Metadata-only reshapes; costmodel/engine/copies.py says when one of them really moves memory.
    OpSpec("view", OpKind.VIEW, C.free_cost, "other", (nn.Flatten, nn.Unflatten),
           ("view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze", "expand",
            "expand_as", "view_as", "reshape_as", "contiguous", "transpose", "permute", "t", "swapaxes",
            "movedim")),
    OpSpec("constant", OpKind.VIEW, C.free_cost, "other", (),
           ("zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "new_zeros",
            "new_ones", "new_full", "new_empty", "new_tensor"), constant=True),
)

BY_NAME: dict[str, OpSpec] = {spec.name: spec for spec in OPS}
_BY_FUNCTION: dict[str, OpSpec] = {f: spec for spec in OPS for f in spec.functions}
_MODULE_SPECS: tuple[tuple[tuple[type[nn.Module], ...], OpSpec], ...] = tuple(
    (spec.modules, spec) for spec in OPS if spec.modules)
SHAPE_PRESERVING_MODULES: tuple[type[nn.Module], ...] = tuple(
    m for spec in OPS if spec.shape_preserving for m in spec.modules)


def module_spec(module: nn.Module) -> OpSpec | None:
    """The op a leaf module is, or None if the engine does not know it."""
    for types, spec in _MODULE_SPECS:
        if isinstance(module, types):
            return spec
    return None


def raw_function_name(target: object) -> str:
    """The bare name of a call_function/call_method target: 'relu' for F.relu, torch.relu, aten.relu_.default."""
    if isinstance(target, str):
        name = target
    else:
        name = getattr(target, "_opname", None) or getattr(target, "__name__", None) or str(target)
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def function_spec(raw: str) -> OpSpec | None:
    """The op a function / tensor method / ATen name is, or None if the engine does not know it."""
    return _BY_FUNCTION.get(raw)


def kernel_hint(spec: OpSpec | None, kind: OpKind, attributes: dict[str, object]) -> str:
    """The kernel class of an op: dense and group convs split into 1x1 (a plain GEMM, one per group) and kxk;
    depthwise convs by kind."""
    if spec is None:
        return "other"
    if kind in (OpKind.CONV, OpKind.GROUP_CONV):
        kernel = attributes.get("kernel_size") or ()
        return f"{kind.value}1x1" if kernel and all(k == 1 for k in kernel) else kind.value
    return kind.value if kind in CONV_KINDS else spec.hint
