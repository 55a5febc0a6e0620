"""One way to name a model everywhere (CLI, app, lint, compare): a zoo arch with parameters, or a user's
`file.py:Name` / `package.module:Name` with an input shape."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

import torch
from torch import nn

from costmodel import zoo
from costmodel.errors import CostModelError
from costmodel.sources import hub
from costmodel.sources.hub import is_hub_spec
from costmodel.sources.userfile import is_user_spec, load_user_model, resolve_spec

DEFAULT_INPUT = (1, 3, 224, 224)
_INLINE = re.compile(r"\s*([\w.]+)\s*\(([^()]*)\)\s*")
_INLINE_HINT = "write it like 'shufflenet_v1(groups=8, width=0.5)'"


MAX_DIMS, MAX_DIM, MAX_ELEMENTS = 8, 2**20, 2**40  # an input shape: rank, any one size, their product
MAX_PAIRS, MAX_TEXT = 64, 200  # key=value parameters: how many, and characters in one
BATCH_RANGE = (1, 1024)  # images per forward pass: the profiles' batches are 1 to 32, the app's up to 64
# input height = width, px: any size an --input may have. Models are built on the meta device, so size costs
# nothing, and EfficientNet's resolution-only scaling curve (costmodel/studies/scaling.py) reaches 2196 px at
# phi = 7 with the paper's bases and more with larger ones.
RESOLUTION_RANGE = (1, MAX_DIM)


def shown(text: str, limit: int = 60) -> str:
    """`text` as an error message may quote it: printable, on one line, at most `limit` characters."""
    safe = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return safe if len(safe) <= limit else safe[:limit] + "..."


def parse_shape(text: str, example: str = "1,3,224,224") -> tuple[int, ...]:
    """'1,3,224,224' -> (1, 3, 224, 224): at most 8 positive sizes of up to 2^20, 2^40 elements in all. `example`
    is the form the caller's field takes (the app's is per sample: 3,224,224)."""
    hint = f"write it like {example}"
    if not text.strip():
        raise CostModelError("the input shape is empty", hint)
    if len(text) > MAX_TEXT:
        raise CostModelError(f"input shape '{shown(text)}' is longer than {MAX_TEXT} characters", hint)
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise CostModelError(f"input shape '{shown(text)}' is not a list of integers", hint) from None
    if not shape or any(d <= 0 for d in shape):
        raise CostModelError(f"input shape '{shown(text)}' has a non-positive size", hint)
    if len(shape) > MAX_DIMS or max(shape) > MAX_DIM or math.prod(shape) > MAX_ELEMENTS:
        raise CostModelError(f"input shape '{shown(text)}' is too large",
                             f"use at most {MAX_DIMS} sizes of up to {MAX_DIM} and {MAX_ELEMENTS} elements in all")
    return shape


def _key_values(pairs: list[str], hint: str) -> dict[str, str]:
    if len(pairs) > MAX_PAIRS:
        raise CostModelError(f"{len(pairs)} parameters given, more than {MAX_PAIRS}", hint)
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CostModelError(f"parameter '{shown(pair)}' is not key=value", hint)
        if len(pair) > MAX_TEXT or not pair.isprintable():
            raise CostModelError(f"parameter '{shown(pair)}' is longer than {MAX_TEXT} characters or not printable",
                                 hint)
        if key.strip() in params:
            raise CostModelError(f"parameter {shown(key.strip())} is given twice", f"keep one value; {hint}")
        check_finite(key.strip(), value.strip())
        params[key.strip()] = value.strip()
    return params


def check_finite(key: str, value: object) -> None:
    """One line when `value` is or reads as nan or inf ('nan', '-inf', 'Infinity', '1e999'): no model parameter
    takes one. The zoo's own checks refuse them, but a torchvision/timm builder would get the word as a string
    (or the float, from a sweep) and fail obscurely or build a model with it."""
    try:
        finite = math.isfinite(float(str(value)))
    except ValueError:  # not a number at all: the model's own checks judge it
        return
    if not finite:
        raise CostModelError(f"parameter {shown(key)}={shown(str(value))} is not a finite number",
                             f"give {shown(key)} a finite number, e.g. {shown(key)}=0.5")


def parse_params(pairs: list[str] | None, example: str = "-p width=1.0") -> dict[str, str]:
    """['width=1.0', 'groups=3'] -> {'width': '1.0', 'groups': '3'} (the zoo coerces the values); `example` is
    how the caller's field writes one (the CLI's -p option, the app's comma-separated text)."""
    return _key_values(pairs or [], f"write it like {example}")


def split_inline(spec: str) -> tuple[str, dict[str, str]]:
    """'shufflenet_v1(groups=8, width=0.5)' -> ('shufflenet_v1', {'groups': '8', 'width': '0.5'}): the `label`
    form, so a name that a table or chart prints names the model again. A name without parentheses has none."""
    if "(" not in spec and ")" not in spec:
        return spec, {}
    match = _INLINE.fullmatch(spec) if len(spec) <= MAX_PAIRS * MAX_TEXT else None
    if match is None:
        raise CostModelError(f"model '{shown(spec)}' is not of the form arch(key=value, ...)", _INLINE_HINT)
    return match[1], _key_values([pair.strip() for pair in match[2].split(",") if pair.strip()], _INLINE_HINT)


def check_range(option: str, value: int, bounds: tuple[int, int]) -> None:
    """One line naming the option (--batch, --resolution; the app's fields of the same names) and its range."""
    low, high = bounds
    if not low <= value <= high:
        raise CostModelError(f"{option} {value} is out of range", f"use a {option} between {low} and {high}")


def split_named(spec: str) -> tuple[str, str, dict[str, str]]:
    """'timm:resnet18(drop_rate=0.1)' -> ('timm', 'resnet18', {'drop_rate': '0.1'}); a zoo arch has source ''."""
    source, _, rest = spec.partition(":") if is_hub_spec(spec) else ("", "", spec)
    return (source, *split_inline(rest))


def label(arch: str, params: Mapping[str, object]) -> str:
    """'shufflenet_v2(width=1.0)': the name charts and tables use for a configuration. An arch written with
    parameters of its own ('shufflenet_v1(groups=8)', as a sweep may be given) keeps them, winning as they win in
    `load_model`, so the label is one name that builds the same model again."""
    source, name, inline = split_named(arch)
    named = f"{source}:{name}" if source else name
    inside = ", ".join(f"{k}={v}" for k, v in {**inline, **params, **inline}.items())
    return f"{named}({inside})" if inside else named


_EXAMPLES = {"resolution": 224, "batch": 8}  # in the error for a non-integer one written among the parameters


def _shape_options(params: Mapping[str, object], resolution: int | None, batch: int
                   ) -> tuple[dict[str, object], int | None, int]:
    """`params` without `resolution` and `batch`, and those two options with the values written among the
    parameters winning: a sweep's labels write them so ('mobilenet_v2(width=0.5, resolution=128)')."""
    rest = dict(params)
    chosen: dict[str, int | None] = {"resolution": resolution, "batch": batch}
    for option in chosen:
        if option in rest:
            text = str(rest.pop(option))
            try:
                number = float(text)
                if not number.is_integer():
                    raise ValueError(text)
            except ValueError:
                raise CostModelError(f"{option}={shown(text)} is not a whole number",
                                     f"write it like {option}={_EXAMPLES[option]}") from None
            chosen[option] = int(number)
    written_batch = chosen["batch"]
    return rest, chosen["resolution"], batch if written_batch is None else written_batch


def load_model(spec: str, *, params: Mapping[str, object] | None = None, resolution: int | None = None,
               batch: int = 1, input_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, tuple[int, ...], str]:
    """(model, input shape, label) of `spec`: a zoo arch or a `torchvision:NAME` / `timm:NAME` (costmodel.sources.hub),
    with `params` and any inline ones (inline wins; `resolution` and `batch` among them set those options), or a
    user's model. Zoo models are built on the meta device: no memory, no init time."""
    if is_user_spec(spec) and not is_hub_spec(spec):
        if params:
            raise CostModelError("-p parameters apply to zoo architectures only", "edit your model's defaults instead")
        if resolution is not None:
            raise CostModelError("--resolution applies to zoo and torchvision/timm models",
                                 "give your model its whole input shape with --input N,C,H,W")
        check_range("batch", batch, BATCH_RANGE)
        spec = resolve_spec(spec)  # a bare file.py: its only nn.Module class, named so in the label
        return load_user_model(spec), input_shape or (batch, *DEFAULT_INPUT[1:]), spec
    source, name, inline = split_named(spec)
    params = {**(params or {}), **inline}
    for key, value in params.items():  # also the values that did not come as text (a sweep's, the app's)
        check_finite(key, value)
    built, resolution, batch = _shape_options(params, resolution, batch)
    check_range("batch", batch, BATCH_RANGE)
    if resolution is not None:
        check_range("resolution", resolution, RESOLUTION_RANGE)
    if source:
        model, shape = hub.load(source, name, built, resolution=resolution, batch=batch, input_shape=input_shape)
        return model, shape, f"{source}:{label(name, params)}"
    if input_shape is not None:
        raise CostModelError("--input applies to your own models and torchvision/timm names",
                             "set a zoo model's input with --resolution and --batch")
    with torch.device("meta"):
        model, shape = zoo.build(name, resolution=resolution, batch=batch, **built)
    return model, shape, label(name, params)
