"""The paper figures by name: data (a pure, cacheable computation) plus drawing, shared by the app pages and
`python -m costmodel export FIGURE`, so a figure exported from the shell is the one shown in the app.

Each recipe declares its parameters with the zoo's `Param` (type, default, range, help), so CLI strings are
converted and checked with the same one-line errors as zoo parameters.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from costmodel.studies import evaluate, guideline_sweeps, ranking, scaling, zoo_table
from costmodel.viz import figures
from costmodel.viz.labels import channels_label, device_label, display_name
from costmodel.errors import CostModelError
from costmodel.studies.evaluate import Settings
from costmodel.studies.shufflenet_units import V1_GROUPS, UnitSpec, matched_v2
from costmodel.zoo.guidelines import STRUCTURES
from costmodel.zoo.spec import Param

_LEVEL = Param("level", int, 0, "column of the paper's table: 0, 1, 2 (x1/x2/x4 channels, or Table 3-4's c columns)",
               choices=(0, 1, 2))


@dataclass(frozen=True)
class Recipe:
    name: str
    help: str
    params: tuple[Param, ...]
    draw: Callable[[Settings, dict[str, Any]], go.Figure]

    def resolve(self, values: Mapping[str, object]) -> dict[str, Any]:
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise CostModelError(f"figure '{self.name}' has no parameter '{unknown[0]}'",
                                 f"use {', '.join(known) or 'no -p parameters'}")
        return {n: p.coerce(values[n], self.name) if n in values else p.default for n, p in known.items()}

    def figure(self, settings: Settings, values: Mapping[str, object] | None = None) -> go.Figure:
        return self.draw(settings, self.resolve(values or {}))


# ---------------------------------------------------------------- guidelines
def guideline_choice(table: int, p: Mapping[str, Any]) -> object:
    """The user's setting of guideline `table` from recipe/page parameters; None when the user set none (then
    nothing is marked "yours")."""
    if table == 4:
        relu, shortcut = p.get("relu"), p.get("shortcut")
        return None if relu is None and shortcut is None else (relu is not False, shortcut is not False)
    return p.get({1: "ratio", 2: "g", 3: "structure"}[table])


def device_names(settings: Settings) -> dict[str, str]:
    """Profile name -> the device's human name, for every device shown."""
    return {evaluate.profile(d).name: device_label(evaluate.profile(d)) for d in settings.devices}


def guideline_figure(table: int, frame: pd.DataFrame, names: Mapping[str, str] | None = None) -> go.Figure:
    """The guideline chart with human names: devices by hardware, MAC lines by the column's channels."""
    g = guideline_sweeps.GUIDELINES[table]
    mac, speed = guideline_sweeps.chart_data(frame)
    first_config = frame.drop_duplicates("column").set_index("column")["config"]
    mac = mac.assign(config=[f"{channels_label(first_config[c])} ({c.split('_')[0].upper()} columns)"
                             for c in mac["config"]])
    speed = speed.assign(device=[(names or {}).get(d, d) for d in speed["device"]])
    yours = frame.loc[frame["yours"], "setting"]
    return figures.guideline_chart(mac, speed, title=f"{g.key}: {g.title}", published=f"published (Table {g.table})",
                                   highlight=yours.iloc[0] if len(yours) else None)


def guideline_panel(table: int, level: int, settings: Settings, choice: object
                    ) -> tuple[pd.DataFrame, go.Figure]:
    """The sweep of guideline `table` and its figure, computed together so a page can cache both."""
    frame = guideline_sweeps.sweep(table, level, settings, choice)
    return frame, guideline_figure(table, frame, device_names(settings))


def _guideline(table: int) -> Callable[[Settings, dict[str, Any]], go.Figure]:
    def draw(settings: Settings, p: dict[str, Any]) -> go.Figure:
        return guideline_panel(table, p["level"], settings, guideline_choice(table, p))[1]
    return draw


# ---------------------------------------------------------------- scaling, zoo, blocks
@dataclass(frozen=True)
class ScalingPanel:
    sweep: pd.DataFrame
    variants: pd.DataFrame
    curves: go.Figure  # without the chosen phi: `figures.mark_x` adds it per rerun
    pareto: go.Figure


def scaling_panel(bases: scaling.Bases, settings: Settings) -> ScalingPanel:
    """Everything of the scaling page that does not depend on the chosen phi."""
    sweep, variants = scaling.sweep(bases, settings), scaling.variants(settings)
    devices = [evaluate.profile(d).name for d in settings.devices]
    curves = figures.scaling_curves(sweep, devices, marks=variants, device_names=device_names(settings), title=(
        f"EfficientNet scaling: compound (alpha = {bases.alpha:g}, beta = {bases.beta:g}, gamma = {bases.gamma:g}) "
        "vs one dimension at equal FLOPs"))
    pareto = figures.accuracy_latency(_named(zoo_table.points(variants, settings), settings),
                                      title="EfficientNet B0-B7: published top-1 vs predicted latency")
    return ScalingPanel(sweep, variants, curves, pareto)


def _scaling(settings: Settings, p: dict[str, Any]) -> go.Figure:
    curves = scaling_panel(scaling.Bases(p["alpha"], p["beta"], p["gamma"]), settings).curves
    return figures.mark_x(curves, p["phi"])


ZOO_TITLE = "Same FLOPs, different speed: zoo models, FLOPs vs predicted latency"
PARETO_TITLE = "Published top-1 vs predicted latency"


@dataclass(frozen=True)
class ZooPanel:
    wide: pd.DataFrame  # one row per published model
    long: pd.DataFrame  # one row per model and device
    flops_latency: go.Figure
    accuracy_latency: go.Figure


def _named(points: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """`points` with the device column in human names (panel titles)."""
    names = device_names(settings)
    return points.assign(device=[names.get(d, d) for d in points["device"]])


def zoo_panel(settings: Settings) -> ZooPanel:
    wide = zoo_table.table(settings)
    long = zoo_table.points(wide, settings)
    shown = _named(long, settings)
    return ZooPanel(wide, long, figures.flops_latency(shown, title=ZOO_TITLE),
                    figures.accuracy_latency(shown, title=PARETO_TITLE))


def ranking_figure(ranked: pd.DataFrame, target_ms: float, w: float) -> go.Figure:
    shown = ranked.assign(device=[display_name(d) for d in ranked["device"]])
    return figures.ranking_bars(shown, title=f"MnasNet reward ACC x (LAT / {target_ms:g} ms)^{w:g}")


def _zoo(settings: Settings, p: dict[str, Any]) -> go.Figure:
    return zoo_panel(settings).flops_latency


def _pareto(settings: Settings, p: dict[str, Any]) -> go.Figure:
    return zoo_panel(settings).accuracy_latency


def _ranking(settings: Settings, p: dict[str, Any]) -> go.Figure:
    return ranking_figure(ranking.rank(zoo_panel(settings).long, p["target_ms"], p["w"]), p["target_ms"], p["w"])


def block_units(p: Mapping[str, Any]) -> tuple[UnitSpec, UnitSpec]:
    """The V1 and V2 units of the blocks page/figure; V2 at V1's FLOPs when `matched`."""
    v1 = UnitSpec(1, p["channels"], p["stride"], p["size"], groups=p["groups"])
    if p["matched"]:
        return v1, matched_v2(v1, split_ratio=p["split_ratio"])
    return v1, UnitSpec(2, p["v2_channels"], p["stride"], p["size"], split_ratio=p["split_ratio"])


def _blocks(settings: Settings, p: dict[str, Any]) -> go.Figure:
    units = block_units(p)
    return figures.op_graphs({u.label: evaluate.per_image(u, settings).graph for u in units},
                             title="ShuffleNet V1 vs V2 unit: op graphs (node size = MAC bytes)")


def _breakdown(settings: Settings, p: dict[str, Any]) -> go.Figure:
    return figures.breakdown_bars(evaluate.breakdown(list(block_units(p)), settings),
                                  title="Where the time goes (ShuffleNet V2 Figure 2 categories)")


_BLOCK_PARAMS = (
    Param("groups", int, 3, "V1 group count", choices=V1_GROUPS),
    Param("channels", int, 240, "V1 output channels", minimum=4, maximum=4096),
    Param("stride", int, 1, "stride of both units", choices=(1, 2)),
    Param("size", int, 28, "input height = width", minimum=2, maximum=1024),
    Param("split_ratio", float, 0.5, "V2 channels through the conv branch", minimum=0.05, maximum=0.95),
    Param("matched", bool, True, "V2 channels chosen to match V1's FLOPs"),
    Param("v2_channels", int, 232, "V2 output channels when not matched", minimum=2, maximum=4096),
)
_BASES = (Param("alpha", float, 1.2, "depth base", minimum=1.0, maximum=2.0),
          Param("beta", float, 1.1, "width base", minimum=1.0, maximum=2.0),
          Param("gamma", float, 1.15, "resolution base", minimum=1.0, maximum=2.0))

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("g1", "G1: MAC and speed vs c1:c2 at fixed FLOPs (Table 1)",
           (_LEVEL, Param("ratio", float, None, "your c2/c1 ratio (marked 'yours')", minimum=1.0, maximum=64.0)),
           _guideline(1)),
    Recipe("g2", "G2: MAC and speed vs group count at fixed FLOPs (Table 2)",
           (_LEVEL, Param("g", int, None, "your group count (marked 'yours')", minimum=1, maximum=512)),
           _guideline(2)),
    Recipe("g3", "G3: fragmented structures at equal FLOPs (Table 3)",
           (_LEVEL, Param("structure", str, None, "highlighted structure", choices=tuple(STRUCTURES))),
           _guideline(3)),
    Recipe("g4", "G4: ReLU and shortcut removed from a bottleneck (Table 4)",
           (_LEVEL, Param("relu", bool, None, "highlighted: with ReLU"),
            Param("shortcut", bool, None, "highlighted: with shortcut")), _guideline(4)),
    Recipe("scaling", "EfficientNet: compound vs single-dimension scaling over phi, B0-B7 marked",
           (*_BASES, Param("phi", float, 1.0, "marked phi", minimum=0.0, maximum=scaling.PHI_MAX)), _scaling),
    Recipe("zoo", "Zoo models: FLOPs vs predicted latency per device", (), _zoo),
    Recipe("pareto", "Zoo models: published top-1 vs predicted latency per device, Pareto front", (), _pareto),
    Recipe("ranking", "Zoo models ranked by MnasNet's reward per device",
           (Param("target_ms", float, ranking.DEFAULT_TARGET_MS, "target latency T (ms)", minimum=0.001),
            Param("w", float, ranking.DEFAULT_W, "exponent w", minimum=-1.0, maximum=0.0)), _ranking),
    Recipe("blocks", "ShuffleNet V1 vs V2 unit op graphs", _BLOCK_PARAMS, _blocks),
    Recipe("breakdown", "ShuffleNet V1 vs V2 unit time breakdown (Figure 2 style)", _BLOCK_PARAMS, _breakdown),
)}
