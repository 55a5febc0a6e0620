"""The fitter on synthetic measurements: a device with known parameters generates noisy times for random ops;
the fit must recover the parameters the data pin down and predict benchmarks it never saw. The generic prior
is the CPU one the profiler starts from.

Tolerances (stated, not tuned to pass): measurements carry 3% log-normal noise; held-out benchmarks must be
predicted with a median error under 4% and a maximum under 15%; the well-determined parameters (per-class
overhead of every class checked, peak of compute classes, bandwidth of memory-bound ones, and the vector
width) within 25%.
"""
from __future__ import annotations

import numpy as np
import pytest

from costmodel.latency.fitting import fit, fit_eager
from costmodel.latency.kernels import COMPUTE_CLASSES, GROUPED_CLASSES, KERNEL_CLASSES, kernel_class
from costmodel.latency.model import measurement_ms
from costmodel.latency.profiler import generic_prior
from costmodel.latency.profiles import HostModel, KernelParams, LatencyModel, Measurement, OpSample

NOISE = 0.03
# (kind, op) of one op of each class that a synthetic benchmark can hold.
_OPS = {"conv1x1": ("conv", "conv"), "conv": ("conv", "conv"), "group_conv": ("group_conv", "conv"),
        "depthwise_conv": ("depthwise_conv", "conv"), "linear": ("linear", "linear"),
        "max_pool": ("pooling", "max_pool"), "avg_pool": ("pooling", "avg_pool"),
        "reduction": ("pooling", "adaptive_avg_pool"), "elementwise": ("elementwise", "relu"),
        "activation": ("elementwise", "sigmoid"), "split": ("data_movement", "split"),
        "concat": ("data_movement", "cat"), "data_movement": ("data_movement", "pad"),
        "shuffle": ("shuffle", "channel_shuffle"), "group_conv1x1": ("group_conv", "conv")}


def true_model() -> LatencyModel:
    """Distinct, known parameters per class: the ground truth."""
    kernels = {name: KernelParams(overhead_us=2.0 + i, gbytes_per_s=10.0 + 5 * i,
                                  gmadds_per_s=40.0 + 3 * i if name in COMPUTE_CLASSES else None,
                                  half_pixels=30.0 if name in COMPUTE_CLASSES else 0.0,
                                  half_reduction=12.0 if name in COMPUTE_CLASSES else 0.0,
                                  half_outputs=6.0 if name in COMPUTE_CLASSES else 0.0,
                                  per_group_us=1.5 if name in GROUPED_CLASSES else 0.0)
               for i, name in enumerate(KERNEL_CLASSES)}
    return LatencyModel(kernels=kernels, cache_bytes=1e6, spill=1.0, lanes=8)


def _sample(cls: str, rng: np.random.Generator) -> OpSample:
    """One op of class `cls` with a random size (log-uniform), features consistent with its geometry."""
    kind, op = _OPS[cls]
    hw = int(rng.choice([7, 14, 28, 56, 112]))
    c_in, c_out = (int(2 ** rng.uniform(3, 10)) for _ in range(2))
    k = int(rng.choice([3, 5, 7]))
    groups = {"group_conv": int(rng.choice([2, 4, 8])), "depthwise_conv": c_in,
              "concat": int(rng.integers(2, 9))}.get(cls, 1)
    if cls == "group_conv1x1":  # drawn apart, so the other classes' draws stay as they were
        groups = int(rng.choice([2, 3, 4, 8]))
    if cls in ("group_conv", "group_conv1x1", "depthwise_conv"):
        c_in = c_out = max(groups, c_in // groups * groups)
    reduction = {"conv1x1": c_in, "conv": c_in * k * k, "group_conv": c_in // groups * 9,
                 "group_conv1x1": c_in // groups, "depthwise_conv": k * k, "linear": c_in, "max_pool": 9,
                 "avg_pool": 4}.get(cls, 1)
    gemm = cls in ("conv1x1", "conv", "group_conv", "group_conv1x1", "depthwise_conv", "linear")
    pixels = 1 if cls == "linear" else hw * hw if gemm else hw * hw * c_in
    outputs = c_out // groups if gemm and cls != "depthwise_conv" else 1
    elements = pixels * c_out if gemm else pixels
    flops = elements * reduction if gemm else 0
    weights = c_out * reduction if gemm else 0
    return OpSample(kind=kind, op=op, flops=flops, mac_bytes=4 * (hw * hw * c_in + elements + weights),
                    pixels=pixels, reduction=reduction, outputs=outputs, groups=groups, in_channels=c_in)


def synthetic(n: int, seed: int) -> list[Measurement]:
    """n benchmarks per class, each one op of that class plus, one time in three, a ReLU after it."""
    rng, truth, out = np.random.default_rng(seed), true_model(), []
    for cls in _OPS:
        for i in range(n):
            ops = [_sample(cls, rng)]
            if i % 3 == 0:
                ops.append(_sample("elementwise", rng))
            ms = measurement_ms(ops, truth) * float(np.exp(rng.normal(0, NOISE)))
            out.append(Measurement(label=f"{cls} {i}", ms=ms, ops=ops))
    return out


def _ape(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    return np.abs(predicted / measured - 1) * 100


@pytest.fixture(scope="module")
def fitted() -> tuple[LatencyModel, list[Measurement]]:
    model, _, _ = fit(synthetic(24, seed=1), generic_prior("cpu"))
    return model, synthetic(8, seed=2)


def test_the_fit_predicts_synthetic_benchmarks_it_never_saw(fitted):
    model, held_out = fitted
    measured = np.array([m.ms for m in held_out])
    predicted = np.array([measurement_ms(m.ops, model) for m in held_out])
    ape = _ape(predicted, measured)
    assert np.median(ape) < 4.0 and ape.max() < 15.0, (np.median(ape), ape.max())


def test_the_fit_recovers_the_parameters_the_data_pin_down(fitted):
    model, _ = fitted
    truth = true_model()
    assert model.lanes == truth.lanes
    for cls in ("conv1x1", "conv", "group_conv", "group_conv1x1", "elementwise", "activation", "concat", "shuffle"):
        got, want = model.kernels[cls], truth.kernels[cls]
        assert got.overhead_us == pytest.approx(want.overhead_us, rel=0.25), cls
        if cls in COMPUTE_CLASSES:  # compute-bound: the peak is pinned, the bandwidth barely matters
            assert got.gmadds_per_s == pytest.approx(want.gmadds_per_s, rel=0.25), cls
        else:
            assert got.gbytes_per_s == pytest.approx(want.gbytes_per_s, rel=0.25), cls


def test_a_robust_fit_is_not_dragged_by_a_few_much_slower_benchmarks():
    """One benchmark in ten timed 5x slower than its class (as cuDNN's slow algorithm for some grouped convs):
    least squares moves whole classes towards them; the soft-L1 fit (`robust`) still predicts unseen clean
    benchmarks within a few per cent."""
    data = [m.model_copy(update={"ms": m.ms * 5}) if i % 10 == 0 else m for i, m in enumerate(synthetic(24, seed=1))]
    unseen = synthetic(8, seed=2)
    measured = np.array([m.ms for m in unseen])

    def median_ape(model: LatencyModel) -> float:
        return float(np.median(_ape(np.array([measurement_ms(m.ops, model) for m in unseen]), measured)))

    robust, plain = (fit(data, generic_prior("cpu"), robust=scale)[0] for scale in (0.1, None))
    assert median_ape(robust) < 5.0 < median_ape(plain), (median_ape(robust), median_ape(plain))


# Eager runs of two resources (fit_eager): the device as above, plus a known host issue time per class, large
# enough that many runs are host-bound (as on a GPU) and the host times are pinned down.
TRUE_HOST_US = {name: 100.0 + 20 * i for i, name in enumerate(KERNEL_CLASSES)}


def eager_runs(n: int, seed: int) -> list[Measurement]:
    """n runs of 4-16 random ops in issue order, timed as the asynchronous queue would run them (each
    kernel starts when issued and when the previous one ends, written out as a loop here), 3% noise."""
    rng, truth, out = np.random.default_rng(seed), true_model(), []
    for i in range(n):
        ops = [_sample(str(rng.choice(list(_OPS))), rng) for _ in range(int(rng.integers(4, 17)))]
        issued = end = 0.0
        for op in ops:
            cls = kernel_class(op.kind, op.op, op.reduction, op.in_channels, op.stride, op.groups)
            issued += TRUE_HOST_US[cls] * 1e-3
            end = max(issued, end) + measurement_ms([op], truth)
        out.append(Measurement(label=f"run {i}", ms=end * float(np.exp(rng.normal(0, NOISE))), ops=ops))
    return out


def test_the_eager_fit_predicts_runs_it_never_saw_and_recovers_host_times():
    host_prior = HostModel(kernels={c: 10.0 for c in KERNEL_CLASSES}, data="synthetic")
    model, host, _, _ = fit_eager(eager_runs(300, seed=3), generic_prior("cpu"), host_prior, lanes=8)
    held_out = eager_runs(60, seed=4)
    measured = np.array([m.ms for m in held_out])
    predicted = np.array([_eager_ms(m.ops, model, host) for m in held_out])
    ape = _ape(predicted, measured)
    assert np.median(ape) < 4.0 and ape.max() < 15.0, (np.median(ape), ape.max())
    for cls in _OPS:  # every class the runs issue
        assert host.kernels[cls] == pytest.approx(TRUE_HOST_US[cls], rel=0.25), cls


def _eager_ms(ops: list[OpSample], model: LatencyModel, host: HostModel) -> float:
    issued = end = 0.0
    for op in ops:
        issued += host.kernels[kernel_class(op.kind, op.op, op.reduction, op.in_channels, op.stride, op.groups)] * 1e-3
        end = max(issued, end) + measurement_ms([op], model)
    return end
