"""Figures of a design-space sweep (costmodel/studies/sweep.py results): any metric against any other coloured by a
parameter, the Pareto front per device, and the device-optimal scaling panel. Pure: a results table in, a figure
out; axis titles carry units (FLOPs are multiply-adds, MAC bytes at the sweep's dtype, latency ms per batch)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from costmodel.studies.optimal_scaling import method_rows
from costmodel.viz.figures import METHOD_COLORS, color_of, pareto_front, style

_UNITS = {"flops": "FLOPs (multiply-adds)", "params": "parameters", "mac_elements": "MAC (elements)",
          "mac_bytes": "MAC (bytes)", "elementwise_mac_share": "elementwise share of MAC",
          "data_movement_mac_share": "data-movement share of MAC", "kernels": "kernels (compute ops)",
          "kernels_per_block": "kernels per block", "parallel_width": "parallel width (mean per block)",
          "input_resolution": "input resolution (px)", "elementwise_ops": "elementwise ops",
          "data_movement_ops": "data-movement ops"}
_METHODS = {"compound (EfficientNet)": "compound", "width only": "width", "depth only": "depth",
            "resolution only": "resolution"}
LOG_METRICS = ("flops", "params", "mac_elements", "mac_bytes")


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The numeric result columns a user may plot: costs and per-device latency, throughput and breakdown."""
    skip = {"point_index"}
    return [c for c in results.columns if c not in skip and not c.startswith("param:") and not c.startswith("batch:")
            and pd.api.types.is_numeric_dtype(results[c])]


def parameter_columns(results: pd.DataFrame) -> list[str]:
    return [c for c in results.columns if c.startswith("param:")]


def axis_title(column: str, results: pd.DataFrame | None = None) -> str:
    """'ms:gtx1080ti' -> 'predicted latency on gtx1080ti (ms per batch of 8)'; costs with their units."""
    if column.startswith("param:"):
        return column.removeprefix("param:")
    kind, _, rest = column.partition(":")
    if kind in ("ms", "throughput"):
        device, _, category = rest.partition(":")
        batch = ""
        if results is not None and f"batch:{device}" in results and results[f"batch:{device}"].notna().any():
            batch = f", batch {int(results[f'batch:{device}'].dropna().iloc[0])}"
        if kind == "throughput":
            return f"predicted throughput on {device} (per s{batch})"
        return f"predicted {category + ' ' if category else ''}latency on {device} (ms{batch})"
    return _UNITS.get(column, column)


def metric_scatter(results: pd.DataFrame, x: str, y: str, color: str | None = None, *,
                   title: str | None = None) -> go.Figure:
    """`y` against `x` for every evaluated point, coloured by parameter `color` (a colour scale when numeric,
    one colour per value otherwise); error rows are left out. FLOPs, params and MAC axes are logarithmic."""
    ok = results[results["status"] != "error"]
    fig = go.Figure()
    hover = "%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>"
    if color is None or pd.api.types.is_numeric_dtype(ok[color]) and not pd.api.types.is_bool_dtype(ok[color]):
        marker = dict(size=8, line=dict(color="black", width=0.4))
        if color is not None:
            marker.update(color=ok[color], colorscale="Viridis", showscale=True,
                          colorbar=dict(title=dict(text=axis_title(color), side="right")))
        fig.add_trace(go.Scatter(x=ok[x], y=ok[y], mode="markers", text=ok["point"], marker=marker,
                                 hovertemplate=hover, showlegend=False))
    else:
        for i, (value, part) in enumerate(ok.groupby(color, sort=True)):
            fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="markers", text=part["point"], hovertemplate=hover,
                                     name=f"{axis_title(color)} = {value}",
                                     marker=dict(size=8, color=color_of(i), line=dict(color="black", width=0.4))))
    fig.update_xaxes(title_text=axis_title(x, results), type="log" if x in LOG_METRICS else None)
    fig.update_yaxes(title_text=axis_title(y, results), type="log" if y in LOG_METRICS else None)
    return style(fig, title, height=460)


def pareto_fronts(results: pd.DataFrame, devices: Sequence[str], value: str = "flops") -> pd.DataFrame:
    """Per device, the points no other point beats on both latency (lower) and `value` (higher): device, point,
    ms, value, and the parameters."""
    ok = results[results["status"] != "error"]
    frames = []
    for device in devices:
        front = pareto_front(ok, f"ms:{device}", value)
        frames.append(front[["point", f"ms:{device}", value, *parameter_columns(ok)]]
                      .rename(columns={f"ms:{device}": "ms"}).assign(device=device))
    columns = ["device", "point", "ms", value, *parameter_columns(ok)]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def pareto_figure(results: pd.DataFrame, devices: Sequence[str], value: str = "flops", *,
                  title: str | None = None) -> go.Figure:
    """`value` against predicted latency, one panel per device, every point in grey and that device's Pareto front
    (fastest for its `value`) as a black step line with markers."""
    ok = results[results["status"] != "error"]
    fig = make_subplots(rows=1, cols=max(1, len(devices)), subplot_titles=list(devices), horizontal_spacing=0.08)
    for col, device in enumerate(devices, start=1):
        ms = f"ms:{device}"
        fig.add_trace(go.Scatter(x=ok[ms], y=ok[value], mode="markers", text=ok["point"], name="design point",
                                 legendgroup="points", showlegend=col == 1, marker=dict(size=6, color="#BBBBBB"),
                                 hovertemplate="%{text}<br>%{x:.4g} ms, %{y:.4g}<extra></extra>"), row=1, col=col)
        front = pareto_front(ok, ms, value)
        fig.add_trace(go.Scatter(x=front[ms], y=front[value], mode="lines+markers", text=front["point"],
                                 name="Pareto front", legendgroup="front", showlegend=col == 1,
                                 line=dict(shape="hv", color="black", width=1.5), marker=dict(size=8, color="black"),
                                 hovertemplate="%{text}<br>%{x:.4g} ms, %{y:.4g}<extra>front</extra>"), row=1, col=col)
        fig.update_xaxes(title_text=axis_title(ms, results), type="log", row=1, col=col)
    fig.update_yaxes(title_text=axis_title(value), type="log" if value in LOG_METRICS else None, row=1, col=1)
    return style(fig, title, height=440)


def scaling_panel(frame: pd.DataFrame, table: pd.DataFrame, budgets: Mapping[str, float], *,
                  title: str | None = None) -> go.Figure:
    """FLOPs against predicted latency per device: the multiplier grid in grey, the compound path and the
    width-, depth- and resolution-only curves, each device's budget (ms) as a dashed line and each method's pick
    as a star. `frame` comes from optimal_scaling.multipliers, `table` from optimal_scaling.budget_table."""
    devices = list(budgets)
    fig = make_subplots(rows=1, cols=max(1, len(devices)), subplot_titles=devices, horizontal_spacing=0.08)
    by_method = method_rows(frame)
    by_method.pop("device-optimal")
    grid = frame[frame["path"] == "grid"]
    curves = {_METHODS[method]: rows for method, rows in by_method.items()}
    for col, device in enumerate(devices, start=1):
        ms = f"ms:{device}"
        hover = "%{text}<br>%{x:.4g} ms, %{y:.4s} MAdds<extra></extra>"
        fig.add_trace(go.Scatter(x=grid[ms], y=grid["flops"], mode="markers", text=grid["point"], name="grid point",
                                 legendgroup="grid", showlegend=col == 1, marker=dict(size=5, color="#C8C8C8"),
                                 hovertemplate=hover), row=1, col=col)
        for method, rows in curves.items():
            rows = rows.sort_values(ms)
            fig.add_trace(go.Scatter(x=rows[ms], y=rows["flops"], mode="lines+markers", text=rows["point"],
                                     name=f"{method} scaling" if method != "compound" else "compound (EfficientNet)",
                                     legendgroup=method, showlegend=col == 1, hovertemplate=hover,
                                     line=dict(color=METHOD_COLORS[method], width=1.5),
                                     marker=dict(size=5, color=METHOD_COLORS[method])), row=1, col=col)
        picks = table[(table["device"] == device) & table["flops"].notna()] if "flops" in table else table.iloc[:0]
        for pick in picks.itertuples():
            color = METHOD_COLORS.get(_METHODS.get(pick.method, ""), "#CC0000")
            fig.add_trace(go.Scatter(x=[pick.ms], y=[pick.flops], mode="markers", name=f"pick: {pick.method}",
                                     legendgroup=f"pick {pick.method}", showlegend=False,
                                     marker=dict(symbol="star", size=15 if pick.method == "device-optimal" else 11,
                                                 color=color, line=dict(color="black", width=1)),
                                     hovertemplate=f"{pick.method}<br>%{{x:.4g}} ms, %{{y:.4s}} MAdds<extra></extra>"),
                          row=1, col=col)
        fig.add_vline(x=budgets[device], line=dict(color="#CC0000", dash="dash", width=1), row=1, col=col)
        fig.update_xaxes(title_text=axis_title(ms, frame), type="log", row=1, col=col)
    fig.update_yaxes(title_text="FLOPs (multiply-adds)", type="log", row=1, col=1)
    return style(fig, title, height=460)
