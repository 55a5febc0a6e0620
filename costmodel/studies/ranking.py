"""MnasNet's multi-objective reward, ACC(m) x [LAT(m) / T]^w, and the ranking of models per device by it.

With w < 0 a model slower than the target T pays in reward and a faster one gains; MnasNet's soft constraint
uses w = -0.07 (twice the latency costs about 5% relative accuracy) and T = 75 ms. Accuracy is the published
top-1; latency is this lab's prediction on each device.
"""
from __future__ import annotations

import pandas as pd

from costmodel.errors import CostModelError

DEFAULT_TARGET_MS = 75.0
DEFAULT_W = -0.07


def reward(top1: float, latency_ms: float, target_ms: float = DEFAULT_TARGET_MS, w: float = DEFAULT_W) -> float:
    """ACC x (LAT / T)^w with ACC as a fraction (top-1 % / 100)."""
    if target_ms <= 0 or latency_ms <= 0:
        raise CostModelError(f"latency {latency_ms:g} ms and target {target_ms:g} ms must be positive",
                             "use a positive target latency T")
    return top1 / 100 * (latency_ms / target_ms) ** w


def rank(points: pd.DataFrame, target_ms: float = DEFAULT_TARGET_MS, w: float = DEFAULT_W) -> pd.DataFrame:
    """`points` (device, model, top1, ms) with reward and rank (1 = best) per device, best first."""
    scored = points.assign(reward=[reward(a, t, target_ms, w) for a, t in zip(points["top1"], points["ms"])])
    scored["rank"] = scored.groupby("device")["reward"].rank(ascending=False, method="min").astype(int)
    return scored.sort_values(["device", "rank"], kind="stable").reset_index(drop=True)
