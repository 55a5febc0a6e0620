"""How far to trust a prediction (costmodel.studies.validated): the whole-network error quoted for a profile is
the one its stored per-network results give, recomputed here from the per-network tables; it is quoted only at
the batch (and GPU mode, and BN variant) it was measured at, and only for the very profile that was validated."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from costmodel.latency.profiles import load_profile
from costmodel.studies.validated import VALIDATION_DIR, accuracy, trust

ROOT = Path(__file__).resolve().parents[1]
# The per-network tables store times to 4 decimals of a ms (GPU: networks of 0.17 ms and more, so each error
# is good to 0.06 points) and CPU errors to 4 significant digits (good to 0.01 points below 100%).
GPU_POINTS, CPU_POINTS = 0.06, 0.01


def _errors(measured: pd.Series, predicted: pd.Series) -> pd.Series:
    return (predicted / measured - 1).abs() * 100


@pytest.mark.parametrize("batch", [1, 8, 32])
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_a_gpu_profile_quotes_its_held_out_networks_at_its_batch_and_mode(batch, mode):
    table = pd.read_csv(VALIDATION_DIR / "gpu_h200.csv")
    held_out = table[(table["half"] == "held-out") & (table["batch"] == batch)]
    errors = _errors(held_out[f"{mode}_ms"], held_out[f"pred_{mode}_ms"])
    found = accuracy(load_profile(f"h200_b{batch}"), batch, mode, True)
    assert found is not None and (found.batch, found.mode, found.networks) == (batch, mode, len(held_out))
    assert found.median_pct == pytest.approx(errors.median(), abs=GPU_POINTS)
    assert found.max_pct == pytest.approx(errors.max(), abs=GPU_POINTS)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("variant", ["fused", "eval"])
def test_a_cpu_profile_quotes_its_report_half_for_the_bn_variant(threads, variant):
    table = pd.read_csv(VALIDATION_DIR / f"latency_cpu_{threads}t.csv")
    report = table[(table["half"] == "report") & (table["variant"] == variant)]
    errors = report["error_pct"].abs()
    found = accuracy(load_profile(f"amd_epyc_{threads}t"), 1, "eager", variant == "fused")
    assert found is not None and found.networks == len(report) and found.mode is None
    assert found.median_pct == pytest.approx(errors.median(), abs=CPU_POINTS)
    assert found.max_pct == pytest.approx(errors.max(), abs=CPU_POINTS)


def test_other_batches_profiles_and_refits_are_not_vouched_for():
    h200 = load_profile("h200_b8")
    assert accuracy(h200, 4, "eager", True) is None
    assert "batch 8 only" in trust(h200, 4, "eager", True)
    calibrated = load_profile("gtx1080ti")
    assert accuracy(calibrated, calibrated.batch, "eager", True) is None
    assert trust(calibrated, calibrated.batch, "eager", True).startswith("no whole network was timed")
    refitted = h200.model_copy(update={"fit": h200.fit.model_copy(update={"median_ape": h200.fit.median_ape + 1})})
    assert accuracy(refitted, 8, "eager", True) is None


def test_every_stored_result_names_a_shipped_profile_as_it_is_now():
    """A refit without a new validation run would leave its old numbers unquoted: this fails instead."""
    for path in VALIDATION_DIR.glob("*.json"):
        stored = json.loads(path.read_text(encoding="utf-8"))
        for entry in stored.get("profiles", [stored]):
            profile = load_profile(entry["profile"])
            assert entry["profile_fit_median_ape"] == pytest.approx(profile.fit.median_ape, rel=1e-9), path.name


def test_the_cli_says_how_far_to_trust_each_prediction():
    def analyze(*extra: str) -> str:
        return subprocess.run([sys.executable, "-m", "costmodel", "analyze", "mobilenet_v2", "--device", "h200_b8",
                               *extra], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    latency = json.loads(analyze("--json", "--mode", "graph"))["latency"]
    expected = accuracy(load_profile("h200_b8"), 8, "graph", True)
    assert latency["validation"] == expected.to_dict() and latency["validation"]["networks"] == 18
    assert f"how far to trust it: median |error| {expected.median_pct:.1f}%" not in analyze()  # eager, not graph
    assert f"how far to trust it: {trust(load_profile('h200_b8'), 8, 'eager', True)}" in analyze()


def test_compare_says_how_far_to_trust_each_device():
    run = subprocess.run([sys.executable, "-m", "costmodel", "compare", "shufflenet_v2", "mobilenet_v2", "--device",
                          "h200_b1", "--device", "gtx1080ti", "--json"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    validation = json.loads(run.stdout)["validation"]
    assert validation["h200_b1"] == accuracy(load_profile("h200_b1"), 1, "eager", True).to_dict()
    assert validation["gtx1080ti"] is None


def test_a_validation_rerun_while_the_app_serves_is_quoted_at_once(tmp_path, monkeypatch):
    """The stored results are re-read when a file changes: a new run's numbers replace the old ones, and a
    result removed is no longer quoted."""
    from costmodel.studies import validated

    device = load_profile("amd_epyc_1t")
    stored = json.loads((VALIDATION_DIR / "latency_cpu_1t.json").read_text(encoding="utf-8"))
    monkeypatch.setattr(validated, "VALIDATION_DIR", tmp_path)
    copy = tmp_path / "latency_cpu_1t.json"
    copy.write_text(json.dumps(stored), encoding="utf-8")
    before = accuracy(device, 1, "eager", True)
    key = f"{validated.CPU_SET}/fused"  # the set a profile is quoted on
    stored[key]["median_ape"] = before.median_pct + 10  # a later run, 10 points worse, with more digits
    copy.write_text(json.dumps(stored, indent=1), encoding="utf-8")
    assert accuracy(device, 1, "eager", True).median_pct == pytest.approx(before.median_pct + 10)
    copy.unlink()
    assert accuracy(device, 1, "eager", True) is None
