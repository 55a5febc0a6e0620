"""Models by library name: `torchvision:NAME` and `timm:NAME`, built without weights at the model's own input size.

Built on the meta device (no memory, no init time) where the builder allows; builders that compute on real
tensors in __init__ (e.g. `torch.linspace(...).tolist()` for drop-path rates) are built on the CPU with each
parameter moved to meta as it is registered, and only builders that fail even so get real weights.
The default input is the size the model's weights were trained at: torchvision's weights transforms' crop
size (`weights.transforms().crop_size`), timm's `pretrained_cfg["input_size"]`.
"""
from __future__ import annotations

import ast
import contextlib
import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from costmodel.engine.trace import TRACE_LOCK, set_untraceable_hint
from costmodel.errors import CostModelError

DEFAULT_SIZE = (3, 224, 224)


@dataclass(frozen=True)
class Hub:
    """One model library: how to list its classification models, build one, and find its input size."""

    prefix: str
    names: Callable[[], list[str]]
    build: Callable[[str, dict[str, object], tuple[int, ...]], nn.Module]  # name, parameters, input (C, H, W)
    input_size: Callable[[str], tuple[int, ...]]


def _torchvision_names() -> list[str]:
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def _torchvision_build(name: str, params: dict[str, object], size: tuple[int, ...]) -> nn.Module:
    """torchvision's ViTs fix their image size at build time (loading weights sets it); set it to the input's."""
    import torchvision

    if name.startswith("vit_"):
        params = {"image_size": size[-1], **params}
    return torchvision.models.get_model(name, weights=None, **params)


def _torchvision_size(name: str) -> tuple[int, ...]:
    """The crop size of the model's default weights (299 for Inception V3, 518 for ViT-H/14 SWAG...)."""
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        return DEFAULT_SIZE
    crop = weights.transforms().crop_size
    return (3, *([crop[0]] * 2 if len(crop) == 1 else crop))


def _timm_names() -> list[str]:
    import timm

    return sorted(timm.list_models())


def _timm_build(name: str, params: dict[str, object], size: tuple[int, ...]) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False, **params)


def _timm_size(name: str) -> tuple[int, ...]:
    import timm

    cfg = timm.get_pretrained_cfg(name)
    return tuple(int(d) for d in (cfg.input_size if cfg and cfg.input_size else DEFAULT_SIZE))


HUBS = {
    "torchvision": Hub("torchvision", _torchvision_names, _torchvision_build, _torchvision_size),
    "timm": Hub("timm", _timm_names, _timm_build, _timm_size),
}


def is_hub_spec(spec: str) -> bool:
    return spec.partition(":")[0] in HUBS and ":" in spec


def list_names(source: str, pattern: str | None = None) -> list[str]:
    """The library's classification model names containing `pattern` (case-insensitive)."""
    names = HUBS[source].names()
    return [n for n in names if pattern.lower() in n.lower()] if pattern else names


def _coerce(value: object) -> object:
    """'10' -> 10, '0.5' -> 0.5, 'True' -> True, 'None' -> None; anything else stays a string."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _check_name(source: str, name: str) -> None:
    names = HUBS[source].names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise CostModelError(f"unknown {source} model '{name}'",
                             f"{hint}list them with `python -m costmodel zoo --source {source} --filter TEXT`")


def _build(source: str, name: str, params: Mapping[str, object], size: tuple[int, ...] = DEFAULT_SIZE) -> nn.Module:
    """The model for inputs of `size` (C, H, W), without weights, on the meta device if its builder allows,
    else on the CPU."""
    kwargs = {k: _coerce(v) for k, v in params.items()}
    hub = HUBS[source]
    for place in (torch.device("meta"), _parameters_on_meta()):
        try:
            with place:
                return hub.build(name, kwargs, size)
        except Exception:  # noqa: BLE001 - this builder needs real tensors here: try the next place
            pass
    try:
        return hub.build(name, kwargs, size)
    except Exception as error:  # noqa: BLE001 - a builder's own message, in one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CostModelError(f"{source}:{name} could not be built: {type(error).__name__}: {first}"[:300],
                             "check the model's parameters against the library's documentation") from None


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Build on the CPU (so a builder may compute its configuration with tensors, like RegNet's widths) but
    move every parameter and buffer to the meta device as it is registered: no weight memory, and the
    initialisers that follow run on meta, free."""
    register_parameter, register_buffer = nn.Module.register_parameter, nn.Module.register_buffer

    def parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(module, name, param)

    def buffer(module: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True) -> None:
        register_buffer(module, name, None if tensor is None else tensor.to("meta"), persistent)

    with TRACE_LOCK:  # the patch is process-wide: no trace or other build may run meanwhile
        nn.Module.register_parameter, nn.Module.register_buffer = parameter, buffer
        try:
            yield
        finally:
            nn.Module.register_parameter, nn.Module.register_buffer = register_parameter, register_buffer


def load(source: str, name: str, params: Mapping[str, object], *, resolution: int | None = None, batch: int = 1,
         input_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, tuple[int, ...]]:
    """(model, input shape): --input wins, then --resolution (square), then the model's default size."""
    _check_name(source, name)
    default = HUBS[source].input_size(name)
    channels, *size = default
    shape = input_shape or (batch, channels, *([resolution, resolution] if resolution else size))
    model = _build(source, name, params, tuple(shape[1:]))
    return set_untraceable_hint(model, untraceable_hint(source, name, shape, default)), shape


def untraceable_hint(source: str, name: str, shape: tuple[int, ...], default: tuple[int, ...]) -> str:
    """What a user can do when a library's model does not trace: its forward() is the library's, not theirs to
    edit, so the fix is another input size or other builder parameters (timm's ViT-style models fix their input
    size at build time unless given img_size or dynamic_img_size), else knowing that this model cannot be had."""
    own = "x".join(map(str, default[1:]))
    if tuple(shape[1:]) == tuple(default):
        tries = "other builder parameters or another input size"
    elif source == "timm":
        tries = (f"img_size={shape[-2] if shape[-2] == shape[-1] else tuple(shape[-2:])} or dynamic_img_size=True "
                 f"among its parameters, or its own input size {own}")
    else:
        tries = f"its own input size {own} or other builder parameters"
    return (f"{source}:{name}'s forward() is the library's, not yours to edit: try {tries}; if none traces, "
            f"{source}:{name} cannot be analysed here (please report it)")


def load_real(source: str, name: str, params: Mapping[str, object]) -> tuple[nn.Module, tuple[int, ...]]:
    """(model, batch-1 input shape) with random weights on the CPU, in eval mode: for timing, not analysis."""
    _check_name(source, name)
    size = HUBS[source].input_size(name)
    model = HUBS[source].build(name, {k: _coerce(v) for k, v in params.items()}, size)
    return set_untraceable_hint(model.eval(), untraceable_hint(source, name, (1, *size), size)), (1, *size)
