"""Readable tables: raw frames (base units) -> display frames whose headers carry the units, as they are shown
in the app and exported to CSV and LaTeX. Values are scaled (MAdds -> M MAdds, bytes -> MiB) but kept at full
precision (CSV keeps them so); `quantity_of` names each header's quantity so the app and LaTeX print it by the
one rule of costmodel/units.py."""
from __future__ import annotations

import pandas as pd

from costmodel import units
from costmodel.studies.evaluate import Settings, device_batch, profile
from costmodel.viz.labels import device_label

# raw column -> (header with unit, divisor, quantity of costmodel.units.QUANTITIES)
COLUMNS = {
    "flops": ("FLOPs (M multiply-adds)", 1e6, "flops"),
    "params": ("params (M)", 1e6, "params"),
    "mac_elements": ("MAC (M elements)", 1e6, "mac"),
    "mac_bytes": ("MAC (MiB)", 2 ** 20, "mac"),
    "lower_bound_bytes": ("G1 lower bound (MiB)", 2 ** 20, "mac"),
    "elementwise_ops": ("elementwise ops", 1, "count"),
    "elementwise_mac_share": ("elementwise share of MAC (%)", 0.01, "percent"),
    "data_movement_ops": ("data-movement ops", 1, "count"),
    "kernels": ("kernels", 1, "count"),
    "compute_ops": ("compute ops", 1, "count"),
    "kernels_per_block": ("kernels per block (mean)", 1, "ratio"),
    "parallel_width": ("width (parallel compute ops per block, mean)", 1, "ratio"),
    "top1": ("published top-1 (%)", 1, "percent"),
    "width_coefficient": ("width coefficient", 1, "ratio"),
    "depth_coefficient": ("depth coefficient", 1, "ratio"),
    "resolution": ("resolution (px)", 1, "count"),
    "error_pct": ("error vs published (%)", 1, "percent"),
    "ms": ("latency (ms)", 1, "ms"),
    "predicted": ("predicted speed", 1, "throughput"),
    "published": ("published speed", 1, "throughput"),
    "reward": ("reward", 1, "ratio"),
    "batch": ("batch", 1, "count"),
    "rank": ("rank", 1, "count"),
}
_QUANTITY = {header: quantity for header, _, quantity in COLUMNS.values()}


def quantity_of(header: str) -> str | None:
    """The quantity a readable header shows (None for text and unknown columns), by the units in brackets."""
    if header in _QUANTITY:
        return _QUANTITY[header]
    if "latency (ms" in header:
        return "ms"
    if "/s, batch" in header:
        return "throughput"
    return None


def display_formats(frame: pd.DataFrame) -> dict[str, str]:
    """printf formats per numeric column of a readable frame, by the quantity's rule (the app's tables)."""
    out = {}
    for header in frame.columns:
        quantity = quantity_of(str(header))
        if quantity and pd.api.types.is_numeric_dtype(frame[header]) and not pd.api.types.is_bool_dtype(frame[header]):
            out[header] = f"%.{units.decimals(quantity, frame[header].astype(float))}f"
    return out


def device_headers(settings: Settings) -> dict[str, str]:
    """`ms:<device>` and `throughput:<device>` -> headers with the device's batch and unit."""
    headers = {}
    for name in settings.devices:
        device = profile(name)
        batch = device_batch(device, settings)
        label = device_label(device)
        headers[f"ms:{device.name}"] = f"{label} latency (ms, batch {batch})"
        headers[f"throughput:{device.name}"] = f"{label} ({device.unit}, batch {batch})"
    return headers


def readable(frame: pd.DataFrame, settings: Settings, columns: list[str] | None = None) -> pd.DataFrame:
    """`columns` of `frame` (default: all) with scaled values and unit-bearing headers."""
    out = frame[columns or list(frame.columns)].copy()
    devices = device_headers(settings)
    for column in out.columns:
        if column in COLUMNS:
            header, divisor, _ = COLUMNS[column]
            if divisor != 1:
                out[column] = out[column] / divisor
            out = out.rename(columns={column: header})
        elif column in devices:
            out = out.rename(columns={column: devices[column]})
    if "device" in out.columns:
        names = _device_names(settings)
        out["device"] = [names.get(d, d) for d in out["device"]]
    return out


def _device_names(settings: Settings) -> dict[str, str]:
    return {profile(name).name: device_label(name) for name in settings.devices}


def transposed(frame: pd.DataFrame, key: str = "model") -> pd.DataFrame:
    """One column per row of `frame` (named by its `key` column), one row per metric: how a few models compare."""
    out = frame.set_index(key).T.reset_index(names="metric")
    out.columns = [str(c) for c in out.columns]
    out = out.astype(object)
    for i, metric in enumerate(out["metric"]):  # each row is one quantity: printed by its rule, as text
        quantity, values = quantity_of(str(metric)), out.iloc[i, 1:].tolist()
        if quantity and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out.iloc[i, 1:] = units.column(quantity, values)
    return out.astype(str)
