"""The shipped H200 profiles against the stored H200 measurements of 24 zoo networks (no timing here: the
numbers are those measured on the GPU, data/measurements/h200-2026-11-30/). Fails when the accuracy
claimed in docs/readme/gpu.md is missed."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch

from costmodel import analyze
from costmodel.latency.gpu_profiles import H200_BATCHES, H200_DIR, _lines, network_runs, predicted_runs, rebuild, \
    scores, shipped_h200

# What docs/readme/gpu.md claims, per mode: (median |error| %, max |error| %, Kendall tau), at every batch.
CLAIMED = {"graph": (10.0, 60.0, 0.85), "eager": (16.0, 60.0, 0.5)}


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


def test_every_network_is_host_bound_in_eager_mode_at_batch_1(table):
    """The data's first finding (README): at batch 1 the GPU runs every zoo network in a fraction of the
    time the host needs to issue it."""
    measured = table[table["batch"] == 1]
    assert (measured["eager_ms"] > 2 * measured["graph_ms"]).all()
    assert (measured["bound"] == "host").all()
