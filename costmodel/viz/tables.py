"""Readable tables: raw frames (base units) -> display frames whose headers carry the units, as they are shown
in the app and exported to CSV and LaTeX. Numbers are scaled (MAdds -> M MAdds, bytes -> MiB), never rounded:
rounding is the viewer's business."""
from __future__ import annotations

import pandas as pd

from costmodel.studies.evaluate import Settings, device_batch, profile

# raw column -> (header with unit, divisor)
COLUMNS = {
    "flops": ("FLOPs (M multiply-adds)", 1e6),
    "params": ("params (M)", 1e6),
    "mac_elements": ("MAC (M elements)", 1e6),
    "mac_bytes": ("MAC (MiB)", 2 ** 20),
    "lower_bound_bytes": ("G1 lower bound (MiB)", 2 ** 20),
    "elementwise_ops": ("elementwise ops", 1),
    "elementwise_mac_share": ("elementwise share of MAC (%)", 0.01),
    "data_movement_ops": ("data-movement ops", 1),
    "kernels": ("kernels", 1),
    "kernels_per_block": ("kernels per block (mean)", 1),
    "parallel_width": ("width (parallel compute ops per block, mean)", 1),
    "top1": ("published top-1 (%)", 1),
    "width_coefficient": ("width coefficient", 1),
    "depth_coefficient": ("depth coefficient", 1),
    "resolution": ("resolution (px)", 1),
    "error_pct": ("error vs published (%)", 1),
    "ms": ("latency (ms)", 1),
}


def device_headers(settings: Settings) -> dict[str, str]:
    """`ms:<device>` and `throughput:<device>` -> headers with the device's batch and unit."""
    headers = {}
    for name in settings.devices:
        device = profile(name)
        batch = device_batch(device, settings)
        headers[f"ms:{device.name}"] = f"{device.name} latency (ms, batch {batch})"
        headers[f"throughput:{device.name}"] = f"{device.name} ({device.unit}, batch {batch})"
    return headers


def readable(frame: pd.DataFrame, settings: Settings, columns: list[str] | None = None) -> pd.DataFrame:
    """`columns` of `frame` (default: all) with scaled values and unit-bearing headers."""
    out = frame[columns or list(frame.columns)].copy()
    devices = device_headers(settings)
    for column in out.columns:
        if column in COLUMNS:
            header, divisor = COLUMNS[column]
            if divisor != 1:
                out[column] = out[column] / divisor
            out = out.rename(columns={column: header})
        elif column in devices:
            out = out.rename(columns={column: devices[column]})
    return out


def transposed(frame: pd.DataFrame, key: str = "model") -> pd.DataFrame:
    """One column per row of `frame` (named by its `key` column), one row per metric: how a few models compare."""
    out = frame.set_index(key).T.reset_index(names="metric")
    out.columns = [str(c) for c in out.columns]
    for column in out.columns[1:]:  # mixed numbers and text: shown as text, floats to 6 significant digits
        out[column] = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in out[column]]
    return out
