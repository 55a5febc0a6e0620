"""Device-optimal scaling on a synthetic device whose optimum is known in closed form, the scaling plan, and the
accuracy surrogate against the published points in data/reference.

Synthetic device: latency = d + w^2 + r^2 (ms) and capacity FLOPs = d w^2 r^2. By AM-GM the most FLOPs within a
budget T take d = w^2 = r^2 = T/3 (T = 12: d = 4, w = r = 2, 64 FLOPs), and a compound path that stays on that
frontier has alpha = beta^2 = gamma^2, so with alpha beta^2 gamma^2 = 2: alpha = 2^(1/3), beta = gamma = 2^(1/6).
"""
from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import pandas as pd
import pytest

from costmodel.errors import CostModelError
from costmodel.studies import optimal_scaling as opt

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
DEPTHS = (1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6)
SIDES = (1, 1.25, 1.5, 1.75, 2, 2.5, 3)


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    rows = [{"depth": d, "width": w, "resolution_mult": r, "input_resolution": round(224 * r), "path": "grid",
             "flops": d * w ** 2 * r ** 2, "ms:syn": d + w ** 2 + r ** 2}
            for d, w, r in itertools.product(DEPTHS, SIDES, SIDES)]
    return pd.DataFrame(rows)


def test_device_optimal_point_is_the_closed_form_optimum(synthetic: pd.DataFrame) -> None:
    best = opt.best_within(synthetic, "ms:syn", 12.0)
    assert (best["depth"], best["width"], best["resolution_mult"], best["flops"]) == (4, 2, 2, 64)
    assert opt.best_within(synthetic, "ms:syn", 2.9) is None  # below the base network's 3 ms


def test_single_dimension_scaling_at_the_same_budget(synthetic: pd.DataFrame) -> None:
    table = opt.budget_table(synthetic, {"syn": 12.0}).set_index("method")
    # depth only: d <= 12 - 2 -> the grid's largest depth 6; width only: w^2 <= 10 -> 3; resolution alike
    assert table.loc["depth only", ["depth", "width", "flops"]].tolist() == [6, 1, 6]
    assert table.loc["width only", ["depth", "width", "flops"]].tolist() == [1, 3, 9]
    assert table.loc["resolution only", ["flops"]].tolist() == [9]
    assert table.loc["device-optimal", "flops_vs_optimal"] == 1.0
    assert table.loc["depth only", "flops_vs_optimal"] == pytest.approx(6 / 64)


def test_fitted_bases_recover_the_closed_form(synthetic: pd.DataFrame) -> None:
    fit = opt.fit_bases(synthetic, "syn")
    assert fit.alpha * fit.beta ** 2 * fit.gamma ** 2 == pytest.approx(2.0, rel=1e-6)
    assert fit.alpha == pytest.approx(2 ** (1 / 3), abs=0.03)
    assert fit.beta == pytest.approx(2 ** (1 / 6), abs=0.02) and fit.gamma == pytest.approx(2 ** (1 / 6), abs=0.02)
    assert fit.efficientnet_gap > fit.gap  # 1.2, 1.1, 1.15 are not this device's optimum


def test_scaling_plan_is_the_grid_plus_the_compound_path() -> None:
    plan = opt.plan("efficientnet", [], depths=(1, 2), widths=(1, 1.5), resolutions=(1, 1.5))
    values = [dict(p.values) for p in plan.points]
    assert values[:8] == [{"depth_coefficient": d, "width_coefficient": w, "resolution": r}
                          for d, w, r in itertools.product((1.0, 2.0), (1.0, 1.5), (224, 336))]
    path = values[8:]
    phis = [0.25 * (i + 1) for i in range(len(path))]
    assert [v["depth_coefficient"] for v in path] == [round(1.2 ** p, 4) for p in phis]
    assert [v["resolution"] for v in path] == [round(224 * 1.15 ** p) for p in phis]
    assert 1.1 ** (phis[-1] + 0.25) > 1.5 or 1.2 ** (phis[-1] + 0.25) > 2 or 1.15 ** (phis[-1] + 0.25) > 1.5
    frame = pd.DataFrame([{"status": "complete", "param:depth_coefficient": v["depth_coefficient"],
                           "param:width_coefficient": v["width_coefficient"], "input_resolution": v["resolution"]}
                          for v in values])
    assert opt.multipliers(frame, "efficientnet")["path"].tolist() == ["grid"] * 8 + ["compound"] * len(path)
    with pytest.raises(CostModelError, match="no width/depth/resolution knobs"):
        opt.plan("g1_pointwise", [])


def _published() -> list[tuple[float, float, float, str, float]]:
    """(d, w, r, family, top-1) straight from the reference CSVs: B1-B7 and Table 3's single-dimension rows."""
    with open(REFERENCE / "efficientnet_official_params.csv") as f:
        coeff = {r["model"][-2:]: r for r in csv.DictReader(f)}
    with open(REFERENCE / "efficientnet_table2_latest.csv") as f:
        top1 = {r["model"][-2:].lower(): float(r["top1"].rstrip("%")) for r in csv.DictReader(f)
                if r["model"].startswith("EfficientNet")}
    points = [(float(c["depth_coefficient"]), float(c["width_coefficient"]), int(c["resolution"]) / 224,
               "EfficientNet", top1[k]) for k, c in coeff.items()]
    points += [(4, 1, 1, "MobileNetV2", 76.8), (1, 2, 1, "ResNet-50", 77.7), (1, 1, 2, "MobileNetV1", 72.7)]
    return points


def test_accuracy_surrogate_fits_the_published_points_within_its_stated_error() -> None:
    surrogate = opt.accuracy_surrogate()
    errors = [abs(surrogate(d, w, r, family) - top1) for d, w, r, family, top1 in _published()]
    assert max(errors) < 1.5  # top-1 points
    assert max(errors) <= surrogate.max_error + 1e-9
    assert 0 < surrogate.rmse < surrogate.loo_rmse < 3  # held-out error is the honest, larger one


def test_accuracy_surrogate_grows_with_every_dimension_and_saturates() -> None:
    s = opt.accuracy_surrogate()
    assert s(1, 1, 1) == pytest.approx(77.1)  # B0, the family's anchor
    for grow in ((2, 1, 1), (1, 2, 1), (1, 1, 2)):
        assert s(*grow) > s(1, 1, 1)
    assert s(64, 64, 64) < 100 and s(64, 64, 64) - s(8, 8, 8) < s(8, 8, 8) - s(1, 1, 1)
    assert math.isfinite(s.loo_rmse)


def test_relative_budgets_are_multiples_of_the_unscaled_latency(synthetic: pd.DataFrame) -> None:
    from costmodel.cli.sweep_cmd import budgets_of

    assert opt.relative_budgets(synthetic, ["syn"], 4.0) == {"syn": 12.0}  # B0-like point: 1 + 1 + 1 ms
    assert budgets_of("4x", synthetic, ["syn"]) == {"syn": 12.0}
    assert budgets_of("7.5", synthetic, ["syn"]) == {"syn": 7.5}
    for bad in ("fast", "-2x", "0"):
        with pytest.raises(CostModelError, match="--budget"):
            budgets_of(bad, synthetic, ["syn"])
