"""Map what a tracer records (nn.Module leaf classes, torch functions, tensor methods, ATen overloads) to the
canonical op names of the cost registry, so torch.fx and torch.export graphs are costed by the same rules."""
from __future__ import annotations

from torch import nn

# Leaf modules of torch.fx traces. Order matters only where classes inherit (ReLU6 is a Hardtanh).
MODULE_OPS: tuple[tuple[type[nn.Module] | tuple[type[nn.Module], ...], str], ...] = (
    ((nn.Conv1d, nn.Conv2d, nn.Conv3d), "conv"),
    (nn.Linear, "linear"),
    (nn.modules.batchnorm._BatchNorm, "batch_norm"),
    ((nn.LayerNorm, nn.GroupNorm), "layer_norm"),
    ((nn.ReLU6, nn.Hardtanh), "relu6"),
    (nn.ReLU, "relu"),
    (nn.SiLU, "silu"),
    (nn.Hardswish, "hardswish"),
    (nn.Hardsigmoid, "hardsigmoid"),
    (nn.Sigmoid, "sigmoid"),
    (nn.GELU, "gelu"),
    (nn.Tanh, "tanh"),
    (nn.LeakyReLU, "leaky_relu"),
    (nn.ELU, "elu"),
    (nn.Softmax, "softmax"),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d), "max_pool"),
    ((nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), "avg_pool"),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d), "adaptive_avg_pool"),
    ((nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), "adaptive_max_pool"),
    ((nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity), "identity"),
    ((nn.Flatten, nn.Unflatten), "flatten"),
    (nn.Upsample, "interpolate"),
    ((nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d), "pad"),
    (nn.ChannelShuffle, "channel_shuffle"),
)

# Function / method / ATen names (trailing '_' of in-place variants already stripped) -> canonical name.
FUNCTION_OPS: dict[str, str] = {
    **{n: "conv" for n in ("conv1d", "conv2d", "conv3d", "convolution", "_convolution")},
    "linear": "linear",
    **{n: "matmul" for n in ("matmul", "bmm", "mm")},
    **{n: "batch_norm" for n in ("batch_norm", "native_batch_norm", "_native_batch_norm_legit_no_training")},
    **{n: "layer_norm" for n in ("layer_norm", "group_norm", "native_layer_norm")},
    **{n: n for n in ("relu", "relu6", "silu", "hardswish", "hardsigmoid", "sigmoid", "gelu", "tanh",
                      "leaky_relu", "elu", "neg", "exp", "sqrt", "pow", "add", "sub", "mul", "div")},
    "hardtanh": "relu6",
    **{n: "softmax" for n in ("softmax", "_softmax", "log_softmax")},
    **{n: "add" for n in ("iadd", "radd")},
    **{n: "sub" for n in ("isub", "rsub")},
    **{n: "mul" for n in ("imul", "rmul")},
    **{n: "div" for n in ("truediv", "itruediv", "rtruediv")},
    "cat": "cat", "concat": "cat", "concatenate": "cat",
    **{n: "split" for n in ("split", "split_with_sizes", "chunk", "unbind", "tensor_split")},
    **{n: "slice" for n in ("slice", "narrow", "select", "getitem", "index_select")},
    **{n: "pad" for n in ("pad", "constant_pad_nd")},
    **{n: "interpolate" for n in ("interpolate", "upsample_nearest2d", "upsample_bilinear2d", "upsample")},
    **{n: "max_pool" for n in ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices")},
    **{n: "avg_pool" for n in ("avg_pool1d", "avg_pool2d", "avg_pool3d")},
    **{n: "adaptive_avg_pool" for n in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
                                        "_adaptive_avg_pool2d")},
    **{n: "adaptive_max_pool" for n in ("adaptive_max_pool1d", "adaptive_max_pool2d")},
    **{n: n for n in ("mean", "sum", "amax")},
    **{n: "channel_shuffle" for n in ("channel_shuffle", "native_channel_shuffle")},
    **{n: "identity" for n in ("dropout", "feature_dropout", "alpha_dropout", "dropout2d", "detach", "alias",
                               "identity")},
    "clone": "copy",
    # Metadata-only reshapes; see PERMUTING / COPY_IF_STRIDED for when one of them really moves memory.
    **{n: "view" for n in ("view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze",
                           "expand", "expand_as", "view_as", "contiguous", "transpose", "permute", "t",
                           "swapaxes", "movedim")},
}

# A transpose/permute only rewrites strides; the copy comes when a reshape or .contiguous() needs
# contiguous memory. ShuffleNet's channel shuffle is exactly that pair.
PERMUTING = frozenset({"transpose", "permute", "t", "swapaxes", "movedim"})
COPY_IF_STRIDED = frozenset({"reshape", "flatten", "contiguous", "view", "_unsafe_view", "unflatten"})


def module_op_name(module: nn.Module) -> str | None:
    """Raw op name of a leaf module (canonicalise with `canonical`), or None if the engine does not know it."""
    for types, name in MODULE_OPS:
        if isinstance(module, types):
            return name
    return None


def raw_function_name(target: object) -> str:
    """The bare name of a call_function/call_method target: 'relu' for F.relu, torch.relu, aten.relu_.default."""
    if isinstance(target, str):
        name = target
    else:
        name = getattr(target, "_opname", None) or getattr(target, "__name__", None) or str(target)
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def canonical(raw: str) -> str:
    """The cost-registry name for a raw op name (module names that are already canonical map to themselves)."""
    return FUNCTION_OPS.get(raw, raw)


def is_known_function(raw: str) -> bool:
    return raw in FUNCTION_OPS
