"""EfficientNet compound scaling against single-dimension scaling, as curves over phi.

Compound scaling at phi uses depth alpha^phi, width beta^phi and resolution gamma^phi, so its nominal FLOPs
factor is (alpha beta^2 gamma^2)^phi. Each single-dimension method scales only its own dimension to the same
nominal FLOPs factor F (width sqrt(F), depth F, resolution 224 sqrt(F)), as EfficientNet Figure 8 compares
methods at equal FLOPs; so the curves answer "at the same FLOPs budget, which scaling is fastest". Points
outside the zoo's parameter range (width or depth coefficient above its maximum, an input larger than every
command takes) are left out, the compound curve's too: at alpha = 2, phi = 7 would be 128 times B0's depth, an
analysis of minutes for a network the zoo refuses when it is named by its depth coefficient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from costmodel.errors import CostModelError
from costmodel.sources.names import RESOLUTION_RANGE
from costmodel.studies.evaluate import Settings, ZooModel, latency_columns, per_image, row
from costmodel.studies.published import top1
from costmodel.zoo import ARCHS, efficientnet_scaling, efficientnet_stages
from costmodel.zoo.efficientnet import BASE_RESOLUTION, RESOLUTION_MULTIPLE, VARIANTS
from costmodel.zoo.layers import round_to_multiple

METHODS = ("compound", "width", "depth", "resolution")
PHI_GRID = tuple(float(i) for i in range(8))  # 0, 1, ..., 7: ~exponential curves need few points
PHI_MAX = 7.0
TARGET_CONSTRAINT = 2.0  # alpha * beta^2 * gamma^2 ~= 2: FLOPs about double per unit of phi
_PARAMS = {p.name: p for p in ARCHS["efficientnet"].params}


@dataclass(frozen=True)
class Bases:
    """Compound-scaling bases (EfficientNet's grid-searched defaults)."""

    alpha: float = 1.2
    beta: float = 1.1
    gamma: float = 1.15

    @property
    def constraint(self) -> float:
        """alpha * beta^2 * gamma^2: the nominal FLOPs factor per unit of phi."""
        return self.alpha * self.beta ** 2 * self.gamma ** 2

    def check(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            _PARAMS[name].coerce(getattr(self, name), "efficientnet")


def far_from_target(bases: Bases, tolerance: float = 0.25) -> bool:
    """Whether alpha*beta^2*gamma^2 is far enough from 2 that 'FLOPs double per phi' no longer holds."""
    return abs(bases.constraint - TARGET_CONSTRAINT) > tolerance


def _in_range(depth: float, width: float, resolution: float) -> bool:
    """Whether an EfficientNet of these multipliers and input size is inside the zoo's (and every command's)
    ranges: depth and width coefficients at most their maximum, input at most RESOLUTION_RANGE's."""
    return depth <= _PARAMS["depth_coefficient"].maximum and width <= _PARAMS["width_coefficient"].maximum \
        and resolution <= RESOLUTION_RANGE[1]


def compound_phi_max(bases: Bases) -> float:
    """The largest phi, in steps of 0.01 up to PHI_MAX, whose compound-scaled network is inside the zoo's ranges
    (bases are at least 1, so every smaller phi is inside too)."""
    return next(i / 100 for i in range(round(PHI_MAX * 100), -1, -1) if _compound_in_range(i / 100, bases))


def _compound_in_range(phi: float, bases: Bases) -> bool:
    resolution = round_to_multiple(BASE_RESOLUTION * bases.gamma ** phi, RESOLUTION_MULTIPLE)
    return _in_range(bases.alpha ** phi, bases.beta ** phi, resolution)


def compound_model(phi: float, bases: Bases) -> ZooModel:
    """The compound-scaled network at `phi`; outside the zoo's ranges one line naming the largest phi the
    bases allow (the curves leave such points out, a page or command that asks for one gets this)."""
    model = scaled_model("compound", phi, bases)
    if model is None:
        limit = compound_phi_max(bases)
        raise CostModelError(f"phi={phi:g} with alpha={bases.alpha:g}, beta={bases.beta:g}, gamma={bases.gamma:g} "
                             f"scales depth by {bases.alpha ** phi:.3g}x and width by {bases.beta ** phi:.3g}x, "
                             f"beyond the zoo's {_PARAMS['depth_coefficient'].maximum:g}x",
                             f"use phi <= {limit:g} with these bases, or smaller bases")
    return model


def scaled_model(method: str, phi: float, bases: Bases) -> ZooModel | None:
    """The EfficientNet that `method` reaches at `phi`, or None outside the zoo's range (or, for resolution, the
    input sizes every command takes)."""
    if method not in METHODS:
        raise CostModelError(f"unknown scaling method '{method}'", f"use one of {', '.join(METHODS)}")
    if not 0 <= phi <= PHI_MAX:
        raise CostModelError(f"phi={phi:g} is out of range", f"use 0 <= phi <= {PHI_MAX:g}")
    bases.check()
    factor = bases.constraint ** phi
    if phi == 0:
        return ZooModel.of("efficientnet", variant="b0")  # every method starts at B0: one analysis, shared
    if method == "compound":
        return ZooModel.of("efficientnet", phi=phi, alpha=bases.alpha, beta=bases.beta, gamma=bases.gamma) \
            if _compound_in_range(phi, bases) else None
    if method == "resolution":
        resolution = round_to_multiple(BASE_RESOLUTION * math.sqrt(factor), RESOLUTION_MULTIPLE)
        return ZooModel.of("efficientnet", resolution=resolution) if resolution <= RESOLUTION_RANGE[1] else None
    name, value = ("width_coefficient", math.sqrt(factor)) if method == "width" else ("depth_coefficient", factor)
    return ZooModel.of("efficientnet", **{name: round(value, 4)}) if value <= _PARAMS[name].maximum else None


def coefficients(model: ZooModel) -> dict[str, float]:
    """Width and depth coefficients and resolution an EfficientNet configuration ends up with."""
    scaling = efficientnet_scaling(**dict(model.params))
    return {"width_coefficient": scaling.width, "depth_coefficient": scaling.depth,
            "resolution": model.resolution or scaling.resolution}


def sweep(bases: Bases, settings: Settings, phis: tuple[float, ...] = PHI_GRID) -> pd.DataFrame:
    """method, phi, width_coefficient, depth_coefficient, resolution, flops, params, mac_bytes (batch 1),
    ms:/throughput:<device>."""
    rows = []
    for method in METHODS:
        for phi in phis:
            model = scaled_model(method, phi, bases)
            if model is not None:
                rows.append({"method": method, "phi": phi, **coefficients(model), **row(model, settings)})
    return pd.DataFrame(rows)


def variants(settings: Settings) -> pd.DataFrame:
    """B0-B7 as published (official coefficients): name, phi (= k for Bk), costs, latency, published top-1."""
    rows = []
    for k, variant in enumerate(VARIANTS):
        model = ZooModel.of("efficientnet", variant=variant)
        rows.append({"name": variant.upper(), "phi": float(k), **coefficients(model), **row(model, settings),
                     "family": "EfficientNet", "top1": top1(model)})
    return pd.DataFrame(rows)


def point(phi: float, bases: Bases, settings: Settings) -> dict:
    """The compound-scaled network at `phi`: coefficients, costs (batch 1) and per-device latency."""
    model = compound_model(phi, bases)
    rep = per_image(model, settings)
    return {**coefficients(model), "flops": rep.summary["flops"], "params": rep.summary["params"],
            "mac_bytes": rep.summary["mac_bytes"], **latency_columns(model, settings)}


def stages(phi: float, bases: Bases) -> pd.DataFrame:
    """Per-stage configuration (EfficientNet Table 1 layout) of the compound-scaled network at `phi`."""
    compound_model(phi, bases)  # validates
    return pd.DataFrame(efficientnet_stages(phi=phi, alpha=bases.alpha, beta=bases.beta, gamma=bases.gamma))
