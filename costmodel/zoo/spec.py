"""Declarative description of a zoo architecture: its parameters, published numbers and builder.

Parameter values may arrive as strings from the CLI ("1.0", "true", "b3"); `Param.coerce` converts them and
every bad value becomes a one-line `CostModelError` naming the valid choices.
"""
from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable, Mapping
from typing import TypeVar
from dataclasses import dataclass, field, replace
from pathlib import Path

from torch import nn

from costmodel.errors import CostModelError

Builder = TypeVar("Builder", bound=Callable[..., object])
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def reference_csv(name: str) -> list[dict[str, str]]:
    """Rows of a published-numbers table shipped in data/reference (see SOURCES.md there)."""
    with open(REFERENCE_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def imagenet_input(**_: object) -> tuple[int, int]:
    """(channels, default resolution) of the ImageNet networks, whatever their parameters."""
    return 3, 224


@dataclass(frozen=True)
class Param:
    """One keyword argument of a builder, with what a UI or CLI needs to offer and check it."""

    name: str
    type: type
    default: object
    help: str
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None

    def valid(self) -> str:
        """The valid values, in words, for error messages and help texts."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.type is bool:
            return "true or false"
        low = "-inf" if self.minimum is None else f"{self.minimum:g}"
        high = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"{'an integer' if self.type is int else 'a number'} in [{low}, {high}]"

    def coerce(self, value: object, arch: str) -> object:
        """Convert `value` (a Python value or CLI string) to this parameter's type and check it."""
        if value is None and self.default is None:
            return None
        try:
            converted = self._convert(value)
        except (TypeError, ValueError):
            converted = None
        if converted is None or (self.choices is not None and converted not in self.choices) or \
                (self.minimum is not None and converted < self.minimum) or \
                (self.maximum is not None and converted > self.maximum):
            raise CostModelError(f"{arch}: {self.name}={value} is not valid", f"use {self.valid()}")
        return converted

    def _convert(self, value: object) -> object:
        """`None` when `value` cannot be read as this type (bools are not numbers, 2.5 is not an int)."""
        if isinstance(value, str):
            text = value.strip().lower()
            if self.type is bool:
                return True if text in _TRUE else False if text in _FALSE else None
            value = text if self.type is str else float(text)
        if isinstance(value, bool) or self.type is bool:
            return value if isinstance(value, bool) and self.type is bool else None
        if self.type is int:
            return int(value) if float(value).is_integer() else None
        if self.type is float:
            return float(value) if math.isfinite(float(value)) else None
        return value if isinstance(value, self.type) else None


def validated(arch: str, params: tuple[Param, ...]) -> Callable[[Builder], Builder]:
    """Check a builder's keyword arguments against `params` (and coerce them) when it is called directly."""
    by_name = {p.name: p for p in params}

    def decorate(builder: Builder) -> Builder:
        @functools.wraps(builder)
        def checked(**kwargs: object) -> object:
            return builder(**{k: by_name[k].coerce(v, arch) if k in by_name else v for k, v in kwargs.items()})
        return checked  # type: ignore[return-value]
    return decorate


# Arguments of every `build`, besides the architecture's own parameters.
RESOLUTION = Param("resolution", int, None, "input height = width in pixels (default: the architecture's)")
BATCH = Param("batch", int, 1, "images per forward pass", minimum=1)


@dataclass(frozen=True)
class Published:
    """A published measurement of one setting: FLOPs (multiply-adds, millions) and parameters."""

    setting: dict
    mflops: float | None
    mparams: float | None
    exact_params: int | None
    source: str  # names the data/reference CSV the numbers come from
    tolerance: float = 0.03  # relative; covers the rounding of the printed figure


@dataclass(frozen=True)
class ArchSpec:
    """An architecture of the zoo: parameters, published numbers, builder and input shape."""

    name: str
    family: str
    summary: str
    params: tuple[Param, ...]
    published: tuple[Published, ...]
    builder: Callable[..., nn.Module] = field(repr=False)
    input_shape: Callable[..., tuple[int, int]] = field(repr=False)  # resolved params -> (channels, resolution)
    min_resolution: int = 32

    def resolve(self, params: Mapping[str, object]) -> dict[str, object]:
        """All builder arguments: `params` coerced and checked, defaults filled in."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            names = ", ".join(known) or "none"
            raise CostModelError(f"{self.name} has no parameter {unknown[0]!r}", f"use {names}")
        return {name: p.coerce(params[name], self.name) if name in params else p.default
                for name, p in known.items()}

    def build(self, *, resolution: int | str | None = None, batch: int | str = 1,
              **params: object) -> tuple[nn.Module, tuple[int, ...]]:
        """The model in eval mode and its input shape (batch, channels, resolution, resolution)."""
        kwargs = self.resolve(params)
        channels, default_resolution = self.input_shape(**kwargs)
        size = replace(RESOLUTION, minimum=self.min_resolution).coerce(resolution, self.name)
        count = BATCH.coerce(batch, self.name)
        size = default_resolution if size is None else size
        return self.builder(**kwargs).eval(), (count, channels, size, size)
