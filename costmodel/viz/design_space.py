"""Figures and tables of a design-space sweep (costmodel/studies/sweep.py results): any metric against any other
coloured by a parameter, the Pareto front per device, and the device-optimal scaling panel; the tables with
unit-bearing headers (costmodel.viz.tables), an uploaded results file read with errors that name the user's file,
and the Design space page's sentences. Pure: a results table in, a figure or table out; axis titles and headers
carry units (FLOPs are multiply-adds, MAC bytes at the sweep's dtype, latency ms per batch)."""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from costmodel.errors import CostModelError
from costmodel.latency.profiles import DeviceProfile, profile_names
from costmodel.studies import sweep
from costmodel.studies.evaluate import Settings, profile
from costmodel.studies.optimal_scaling import method_rows
from costmodel.viz import tables
from costmodel.viz.figures import (METHOD_COLORS, captioned, cell, color_of, log_ticks, pareto_front, scatter_grid,
                                   scatter_layout, style, x_title, y_title)
from costmodel.viz.labels import device_label, display_name

_UNITS = {"flops": "FLOPs (multiply-adds)", "params": "parameters", "mac_elements": "MAC (elements)",
          "mac_bytes": "MAC (bytes)", "elementwise_mac_share": "elementwise share of MAC",
          "data_movement_mac_share": "data-movement share of MAC", "kernels": "kernels (compute ops)",
          "kernels_per_block": "kernels per block", "parallel_width": "parallel width (mean per block)",
          "input_resolution": "input resolution (px)", "elementwise_ops": "elementwise ops",
          "data_movement_ops": "data-movement ops"}
_METHODS = {"compound (EfficientNet)": "compound", "width only": "width", "depth only": "depth",
            "resolution only": "resolution"}
LOG_METRICS = ("flops", "params", "mac_elements", "mac_bytes")
_SCATTER_PX = 460  # the metric scatter's height on screen


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The numeric result columns a user may plot: costs and per-device latency, throughput and breakdown."""
    skip = {"point_index"}
    return [c for c in results.columns if c not in skip and not c.startswith("param:") and not c.startswith("batch:")
            and pd.api.types.is_numeric_dtype(results[c])]


def parameter_columns(results: pd.DataFrame) -> list[str]:
    return [c for c in results.columns if c.startswith("param:")]


def axis_title(column: str, results: pd.DataFrame | None = None) -> str:
    """'ms:gtx1080ti' -> 'predicted latency on GTX 1080 Ti (paper) (ms, batch 8)'; costs with their units."""
    if column.startswith("param:"):
        return column.removeprefix("param:")
    kind, _, rest = column.partition(":")
    if kind in ("ms", "throughput"):
        device, _, category = rest.partition(":")
        batch = _batch_text(results, device)
        if kind == "throughput":
            return f"predicted throughput on {display_name(device)} (per s{batch})"
        return f"predicted {category + ' ' if category else ''}latency on {display_name(device)} (ms{batch})"
    return _UNITS.get(column, column)


def _batch_text(results: pd.DataFrame | None, device: str) -> str:
    """', batch 8' when `results` record the batch of `device`'s latencies, else ''."""
    batch = _batch(results, device) if results is not None else None
    return f", batch {batch}" if batch else ""


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
    fig.update_yaxes(title_text=y_title(axis_title(y, results), _SCATTER_PX), automargin=True,
                     type="log" if y in LOG_METRICS else None)
    return style(fig, title, height=_SCATTER_PX)


def pareto_fronts(results: pd.DataFrame, devices: Sequence[str], value: str = "flops") -> pd.DataFrame:
    """Per device, the points no other point beats on both latency (lower) and `value` (higher): device, batch
    (the batch its ms is per, when the results record it), point, ms, value, and the parameters."""
    ok = results[results["status"] != "error"]
    batches = any(f"batch:{device}" in ok for device in devices)
    frames = []
    for device in devices:
        front = pareto_front(ok, f"ms:{device}", value)
        frame = (front[["point", f"ms:{device}", value, *parameter_columns(ok)]]
                 .rename(columns={f"ms:{device}": "ms"}).assign(device=device))
        if batches:
            frame["batch"] = front[f"batch:{device}"] if f"batch:{device}" in front else None
        frames.append(frame)
    columns = ["device", *(["batch"] if batches else []), "point", "ms", value, *parameter_columns(ok)]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def pareto_figure(results: pd.DataFrame, devices: Sequence[str], value: str = "flops", *,
                  title: str | None = None) -> go.Figure:
    """`value` against predicted latency, one panel per device (in rows, as the zoo's scatters), every point in
    grey and that device's Pareto front (fastest for its `value`) as a black step line with markers."""
    ok = results[results["status"] != "error"]
    fig, cols, plot_h = scatter_grid([display_name(device) for device in devices])
    for index, device in enumerate(devices):
        ms, at = f"ms:{device}", cell(index, cols)
        fig.add_trace(go.Scatter(x=ok[ms], y=ok[value], mode="markers", text=ok["point"], name="design point",
                                 legendgroup="points", showlegend=index == 0, marker=dict(size=6, color="#BBBBBB"),
                                 hovertemplate="%{text}<br>%{x:.4g} ms, %{y:.4g}<extra></extra>"), **at)
        front = pareto_front(ok, ms, value)
        fig.add_trace(go.Scatter(x=front[ms], y=front[value], mode="lines+markers", text=front["point"],
                                 name="Pareto front", legendgroup="front", showlegend=index == 0,
                                 line=dict(shape="hv", color="black", width=1.5), marker=dict(size=8, color="black"),
                                 hovertemplate="%{text}<br>%{x:.4g} ms, %{y:.4g}<extra>front</extra>"), **at)
        _device_axes(fig, index, cols, results, device, axis_title(value))
    if value in LOG_METRICS:  # every panel, not only the first
        fig.update_yaxes(type="log", **log_ticks(ok[value]))
    return scatter_layout(fig, title, plot_h)


def _device_axes(fig: go.Figure, index: int, cols: int, results: pd.DataFrame, device: str, y_title: str) -> None:
    """Panel `index`'s axes: log latency at the device's batch below it (its title names the device), `y_title`
    on the first panel of each row."""
    fig.update_xaxes(title_text=x_title(f"predicted latency (ms{_batch_text(results, device)})", cols), type="log",
                     **log_ticks(results[f"ms:{device}"]), **cell(index, cols))
    if index % cols == 0:
        fig.update_yaxes(title_text=y_title, **cell(index, cols))


def scaling_panel(frame: pd.DataFrame, table: pd.DataFrame, budgets: Mapping[str, float], *,
                  title: str | None = None) -> go.Figure:
    """FLOPs against predicted latency per device (in rows, as the zoo's scatters): the multiplier grid in grey,
    the compound path and the width-, depth- and resolution-only curves, each device's budget (ms) as a dashed
    line and each method's pick as a star. `frame` comes from optimal_scaling.multipliers, `table` from
    optimal_scaling.budget_table."""
    devices = list(budgets)
    fig, cols, plot_h = scatter_grid([display_name(device) for device in devices])
    by_method = method_rows(frame)
    by_method.pop("device-optimal")
    grid = frame[frame["path"] == "grid"]
    curves = {_METHODS[method]: rows for method, rows in by_method.items()}
    hover = "%{text}<br>%{x:.4g} ms, %{y:.4s} MAdds<extra></extra>"
    for index, device in enumerate(devices):
        ms, at = f"ms:{device}", cell(index, cols)
        fig.add_trace(go.Scatter(x=grid[ms], y=grid["flops"], mode="markers", text=grid["point"], name="grid point",
                                 legendgroup="grid", showlegend=index == 0, marker=dict(size=5, color="#C8C8C8"),
                                 hovertemplate=hover), **at)
        for method, rows in curves.items():
            rows = rows.sort_values(ms)
            fig.add_trace(go.Scatter(x=rows[ms], y=rows["flops"], mode="lines+markers", text=rows["point"],
                                     name=f"{method} scaling" if method != "compound" else "compound (EfficientNet)",
                                     legendgroup=method, showlegend=index == 0, hovertemplate=hover,
                                     line=dict(color=METHOD_COLORS[method], width=1.5),
                                     marker=dict(size=5, color=METHOD_COLORS[method])), **at)
        picks = table[(table["device"] == device) & table["flops"].notna()] if "flops" in table else table.iloc[:0]
        for pick in picks.itertuples():
            color = METHOD_COLORS.get(_METHODS.get(pick.method, ""), "#CC0000")
            fig.add_trace(go.Scatter(x=[pick.ms], y=[pick.flops], mode="markers", name="budget pick",
                                     legendgroup=f"pick {pick.method}", showlegend=False,
                                     marker=dict(symbol="star", size=15 if pick.method == "device-optimal" else 11,
                                                 color=color, line=dict(color="black", width=1)),
                                     hovertemplate=f"{pick.method}<br>%{{x:.4g}} ms, %{{y:.4s}} MAdds<extra></extra>"),
                          **at)
        fig.add_vline(x=budgets[device], line=dict(color="#CC0000", dash="dash", width=1), **at)
        _device_axes(fig, index, cols, frame, device, "FLOPs (multiply-adds)")
    fig.update_yaxes(type="log", **log_ticks(frame["flops"]))
    return captioned(scatter_layout(fig, title, plot_h), "Stars (budget pick): the most FLOPs each method reaches "
                     "within the device's budget, coloured as its curve (large red star: the device-optimal "
                     "multipliers); dashed red line: the budget.")


# ---------------------------------------------------------------- tables, the uploaded file and the page's sentences
def count(number: int, noun: str) -> str:
    """'no points', '1 point', '12 points'."""
    return f"no {noun}s" if number == 0 else f"{number} {noun}{'' if number == 1 else 's'}"


def sweep_devices(results: pd.DataFrame) -> list[str]:
    """The devices (profile names) a sweep's results hold predictions for: its `ms:DEV` columns, in file order."""
    return [str(c).split(":")[1] for c in results.columns if str(c).startswith("ms:") and str(c).count(":") == 1]


def no_shared_device(results: pd.DataFrame, devices: Sequence[str]) -> str:
    """One line for a sweep none of whose devices is among `devices` (the sidebar's): why no Pareto front is drawn
    and what brings it."""
    found = sweep_devices(results)
    if not found:
        return "No Pareto front: this sweep holds no latency predictions (it was run without devices)."
    return (f"No Pareto front: this sweep has predictions for {', '.join(found)}, and the sidebar's devices "
            f"({', '.join(devices) or 'none'}) include none of them - add one of them in the sidebar (a profile "
            "that is not shipped: upload it on the Device profiles page).")


def host_bound_devices(results: pd.DataFrame, devices: Sequence[str]) -> list[str]:
    """Of `devices`, those on which every point the sweep timed is host-bound (an eager GPU run issues each kernel
    slower than the GPU runs it): each point's time is then its launches, so their fronts rank op counts."""
    bound = []
    for device in devices:
        if f"bound:{device}" not in results:
            continue
        timed = results.loc[results[f"ms:{device}"].notna(), f"bound:{device}"]
        if len(timed) and (timed == "host").all():
            bound.append(device)
    return bound


def _batch(results: pd.DataFrame, device: str) -> int | None:
    column = f"batch:{device}"
    values = results[column].dropna() if column in results else pd.Series(dtype=float)
    return int(values.iloc[0]) if len(values) else None


def _throughput_unit(results: pd.DataFrame, device: str, batch: int | None,
                     known: Mapping[str, DeviceProfile]) -> str:
    """The profile's own unit; for a device with no profile here, read off the numbers: throughput x ms is
    1000 per batch (batches/s) or 1000 x batch (images/s)."""
    if device in known:
        return known[device].unit
    both = results[[f"ms:{device}", f"throughput:{device}"]].dropna() if f"ms:{device}" in results else None
    if both is None or both.empty or not batch or batch == 1:
        return "batches/s"
    per = float((both.iloc[:, 0] * both.iloc[:, 1]).median()) / 1e3
    return "images/s" if abs(per - batch) < abs(per - 1) else "batches/s"


def headers(results: pd.DataFrame, settings: Settings) -> dict[str, str]:
    """Unit-bearing headers of a sweep's columns that costmodel.viz.tables.COLUMNS cannot name: each device's
    `batch:`, `ms:`, `throughput:`, `bound:` and `ms:DEV:CATEGORY` columns, at the batch the results record for
    it (a loaded file's devices and batch need not be the sidebar's), and the swept parameters `param:KEY`."""
    known = {device.name: device for device in map(profile, settings.devices)}  # uploaded profiles too
    known.update({name: profile(name) for name in profile_names() if name not in known and f"ms:{name}" in results})
    out = {}
    for column in map(str, results.columns):
        kind, _, rest = column.partition(":")
        if kind == "param" and rest:
            out[column] = "input resolution (px, swept)" if rest == sweep.RESOLUTION_KEY else f"{rest} (swept)"
            continue
        if kind not in ("batch", "ms", "throughput", "bound") or not rest:
            continue
        device, _, category = rest.partition(":")
        label = device_label(known[device]) if device in known else display_name(device)
        batch = _batch(results, device)
        at = f", batch {batch}" if batch else ""
        if kind == "ms":
            out[column] = f"{label} {category} device time (ms{at})" if category else f"{label} latency (ms{at})"
        elif kind == "throughput":
            out[column] = f"{label} ({_throughput_unit(results, device, batch, known)}{at})"
        else:
            out[column] = f"{label} batch (images)" if kind == "batch" else f"{label} bound by (host or device)"
    return out


def readable(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """A sweep's table (results, Pareto fronts, the scaling budget table, the fitted bases) as the page shows and
    exports it: values scaled and every header with its unit (costmodel.viz.tables.readable plus `headers`)."""
    return tables.readable(frame, settings, headers=headers(frame, settings))


def read_upload(data: bytes, name: str) -> pd.DataFrame:
    """An uploaded sweep's rows (sorted by point_index). A file that is not a sweep's results is one line naming
    `name`, the user's own file name - never a path on this server."""
    buffer = io.BytesIO(data)
    try:
        return sweep.read(buffer).to_pandas()
    except CostModelError as error:
        raise CostModelError(error.problem.replace(str(buffer), f"'{name}'"), error.fix) from None
