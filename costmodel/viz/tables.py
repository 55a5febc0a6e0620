"""Readable tables: raw frames (base units) -> display frames whose headers carry the units, as they are shown
in the app and exported to CSV and LaTeX. Values are scaled (MAdds -> M MAdds, bytes -> MiB) but kept at full
precision (CSV keeps them so); `quantity_of` names each header's quantity so the app and LaTeX print it by the
one rule of costmodel/units.py."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from costmodel import units
from costmodel.studies import compare
from costmodel.studies.evaluate import Settings, device_batch, profile
from costmodel.viz.labels import device_label

# raw column -> (header with unit, divisor, quantity of costmodel.units.QUANTITIES; None: a text column)
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
    "phi": ("phi (compound coefficient)", 1, "ratio"),
    "width_coefficient": ("width coefficient", 1, "ratio"),
    "depth_coefficient": ("depth coefficient", 1, "ratio"),
    "resolution": ("resolution (px)", 1, "count"),
    "error_pct": ("error vs published (%)", 1, "percent"),
    "ms": ("latency (ms)", 1, "ms"),
    "predicted": ("predicted speed (in the row's unit)", 1, "throughput"),  # GPU rows batches/s, CPU images/s
    "published": ("published speed (in the row's unit)", 1, "throughput"),
    "reward": ("reward", 1, "ratio"),
    "batch": ("batch", 1, "count"),
    "rank": ("rank", 1, "count"),
    "bound": ("bound by (host or device)", 1, None),  # text: which resource sets a GPU run's time
    # EfficientNet's stage table (Table 1 layout: costmodel/zoo/efficientnet.py efficientnet_stages)
    "kernel": ("kernel (px)", 1, "count"),
    "stride": ("stride (px)", 1, "count"),
    "expand": ("expansion ratio (x)", 1, "count"),
    "channels": ("output channels", 1, "count"),
    "repeats": ("layers", 1, "count"),
    # design-space sweeps (costmodel/studies/sweep.py) and device-optimal scaling (studies/optimal_scaling.py)
    "point_index": ("point index (position in the grid)", 1, "count"),
    "input_resolution": ("input resolution (px)", 1, "count"),
    "data_movement_mac_share": ("data-movement share of MAC (%)", 0.01, "percent"),
    "depth": ("depth multiplier (x)", 1, "ratio"),
    "width": ("width multiplier (x)", 1, "ratio"),
    "resolution_mult": ("resolution multiplier (x)", 1, "ratio"),
    "budget_ms": ("latency budget (ms)", 1, "ms"),
    "flops_vs_optimal": ("FLOPs vs device-optimal (%)", 0.01, "percent"),
    "top1_surrogate": ("surrogate top-1 (%, fitted, not measured)", 1, "percent"),
    "alpha": ("alpha (depth factor per unit of phi)", 1, "ratio"),
    "beta": ("beta (width factor per unit of phi)", 1, "ratio"),
    "gamma": ("gamma (resolution factor per unit of phi)", 1, "ratio"),
    "frontier_gap_pct": ("fitted bases: FLOPs gap below the frontier (%)", 1, "percent"),
    "efficientnet_gap_pct": ("EfficientNet's bases: FLOPs gap below the frontier (%)", 1, "percent"),
    # device profiles (costmodel/studies/profile_views.py): a profile's latency-model parameters ...
    "overhead_us": ("overhead per kernel (us)", 1, "ratio"),
    "gbytes_per_s": ("memory bandwidth (GB/s)", 1, "ratio"),
    "gmadds_per_s": ("peak compute (G multiply-adds/s)", 1, "ratio"),
    "half_pixels": ("efficiency halves at (output positions)", 1, "ratio"),
    "half_output_elements": ("efficiency halves at (output elements: positions x channels)", 1, "ratio"),
    "half_reduction": ("efficiency halves at (multiply-adds per output)", 1, "ratio"),
    "half_outputs": ("efficiency halves at (output channels per group)", 1, "ratio"),
    "per_group_us": ("extra per group beyond the first (us)", 1, "ratio"),
    # ... and its measurements: the time is a micro-benchmark's measured one or a paper's published one
    "measured_ms": ("measured (ms per batch)", 1, "ms"),
    "published_ms": ("published (ms per batch)", 1, "ms"),
    "reference_ms": ("measured or published (ms per batch)", 1, "ms"),
    "fitted_ms": ("fitted model (ms per batch)", 1, "ms"),
    "fit_error_pct": ("fitted model's error vs measured (%)", 1, "percent"),
    "fit_error_vs_published_pct": ("fitted model's error vs published (%)", 1, "percent"),
    "fit_error_vs_reference_pct": ("fitted model's error vs measured or published (%)", 1, "percent"),
}
_QUANTITY = {header: quantity for header, _, quantity in COLUMNS.values()}


def quantity_of(header: str) -> str | None:
    """The quantity a readable header shows (None for text and unknown columns), by the units in brackets."""
    if header in _QUANTITY:
        return _QUANTITY[header]
    if "latency (ms" in header or "time (ms" in header:
        return "ms"
    if "/s, batch" in header:
        return "throughput"
    if header.endswith("(%)"):
        return "percent"
    if header.endswith("batch (images)"):  # a sweep's batch per device, missing on error rows
        return "count"
    return None


def display_formats(frame: pd.DataFrame) -> dict[str, str]:
    """printf formats per numeric column of a readable frame, by the quantity's rule (the app's tables)."""
    out = {}
    for header in frame.columns:
        quantity = quantity_of(str(header))
        if quantity and pd.api.types.is_numeric_dtype(frame[header]) and not pd.api.types.is_bool_dtype(frame[header]):
            out[header] = f"%.{units.decimals(quantity, frame[header].astype(float))}f"
    return out


CELL_CHAR_PX = 7.0  # one character of st.dataframe's 14 px cell text (6.2 on average in docs/screenshots)
TEXT_COLUMN_MAX_PX = 320  # longer text (a profile's provenance) is cut rather than pushing the numbers off screen
_CELL_PADDING_PX = 18


def text_widths(frame: pd.DataFrame) -> dict[str, int]:
    """On-screen width (px) per text column of a readable frame, enough for its longest value and header:
    st.dataframe sizes a column by its first rows, so a column whose long values come later (the A/B table's
    devices, below ten rows of costs) was cut to the first letters."""
    out = {}
    for header in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[header]):
            continue
        longest = max(len(str(text)) for text in [header, *frame[header]])
        out[str(header)] = min(TEXT_COLUMN_MAX_PX, round(longest * CELL_CHAR_PX) + _CELL_PADDING_PX)
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


def readable(frame: pd.DataFrame, settings: Settings, columns: list[str] | None = None,
             headers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """`columns` of `frame` (default: all) with scaled values and unit-bearing headers: COLUMNS, the settings'
    devices, and `headers` for columns neither names (or that a frame names otherwise, e.g. a sweep file's
    devices at the batch the file records)."""
    out = frame[columns or list(frame.columns)].copy()
    devices = {**device_headers(settings), **(headers or {})}
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


def ab_latency(latency: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """costmodel.studies.compare's latency table (device, category, a, b, delta: device time in ms per batch)
    for people: the device by its label and the batch it was predicted at, numbers kept as numbers under headers
    with their unit (so the app prints them by the ms rule and the CSV keeps them exact)."""
    batches = {profile(name).name: device_batch(profile(name), settings) for name in settings.devices}
    names = _device_names(settings)
    return pd.DataFrame({
        "device": [names.get(d, d) for d in latency["device"]],
        "batch": [batches.get(d) for d in latency["device"]],
        "category": latency["category"],
        "A device time (ms per batch)": latency["a"].astype(float),
        "B device time (ms per batch)": latency["b"].astype(float),
        "B - A device time (ms per batch)": latency["delta"].astype(float)})


def ab_metrics(metrics: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """costmodel.studies.compare's metrics table for people: devices named by their hardware ('GTX 1080 Ti
    (paper)', not the profile key), values as compare.readable prints them."""
    names = _device_names(settings)
    out = compare.readable(metrics)
    out["device"] = [names.get(device, device) for device in out["device"]]
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
