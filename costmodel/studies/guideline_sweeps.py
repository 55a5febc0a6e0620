"""ShuffleNet V2's four guidelines as tables: each paper setting of Tables 1-4 (and the user's own setting),
its MAC and FLOPs, and its predicted speed on every device next to the published measurement.

A device uses the paper's GPU columns (GTX 1080Ti channel counts) if it is a GPU and the ARM columns
(Snapdragon 810) otherwise; published speeds are shown for profiles calibrated to the paper. Each table has
three columns per device ("levels": x1/x2/x4 or channels c). The tables were measured at batch 1 (see
costmodel.latency.calibrate), so the profiles calibrated to them predict at batch 1, where their speeds compare
with the published ones; every other profile predicts at its own batch, as on every page (`speed_batch`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from costmodel.errors import CostModelError
from costmodel.studies.evaluate import Settings, ZooModel, latency, per_image, profile
from costmodel.engine.kinds import OpKind
from costmodel.latency.profiles import DeviceProfile
from costmodel.engine.report import Report
from costmodel.engine.opcosts import g1_lower_bound
from costmodel.zoo.guidelines import g1_pair, guideline_settings, tables_batch
from costmodel.zoo.layers import round_to_multiple


@dataclass(frozen=True)
class Guideline:
    key: str
    title: str
    table: int
    control: str  # what the page lets the user vary


GUIDELINES = {
    1: Guideline("G1", "Equal channel width minimises memory access cost (MAC)", 1, "c1:c2 ratio at fixed FLOPs"),
    2: Guideline("G2", "Excessive group convolution increases MAC", 2, "group count g at fixed FLOPs"),
    3: Guideline("G3", "Network fragmentation reduces the degree of parallelism", 3, "fragment structure"),
    4: Guideline("G4", "Element-wise operations are non-negligible", 4, "ReLU and shortcut switches"),
}
LEVELS = (0, 1, 2)


def paper_device(device: DeviceProfile) -> str:
    """Which of the paper's column sets a device uses: 'gpu' or 'arm'."""
    return "gpu" if device.kind == "gpu" else "arm"


def publishes(device: DeviceProfile) -> bool:
    """Whether the paper's measurements are this device's own (a profile calibrated to them)."""
    return device.source.method == "calibrated"


def speed_batch(device: DeviceProfile, settings: Settings) -> int:
    """The batch `device`'s guideline speeds are predicted at: the sidebar's when it fixes one, else the tables'
    for a profile calibrated to them and the profile's own batch for any other (an H200 profile measured at batch
    8 is not asked about batch 1)."""
    return settings.batch or (tables_batch() if publishes(device) else device.batch)


def cells(table: int, kind: str, level: int) -> list[dict]:
    """The settings of one table column: `level` 0-2 of the `kind` ('gpu'/'arm') columns, in row order, read
    as the calibrated profiles read them (costmodel.zoo.guideline_settings: x2/x4 = 2x/4x channels)."""
    if level not in LEVELS:
        raise CostModelError(f"level {level} is not a column of Table {table}", "use level 0, 1 or 2")
    rows = [c for c in guideline_settings(table) if c["device"] == kind]
    columns = list(dict.fromkeys(c["column"] for c in rows))
    return [c for c in rows if c["column"] == columns[level]]


def level_names(table: int) -> list[str]:
    """The column names of the levels, GPU and ARM side by side: e.g. 'x1 (gpu_x1 / arm_x1)'."""
    names = []
    for level in LEVELS:
        gpu, arm = cells(table, "gpu", level)[0]["column"], cells(table, "arm", level)[0]["column"]
        names.append(f"{gpu.split('_')[1]} ({gpu} / {arm})" if gpu.split("_")[1] == arm.split("_")[1]
                     else f"{gpu} / {arm}")
    return names


def user_cell(table: int, kind: str, level: int, choice: object) -> dict:
    """The user's setting as a cell: G1 c1:c2 = 1:`choice` (c1 = floor(c / sqrt(r)), c2 = r c1) and G2 g =
    `choice` (c sqrt(g), a multiple of g) at the FLOPs of the level's first row (c1 = c2 = c, g = 1); G3 a
    structure and G4 a (relu, shortcut) pair pick one of the table's rows."""
    base = cells(table, kind, level)
    if table == 1:
        ratio = float(choice)
        if not 1 <= ratio <= 64:
            raise CostModelError(f"c1:c2 = 1:{ratio:g} is out of range", "use a ratio between 1 and 64")
        c1, c2 = g1_pair(base[0]["kwargs"]["c1"], ratio)
        kwargs = {"c1": c1, "c2": c2}
        return {**base[0], "row": f"1:{ratio:g} (yours)", "kwargs": kwargs, "speed": math.nan}
    if table == 2:
        g = int(choice)
        if g < 1:
            raise CostModelError(f"g={g} is not a group count", "use g of 1 or more")
        c = round_to_multiple(base[0]["kwargs"]["c"] * math.sqrt(g), g)
        return {**base[0], "row": f"g={g} (yours)", "kwargs": {"g": g, "c": c}, "speed": math.nan}
    if table == 3:
        match = [cell for cell in base if cell["kwargs"]["structure"] == choice]
    else:
        relu, shortcut = choice
        match = [cell for cell in base if (cell["kwargs"]["relu"], cell["kwargs"]["shortcut"]) == (relu, shortcut)]
    if not match:
        raise CostModelError(f"Table {table} has no setting {choice!r}", "pick one of the table's rows")
    return match[0]


def g1_lower_bound_total(rep: Report) -> int:
    """G1's bound (costmodel.engine.opcosts.g1_lower_bound) summed over the report's dense 1x1 convs, in elements.
    Batch-1 reports only."""
    bound = 0.0
    for op in rep.ops.itertuples(index=False):
        out = op.output_shapes[0]
        if op.kind == OpKind.CONV.value and len(out) == 4 and op.flops == math.prod(out) * op.input_shapes[0][1]:
            hw = out[2] * out[3]
            bound += g1_lower_bound(hw, op.flops)
    return math.ceil(bound)


def sweep(table: int, level: int, settings: Settings, choice: object = None) -> pd.DataFrame:
    """One row per (setting, device): costs per image and predicted (at `speed_batch`) vs published speed.

    Columns: guideline, setting, device (early: the table is wider than a page), yours, column, arch, config,
    flops, mac_elements, mac_bytes, lower_bound_bytes (G1 only), batch, predicted, published, unit, error_pct,
    bound (host or device: which resource the predicted run waits for)."""
    rows = []
    for name in settings.devices:
        device = profile(name)
        batch = speed_batch(device, settings)
        kind = paper_device(device)
        chosen = user_cell(table, kind, level, choice) if choice is not None else None
        extra = [chosen] if chosen is not None and chosen["row"].endswith("(yours)") else []
        for cell in cells(table, kind, level) + extra:
            model = ZooModel.of(cell["arch"], **cell["kwargs"])
            rep = per_image(model, settings)
            lat = latency(model, name, settings, batch)
            published = cell["speed"] if publishes(device) else math.nan
            rows.append({
                "guideline": GUIDELINES[table].key, "setting": cell["row"], "device": device.name,
                "yours": chosen is not None and cell["row"] == chosen["row"], "column": cell["column"],
                "arch": cell["arch"], "config": ", ".join(f"{k}={v}" for k, v in cell["kwargs"].items()),
                "flops": rep.summary["flops"], "mac_elements": rep.summary["mac_elements"],
                "mac_bytes": rep.summary["mac_bytes"],
                "lower_bound_bytes": (g1_lower_bound_total(rep) * rep.summary["bytes_per_element"] if table == 1
                                      else math.nan),
                "batch": batch, "predicted": lat.throughput,
                "published": published, "unit": device.unit,
                "error_pct": 100 * (lat.throughput - published) / published if published == published else math.nan,
                "bound": lat.bound,
            })
    return pd.DataFrame(rows)


def host_bound_devices(frame: pd.DataFrame) -> list[str]:
    """The devices of a `sweep` on which every setting is host-bound (an eager GPU run issues each kernel slower
    than the GPU runs it): their bars show launch counts, not the guideline's effect on the device."""
    return [device for device, rows in frame.groupby("device", sort=False) if (rows["bound"] == "host").all()]


COLUMN_SETS = {"gpu": "GPU profiles: the paper's GTX 1080Ti channel counts",
               "arm": "CPU/ARM profiles: the paper's Snapdragon 810 channel counts"}


@dataclass(frozen=True)
class YourNetwork:
    """The user's setting as one network: a GPU and a CPU/ARM device build it from different channel counts (their
    column sets of the paper's table), so FLOPs and MAC belong with the devices that run that network only."""

    setting: str
    config: str
    column_sets: tuple[str, ...]  # "gpu" and/or "arm": whose channel counts these are
    flops: int
    mac_bytes: int
    devices: pd.DataFrame  # the sweep's rows of this network: device, unit, batch, predicted, ...

    @property
    def title(self) -> str:
        return "; ".join(COLUMN_SETS[kind] for kind in self.column_sets) + f" ({self.config})"


def your_networks(frame: pd.DataFrame) -> list[YourNetwork]:
    """The user's setting of a `sweep` frame, one entry per distinct network (its config), in device order."""
    out = []
    yours = frame[frame["yours"]]
    for config, rows in yours.groupby("config", sort=False):
        kinds = tuple(dict.fromkeys("gpu" if column.startswith("gpu") else "arm" for column in rows["column"]))
        first = rows.iloc[0]
        out.append(YourNetwork(str(first["setting"]), str(config), kinds, int(first["flops"]),
                               int(first["mac_bytes"]), rows))
    return out


def chart_data(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(MAC per setting and column, speed per setting and device) in the shape `figures.guideline_chart` takes."""
    mac = frame.drop_duplicates(["setting", "column"])[["setting", "column", "mac_bytes", "lower_bound_bytes"]]
    mac = mac.rename(columns={"column": "config"})
    speed = frame[["setting", "device", "unit", "batch", "predicted", "published"]]
    return mac, speed
