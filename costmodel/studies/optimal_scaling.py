"""Device-optimal scaling: which depth, width and resolution multipliers buy the most network (FLOPs) within a
latency budget on each device, against EfficientNet's compound scaling and single-dimension scaling.

A scaling sweep (`plan`) evaluates a grid of depth x width x resolution multipliers plus EfficientNet's compound
path (alpha=1.2, beta=1.1, gamma=1.15 at phi steps); everything below reads its results table:
- `budget_table`: per device, the network with the most FLOPs within the budget (device-optimal), the best
  compound-path point, and width-, depth- and resolution-only scaling (the grid's axes) at the same budget.
- `fit_bases`: per device, the (alpha, beta, gamma) with alpha*beta^2*gamma^2 = 2 whose phi-curve stays closest to
  that device's frontier (FLOPs vs latency), found on the swept surface interpolated in log space.
- `accuracy_surrogate`: a *surrogate* top-1, fitted to the published EfficientNet B0-B7 accuracies
  (data/reference/efficientnet_table2_latest.csv, coefficients in efficientnet_official_params.csv) and Table 3's
  single-dimension scaling (data/reference/efficientnet_table3_scaling.csv), with its fit and leave-one-out error.
  It is a fitted curve, never a measurement.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel.errors import CostModelError
from costmodel.latency.profiles import DeviceProfile
from costmodel.studies.sweep import Plan, Point, make_plan
from costmodel.zoo.spec import reference_csv

EFFICIENTNET_BASES = (1.2, 1.1, 1.15)
TARGET = 2.0  # alpha * beta^2 * gamma^2
PHI_STEP = 0.25
DEPTHS = (1.0, 1.4, 2.0, 2.8)
WIDTHS = (1.0, 1.2, 1.4, 1.7, 2.0)
RESOLUTIONS = (1.0, 1.15, 1.3, 1.5, 1.75)
APP_GRID = {"depths": (1.0, 1.4, 2.0), "widths": (1.0, 1.2, 1.5), "resolutions": (1.0, 1.15, 1.3, 1.5)}  # ~50 points
METHODS = ("device-optimal", "compound (EfficientNet)", "width only", "depth only", "resolution only")


@dataclass(frozen=True)
class Knobs:
    """The builder arguments that scale an architecture's depth and width (None: it has no such knob)."""

    width: str | None
    depth: str | None
    base_resolution: int = 224


KNOBS = {"efficientnet": Knobs("width_coefficient", "depth_coefficient"), "mobilenet_v1": Knobs("width", None),
         "mobilenet_v2": Knobs("width", None), "mnasnet_a1": Knobs("width", None),
         "shufflenet_v2": Knobs("width", None)}


def knobs(arch: str) -> Knobs:
    if arch not in KNOBS:
        raise CostModelError(f"{arch} has no width/depth/resolution knobs here", f"use one of {', '.join(KNOBS)}")
    return KNOBS[arch]


def _text(value: float) -> str:
    return repr(round(value, 4))


def plan(arch: str, devices: Sequence[DeviceProfile], *, depths: Sequence[float] = DEPTHS,
         widths: Sequence[float] = WIDTHS, resolutions: Sequence[float] = RESOLUTIONS,
         bases: tuple[float, float, float] = EFFICIENTNET_BASES, batch: int | None = None, dtype: str = "float32",
         mode: str = "eager", fold_bn: bool = True) -> Plan:
    """The scaling sweep of `arch`: the multiplier grid (1 is always in it) plus the compound path of `bases`
    while it stays inside the grid's ranges, costed and predicted with the given settings (sweep.make_plan)."""
    k = knobs(arch)
    axes = {"depth": sorted({1.0, *depths}) if k.depth else [1.0], "width": sorted({1.0, *widths}),
            "resolution": sorted({1.0, *resolutions})}
    grid = {**({k.depth: [_text(d) for d in axes["depth"]]} if k.depth else {}),
            k.width: [_text(w) for w in axes["width"]],
            "resolution": [str(round(k.base_resolution * r)) for r in axes["resolution"]]}
    grid_plan = make_plan(arch, grid, devices=devices, batch=batch, dtype=dtype, mode=mode, fold_bn=fold_bn)
    alpha, beta, gamma = bases
    path, phi = [], 0.0
    while True:
        phi += PHI_STEP
        d, w, r = (alpha ** phi if k.depth else 1.0), beta ** phi, gamma ** phi
        if d > axes["depth"][-1] + 1e-9 or w > axes["width"][-1] + 1e-9 or r > axes["resolution"][-1] + 1e-9:
            break
        values = {**({k.depth: round(d, 4)} if k.depth else {}), k.width: round(w, 4),
                  "resolution": round(k.base_resolution * r)}
        path.append(Point(len(grid_plan.points) + len(path), tuple(values.items())))
    return dataclasses.replace(grid_plan, points=grid_plan.points + tuple(path))


def multipliers(results: pd.DataFrame, arch: str) -> pd.DataFrame:
    """The sweep's rows with depth, width and resolution multipliers and their path ('grid' or 'compound'),
    error rows dropped."""
    k = knobs(arch)
    ok = results[results["status"] != "error"].copy()
    ok["depth"] = ok[f"param:{k.depth}"].astype(float) if k.depth else 1.0
    ok["width"] = ok[f"param:{k.width}"].astype(float)
    ok["resolution_mult"] = ok["input_resolution"] / k.base_resolution
    on_grid = _on_grid(ok)
    ok["path"] = np.where(on_grid, "grid", "compound")
    return ok


def _on_grid(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose multipliers all are grid values (the compound path's values are not, except phi = 0)."""
    counts = [frame[c].map(frame[c].value_counts()) for c in ("depth", "width", "resolution_mult")]
    return np.logical_and.reduce([c > 1 for c in counts]) | (
        (frame["depth"] == 1) & (frame["width"] == 1) & (frame["resolution_mult"] == 1)).to_numpy()


def relative_budgets(frame: pd.DataFrame, devices: Sequence[str], factor: float) -> dict[str, float]:
    """Per device, `factor` times the unscaled network's latency (ms): one budget slider for devices that differ
    a hundredfold."""
    base = frame[(frame["depth"] == 1) & (frame["width"] == 1) & (frame["resolution_mult"] == 1)]
    if base.empty:
        raise CostModelError("the scaling sweep has no unscaled network (multipliers 1, 1, 1)",
                             "run the scaling sweep with 1 in every multiplier list")
    return {device: factor * float(base[f"ms:{device}"].iloc[0]) for device in devices}


def best_within(frame: pd.DataFrame, ms_column: str, budget_ms: float) -> pd.Series | None:
    """The row with the most FLOPs among rows within `budget_ms` (ties: the faster), or None if none fits."""
    fits = frame[frame[ms_column] <= budget_ms]
    if fits.empty:
        return None
    return fits.sort_values(["flops", ms_column], ascending=[False, True]).iloc[0]


def method_rows(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows each method may pick from: every evaluated network (device-optimal), B0 and the compound path,
    and the grid's axes through B0 (single-dimension scaling)."""
    grid = frame[frame["path"] == "grid"]
    ones = {c: grid[c] == 1 for c in ("depth", "width", "resolution_mult")}
    base = grid[ones["depth"] & ones["width"] & ones["resolution_mult"]]
    return {"device-optimal": frame, "compound (EfficientNet)": pd.concat([base, frame[frame["path"] == "compound"]]),
            "width only": grid[ones["depth"] & ones["resolution_mult"]],
            "depth only": grid[ones["width"] & ones["resolution_mult"]],
            "resolution only": grid[ones["depth"] & ones["width"]]}


def budget_table(frame: pd.DataFrame, budgets: Mapping[str, float],
                 accuracy: Callable[[float, float, float], float] | None = None) -> pd.DataFrame:
    """Per device (its budget in ms per batch, `budgets`) and method: the multipliers with the most FLOPs within the
    budget, their FLOPs, ms, the share of the device-optimal FLOPs, and (if given) the surrogate top-1. `frame`
    comes from `multipliers`."""
    rows = []
    for device, budget_ms in budgets.items():
        column = f"ms:{device}"
        best = {method: best_within(part, column, budget_ms) for method, part in method_rows(frame).items()}
        top = best["device-optimal"]
        for method, row in best.items():
            entry: dict[str, object] = {"device": device, "budget_ms": budget_ms, "method": method}
            if row is not None:
                entry.update(depth=row["depth"], width=row["width"], resolution=int(row["input_resolution"]),
                             flops=int(row["flops"]), ms=float(row[column]),
                             flops_vs_optimal=float(row["flops"] / top["flops"]))
                if accuracy is not None:
                    entry["top1_surrogate"] = accuracy(row["depth"], row["width"], row["resolution_mult"])
            rows.append(entry)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- fitting alpha, beta, gamma per device
@dataclass(frozen=True)
class BasesFit:
    """Fitted bases of one device and how far a path with given bases stays below that device's frontier: the
    mean shortfall of log FLOPs at equal latency along phi (0 = on the frontier)."""

    device: str
    alpha: float
    beta: float
    gamma: float
    gap: float  # mean ln(frontier FLOPs / path FLOPs) of the fitted bases
    efficientnet_gap: float  # the same for alpha=1.2, beta=1.1, gamma=1.15

    def to_dict(self) -> dict[str, float | str]:
        return {"device": self.device, "alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
                "frontier_gap_pct": 100 * math.expm1(self.gap),
                "efficientnet_gap_pct": 100 * math.expm1(self.efficientnet_gap)}


class Surface:
    """ln latency and ln FLOPs over (ln depth, ln width, ln resolution), linear between swept grid points."""

    def __init__(self, grid: pd.DataFrame, ms_column: str) -> None:
        from scipy.interpolate import RegularGridInterpolator

        self.axes = [np.log(np.sort(grid[c].unique())) for c in ("depth", "width", "resolution_mult")]
        shape = tuple(len(a) for a in self.axes)
        table = grid.set_index(["depth", "width", "resolution_mult"]).sort_index()
        if len(table) != math.prod(shape) or table[[ms_column, "flops"]].isna().any().any():
            raise CostModelError("the scaling grid has missing points (error rows)",
                                 "fit the bases on a complete depth x width x resolution grid")
        values = np.log(table[[ms_column, "flops"]].to_numpy(dtype=float)).reshape(*shape, 2)
        self.at = RegularGridInterpolator(self.axes, values, bounds_error=False, fill_value=None)

    def frontier(self, samples: int = 41) -> tuple[np.ndarray, np.ndarray]:
        """(ln latency, best ln FLOPs within it): the surface's frontier, from a dense sample of it."""
        mesh = np.stack(np.meshgrid(*[np.linspace(a[0], a[-1], samples) for a in self.axes], indexing="ij"), -1)
        values = self.at(mesh.reshape(-1, 3))
        order = np.argsort(values[:, 0])
        return values[order, 0], np.maximum.accumulate(values[order, 1])

    def path_gap(self, bases: np.ndarray, frontier: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Mean shortfall (ln FLOPs) below the frontier along phi of every row of `bases` (alpha, beta, gamma).
        Signed: the sampled frontier lies a little below the true one, and clipping at 0 would make near-optimal
        paths tie."""
        limits = np.array([a[-1] for a in self.axes])
        logs = np.log(bases)  # (n, 3)
        with np.errstate(divide="ignore"):
            phi_max = np.min(np.where(logs > 0, limits / np.where(logs > 0, logs, 1), np.inf), axis=1)
        phis = np.linspace(0, 1, 16)[None, :] * phi_max[:, None]  # (n, 16)
        points = phis[..., None] * logs[:, None, :]
        values = self.at(points.reshape(-1, 3)).reshape(*phis.shape, 2)
        lat, best = frontier
        index = np.clip(np.searchsorted(lat, values[..., 0] + 1e-9, side="right") - 1, 0, len(lat) - 1)
        return (best[index] - values[..., 1]).mean(axis=1)


def _candidates(depth: bool, step: float = 0.01) -> np.ndarray:
    """(alpha, beta, gamma) with alpha * beta^2 * gamma^2 = 2 and all >= 1 (alpha = 1 without a depth knob)."""
    rows = []
    for alpha in (np.arange(1.0, TARGET + 1e-9, step) if depth else [1.0]):
        for beta in np.arange(1.0, math.sqrt(TARGET / alpha) + 1e-9, step / 2):
            gamma = math.sqrt(TARGET / (alpha * beta ** 2))
            if gamma >= 1.0:
                rows.append((alpha, beta, gamma))
    return np.array(rows)


def fit_bases(frame: pd.DataFrame, device: str, *, step: float = 0.01) -> BasesFit:
    """The bases whose phi-curve stays closest to `device`'s frontier (grid search under the constraint)."""
    grid = frame[frame["path"] == "grid"]
    surface = Surface(grid, f"ms:{device}")
    frontier = surface.frontier()
    candidates = _candidates(grid["depth"].nunique() > 1, step)
    gaps = surface.path_gap(candidates, frontier)
    best = candidates[int(np.argmin(gaps))]
    reference = surface.path_gap(np.array([EFFICIENTNET_BASES]), frontier)[0]
    return BasesFit(device, *(float(v) for v in best), float(gaps.min()), float(reference))


# ---------------------------------------------------------------- the accuracy surrogate
_SCALE = re.compile(r"\b([dwr])=([\d.]+)")


@dataclass(frozen=True)
class Surrogate:
    """top-1(d, w, r) = ceiling - (ceiling - base) * exp(-(a ln d + b ln w + c ln r)), one ceiling per family,
    shared a, b, c: scaling a dimension closes part of the gap to a saturating ceiling. A fitted curve, not data."""

    a: float
    b: float
    c: float
    ceilings: dict[str, float]
    bases: dict[str, float]
    rmse: float  # top-1 points, on the fitted points
    max_error: float
    loo_rmse: float  # leave-one-out: each point predicted by a fit without it
    points: int

    def __call__(self, depth: float, width: float, resolution: float, family: str = "EfficientNet") -> float:
        gain = self.a * math.log(depth) + self.b * math.log(width) + self.c * math.log(resolution)
        ceiling, base = self.ceilings[family], self.bases[family]
        return ceiling - (ceiling - base) * math.exp(-gain)


def _percent(text: str) -> float:
    return float(text.strip().rstrip("%"))


def published_points() -> pd.DataFrame:
    """family, depth, width, resolution multipliers and published top-1 (%): B0-B7 and Table 3's scaled rows."""
    coefficients = {r["model"].replace("efficientnet-b", "EfficientNet-B"): r
                    for r in reference_csv("efficientnet_official_params.csv")}
    rows = [{"family": "EfficientNet", "model": name, "depth": float(c["depth_coefficient"]),
             "width": float(c["width_coefficient"]), "resolution": int(c["resolution"]) / 224,
             "top1": _percent(next(r for r in reference_csv("efficientnet_table2_latest.csv")
                                   if r["model"] == name)["top1"])} for name, c in coefficients.items()]
    family = None
    for row in reference_csv("efficientnet_table3_scaling.csv"):
        if row["model"].startswith("Baseline"):
            family = row["model"].removeprefix("Baseline ")
        scales = {k: float(v) for k, v in _SCALE.findall(row["model"])}
        if row["model"].startswith("Baseline") or scales:
            rows.append({"family": family, "model": row["model"], "depth": scales.get("d", 1.0),
                         "width": scales.get("w", 1.0), "resolution": scales.get("r", 1.0),
                         "top1": _percent(row["top1"])})
    return pd.DataFrame(rows)


def _fit(points: pd.DataFrame) -> tuple[np.ndarray, list[str], dict[str, float]]:
    from scipy.optimize import least_squares

    families = list(dict.fromkeys(points["family"]))
    bases = {f: float(points[(points["family"] == f) & (points[["depth", "width", "resolution"]] == 1).all(axis=1)]
                      ["top1"].iloc[0]) for f in families}
    logs = np.log(points[["depth", "width", "resolution"]].to_numpy(dtype=float))
    fam = np.array([families.index(f) for f in points["family"]])
    base = np.array([bases[f] for f in points["family"]])

    def residuals(x: np.ndarray) -> np.ndarray:
        ceiling = x[3:][fam]
        return ceiling - (ceiling - base) * np.exp(-logs @ x[:3]) - points["top1"].to_numpy()

    start = np.array([1.0, 1.0, 1.0, *[bases[f] + 5 for f in families]])
    lower = np.array([0, 0, 0, *[bases[f] + 0.1 for f in families]])
    fit = least_squares(residuals, start, bounds=(lower, np.full(len(start), 100.0)))
    return fit.x, families, bases


@functools.lru_cache(maxsize=1)
def accuracy_surrogate() -> Surrogate:
    """The surrogate fitted to every published point, with its fit and leave-one-out errors (top-1 points)."""
    points = published_points()
    x, families, bases = _fit(points)
    model = Surrogate(*x[:3], dict(zip(families, x[3:])), bases, 0.0, 0.0, 0.0, len(points))
    predicted = np.array([model(r.depth, r.width, r.resolution, r.family) for r in points.itertuples()])
    residual = predicted - points["top1"].to_numpy()
    held_out = []
    for i, row in enumerate(points.itertuples()):
        if (row.depth, row.width, row.resolution) == (1.0, 1.0, 1.0):
            continue  # a baseline is the anchor of its family, not a prediction
        xi, fi, bi = _fit(points.drop(index=points.index[i]))
        loo = Surrogate(*xi[:3], dict(zip(fi, xi[3:])), bi, 0.0, 0.0, 0.0, len(points) - 1)
        held_out.append(loo(row.depth, row.width, row.resolution, row.family) - row.top1)
    return dataclasses.replace(model, rmse=float(np.sqrt(np.mean(residual ** 2))),
                               max_error=float(np.abs(residual).max()),
                               loo_rmse=float(np.sqrt(np.mean(np.square(held_out)))))
