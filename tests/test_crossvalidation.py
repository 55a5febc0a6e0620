"""benchmarks/crossvalidate_micro.py, the out-of-fold check that decides the GPU model's form: its folds are
fixed by label, and it recovers a model that generated the data while it cannot predict data with no model."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from costmodel.latency.gpu_profiles import profiler_grid
from costmodel.latency.model import measurement_ms
from costmodel.latency.profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = 80  # micro-benchmarks of the stored H200 grid: enough for a fit, few enough for ten fits in seconds


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("crossvalidate_micro", ROOT / "benchmarks" / "crossvalidate_micro.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample() -> list:
    measurements = list(profiler_grid(8).measurements)
    return random.Random(0).sample(measurements, SAMPLE)


def test_folds_are_fixed_by_label_and_balanced(script):
    labels = [m.label for m in profiler_grid(8).measurements]
    folds = [script.fold_of(label) for label in labels]
    assert folds == [script.fold_of(label) for label in labels]  # no state: the same label, the same fold
    shares = np.bincount(folds, minlength=script.FOLDS) / len(folds)
    assert len(shares) == script.FOLDS and shares.min() > 0.8 / script.FOLDS and shares.max() < 1.2 / script.FOLDS


def test_out_of_fold_recovers_a_model_that_made_the_data_and_fails_on_shuffled_times(script, sample):
    """Times made by the shipped h200_b8 device model are predicted out of fold within 15% (the fit starts from
    the generic GPU prior and sees 64 benchmarks); the same times dealt to the wrong micro-benchmarks are off by
    more than 65% (so the check can fail)."""
    truth = load_profile("h200_b8").latency_model
    made = [m.model_copy(update={"ms": measurement_ms(m.ops, truth)}) for m in sample]
    errors = script.out_of_fold(made, script.gpu_fit())
    assert len(errors) == SAMPLE and errors["log_error"].abs().median() < np.log(1.15)
    times = [m.ms for m in made]
    random.Random(1).shuffle(times)
    shuffled = [m.model_copy(update={"ms": t}) for m, t in zip(made, times)]
    assert script.out_of_fold(shuffled, script.gpu_fit())["log_error"].abs().median() > np.log(1.65)
