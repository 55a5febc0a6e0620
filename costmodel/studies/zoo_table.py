"""The zoo at its published configurations: costs, predicted latency per device and published accuracy, as
one wide table and as long per-device points for the FLOPs-vs-latency and accuracy-vs-latency charts."""
from __future__ import annotations

import pandas as pd

from costmodel.studies.evaluate import Settings, profile, row
from costmodel.studies.published import accuracies


def table(settings: Settings) -> pd.DataFrame:
    """model, family, top1, source, batch-1 costs and ms:/throughput:<device> for every published model."""
    rows = [{**row(model, settings), "arch": model.arch, "family": family, "top1": top1, "source": source}
            for model, (family, top1, source) in accuracies().items()]
    return pd.DataFrame(rows)


def points(wide: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """One row per model and device: model, family, device, batch, flops, ms, throughput, unit, top1."""
    frames = []
    for name in settings.devices:
        device = profile(name)
        frames.append(pd.DataFrame({
            "model": wide["model"], "family": wide["family"], "device": device.name,
            "batch": settings.batch or device.batch, "flops": wide["flops"], "ms": wide[f"ms:{device.name}"],
            "throughput": wide[f"throughput:{device.name}"], "unit": device.unit, "top1": wide["top1"]}))
    return pd.concat(frames, ignore_index=True)


def same_flops_pairs(long: pd.DataFrame, tolerance: float = 0.1) -> pd.DataFrame:
    """Per device, the two models whose FLOPs differ by at most `tolerance` (relative) and whose predicted
    latency differs most: the "FLOPs is not speed" headline. Columns: device, batch, fast, slow, fast_flops,
    slow_flops, fast_ms, slow_ms, ratio (slow_ms / fast_ms)."""
    rows = []
    for device, part in long.groupby("device", sort=False):
        records = part.to_dict("records")
        best = None
        for a in records:
            for b in records:
                close = abs(a["flops"] - b["flops"]) <= tolerance * min(a["flops"], b["flops"])
                if close and a["ms"] < b["ms"] and (best is None or b["ms"] / a["ms"] > best[1]["ms"] / best[0]["ms"]):
                    best = (a, b)
        if best is not None:
            fast, slow = best
            rows.append({"device": device, "batch": fast["batch"], "fast": fast["model"], "slow": slow["model"],
                         "fast_flops": fast["flops"], "slow_flops": slow["flops"], "fast_ms": fast["ms"],
                         "slow_ms": slow["ms"], "ratio": slow["ms"] / fast["ms"]})
    return pd.DataFrame(rows)
