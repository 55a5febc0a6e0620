"""The shipped H200 profiles against the stored H200 measurements of 24 zoo networks (no timing here: the
numbers are those measured on the GPU, data/measurements/h200-2026-11-30/). Fails when the accuracy
claimed in docs/readme/gpu.md is missed, on all networks and on the report half of the family split
(benchmarks/validate_gpu.py), which no model change was judged on."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch

from costmodel import analyze
from costmodel.latency.gpu_profiles import DEVELOPMENT, H200_BATCHES, H200_DIR, REPORT, _lines, fit_h200_host, \
    network_runs, predicted_runs, rebuild, scores, shipped_h200

# What docs/readme/gpu.md claims, per mode: (median |error| %, max |error| %, Kendall tau), at every batch, on
# all 24 networks and on the report half alone (levels reached, rounded up: a regression fails).
CLAIMED = {"graph": (10.0, 75.0, 0.85), "eager": (21.0, 40.0, 0.5)}
CLAIMED_REPORT = {"graph": (16.0, 50.0, 0.85), "eager": (23.0, 38.0, 0.75)}


@pytest.fixture(scope="module")
def profiles():
    return shipped_h200()


@pytest.fixture(scope="module")
def table(profiles):
    return predicted_runs(network_runs(), profiles, progress=False)


def test_profiles_come_from_the_stored_micro_benchmarks_and_no_network(profiles):
    meta = json.loads((H200_DIR / "meta.json").read_text(encoding="utf-8"))
    networks = {row["net"] for row in _lines(H200_DIR / "nets.jsonl")}
    for batch, profile in profiles.items():
        micro = [r["label"] for r in _lines(H200_DIR / f"micro_b{batch}.jsonl.gz")]
        assert [m.label for m in profile.measurements] == micro
        assert not networks & {m.label for m in profile.measurements}
        assert profile.source.date == meta["date"] and profile.source.machine == meta["device"]
        assert profile.batch == batch and profile.host is not None and profile.kind == "gpu"


def test_rebuilt_convs_have_the_multiply_adds_their_labels_say():
    """conv1x1/s c1->c2 @hw at batch B: B * c1 * c2 * ceil(hw/s)^2 multiply-adds."""
    for record in _lines(H200_DIR / "micro_b8.jsonl.gz")[:40]:
        match = re.fullmatch(r"conv1x1/(\d) (\d+)->(\d+) @(\d+)", record["label"])
        if not match:
            continue
        s, c1, c2, hw = map(int, match.groups())
        with torch.device("meta"):
            module = rebuild(record)
        flops = analyze(module, tuple(record["shape"])).summary["flops"]
        assert flops == 8 * c1 * c2 * math.ceil(hw / s) ** 2


@pytest.mark.parametrize("batch", H200_BATCHES)
@pytest.mark.parametrize("mode", list(CLAIMED))
def test_stored_networks_are_predicted_as_claimed(table, batch, mode):
    median, largest, tau = CLAIMED[mode]
    got = scores(table[table["batch"] == batch], mode)
    assert got["median_pct"] <= median and got["max_pct"] <= largest and got["tau"] >= tau, got


@pytest.mark.parametrize("batch", H200_BATCHES)
@pytest.mark.parametrize("mode", list(CLAIMED_REPORT))
def test_report_half_is_predicted_as_claimed(table, batch, mode):
    median, largest, tau = CLAIMED_REPORT[mode]
    got = scores(table[(table["batch"] == batch) & table["arch"].isin(REPORT)], mode)
    assert got["median_pct"] <= median and got["max_pct"] <= largest and got["tau"] >= tau, got


def test_every_network_is_host_bound_in_eager_mode_at_batch_1(table):
    """The data's first finding (README): at batch 1 the GPU runs every zoo network in a fraction of the
    time the host needs to issue it."""
    measured = table[table["batch"] == 1]
    assert (measured["eager_ms"] > 2 * measured["graph_ms"]).all()
    assert (measured["bound"] == "host").all()


def test_the_family_split_covers_every_network_once():
    families = set(network_runs()["arch"])
    assert set(DEVELOPMENT) | set(REPORT) == families and not set(DEVELOPMENT) & set(REPORT)


def test_one_host_model_fitted_to_every_batch_grid(profiles):
    """Issuing an op is the same work at any batch: every profile carries the host model fitted to the host
    times of all three stored grids together (refitted here from the measurements the profiles store)."""
    refitted = fit_h200_host({batch: list(p.measurements) for batch, p in profiles.items()})
    for profile in profiles.values():
        measured = profile.latency_model.fitted  # the classes the grids issue (others take a stand-in)
        assert [profile.host.kernels[c] for c in measured] == pytest.approx([refitted.kernels[c] for c in measured],
                                                                             rel=1e-6)
