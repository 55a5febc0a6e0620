"""The latency model: closed-form op times, breakdowns that add up, units, batch rules, growth with FLOPs."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from costmodel import analyze
from costmodel.cli import main
from costmodel.latency.kernels import KERNEL_CLASSES
from costmodel.engine.kinds import CATEGORIES
from costmodel.latency.model import Features, Latency, op_features, predict
from costmodel.studies.evaluate import analyze_for_profile
from costmodel.latency.profiles import DeviceProfile, FitQuality, KernelParams, LatencyModel, Measurement, OpSample, \
    Source, list_profiles, load_profile

PROFILES = list_profiles()
FAMILIES = {  # FLOPs (multiply-adds) grow along each list
    "shufflenet_v2": [{"width": w} for w in (0.5, 1.0, 1.5, 2.0)],
    "mobilenet_v2": [{"width": w} for w in (0.5, 1.0, 1.4)],
    "efficientnet": [{"variant": v} for v in ("b0", "b1", "b2")],
}


def hand_profile(kind: str = "cpu", *, overhead_us: float = 0.0, gbytes_per_s: float = 1e9,
                 gmadds_per_s: float = 1.0, batch: int = 1) -> DeviceProfile:
    """A profile whose every class has the given parameters and no size effects: times are closed-form."""
    kernels = {name: KernelParams(overhead_us=overhead_us, gbytes_per_s=gbytes_per_s, gmadds_per_s=gmadds_per_s)
               for name in KERNEL_CLASSES}
    sample = OpSample(kind="elementwise", op="relu", flops=0, mac_bytes=8, pixels=1, reduction=1, outputs=1,
                      groups=1, in_channels=1)
    return DeviceProfile(
        name="hand", device="hand-made", kind=kind, source=Source(method="measured", description="test"),
        batch=batch, latency_model=LatencyModel(kernels=kernels, cache_bytes=1e12, spill=0.0),
        measurements=[Measurement(label="x", ms=1.0, ops=[sample])], fit=FitQuality(samples=1, median_ape=0, max_ape=0))


def test_a_compute_bound_conv_costs_its_overhead_plus_flops_over_peak():
    conv = nn.Conv2d(32, 64, 1)
    latency = predict(analyze(conv, (1, 32, 28, 28)), hand_profile(overhead_us=10.0, gmadds_per_s=1.0))
    flops = 28 * 28 * 64 * 32  # multiply-adds of a 1x1 conv
    assert latency.ms == pytest.approx(0.010 + flops / 1e9 * 1e3, rel=1e-6)


def test_a_memory_bound_relu_costs_its_mac_bytes_over_bandwidth():
    latency = predict(analyze(nn.ReLU(), (1, 16, 10, 10)), hand_profile(gbytes_per_s=2.0))
    mac_bytes = 2 * 16 * 10 * 10 * 4  # read + write, fp32
    assert latency.ms == pytest.approx(mac_bytes / 2e9 * 1e3, rel=1e-6)


def test_compute_and_memory_overlap_no_worse_than_their_sum():
    conv = analyze(nn.Conv2d(64, 64, 3, padding=1), (1, 64, 14, 14))
    compute = predict(conv, hand_profile(gmadds_per_s=1.0)).ms
    memory = predict(conv, hand_profile(gmadds_per_s=1e12, gbytes_per_s=0.01)).ms
    both = predict(conv, hand_profile(gmadds_per_s=1.0, gbytes_per_s=0.01)).ms
    assert max(compute, memory) <= both <= compute + memory


def test_views_are_free_and_every_kernel_pays_its_overhead():
    class Shuffle(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    latency = predict(analyze(Shuffle(), (1, 8, 4, 4)), hand_profile(overhead_us=5.0))
    kernels = latency.per_op[latency.per_op["kind"] != "view"]
    assert len(kernels) == 1 and latency.ms == pytest.approx(0.005, rel=1e-3)
    assert (latency.per_op.loc[latency.per_op["kind"] == "view", "ms"] == 0).all()
    assert latency.breakdown["Shuffle"] == pytest.approx(latency.ms)


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
@pytest.mark.parametrize("arch, params", [("shufflenet_v2", {"width": 1.0}), ("efficientnet", {"variant": "b0"}),
                                          ("resnet50", {})])
def test_breakdown_per_op_and_per_block_sum_to_the_total(profile, arch, params):
    latency = predict(analyze_for_profile(arch, profile, params=params), profile)
    assert list(latency.breakdown) == list(CATEGORIES)
    assert sum(latency.breakdown.values()) == pytest.approx(latency.device_ms, rel=1e-9)  # device time (GPUs)
    assert latency.per_op["ms"].sum() == pytest.approx(latency.device_ms, rel=1e-9)
    assert latency.per_block["ms"].sum() == pytest.approx(latency.device_ms, rel=1e-9)
    assert latency.device_ms <= latency.ms * (1 + 1e-9) and (profile.host or latency.device_ms == latency.ms)
    assert list(latency.per_op.columns) == ["name", "kind", "category", "block", "ms"]
    assert latency.ms > 0 and all(v >= 0 for v in latency.breakdown.values())


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
@pytest.mark.parametrize("family", FAMILIES)
def test_prediction_grows_with_flops_within_a_family(profile, family):
    reports = [analyze_for_profile(family, profile, params=p) for p in FAMILIES[family]]
    flops = [r.summary["flops"] for r in reports]
    ms = [predict(r, profile).ms for r in reports]
    assert flops == sorted(flops) and ms == sorted(ms)


def test_throughput_units_follow_the_papers():
    report = analyze(nn.Conv2d(8, 8, 1), (4, 8, 8, 8))
    gpu = predict(report, hand_profile("gpu", overhead_us=100.0))
    cpu = predict(report, hand_profile("cpu", overhead_us=100.0))
    assert gpu.batch == cpu.batch == 4 and gpu.ms == pytest.approx(cpu.ms)
    assert (gpu.unit, cpu.unit) == ("batches/s", "images/s")
    assert gpu.throughput == pytest.approx(1e3 / gpu.ms) and cpu.throughput == pytest.approx(4e3 / cpu.ms)


def test_whole_networks_are_predicted_at_the_profiles_batch():
    for name, batch in (("gtx1080ti", 8), ("snapdragon810", 1)):
        profile = load_profile(name)
        report = analyze_for_profile("mobilenet_v1", profile, params={"width": 0.5})
        assert report.summary["input_shape"][0] == batch and predict(report, profile).batch == batch


def test_report_latency_is_predict_and_to_dict_is_the_json_form():
    profile = load_profile("gtx1080ti")
    report = analyze_for_profile("shufflenet_v2", profile)
    latency = predict(report, profile)
    assert isinstance(latency, Latency) and latency.ms == predict(report, profile).ms
    data = latency.to_dict()
    assert set(data) == {"device", "batch", "mode", "ms", "throughput", "unit", "bound", "host_ms", "device_ms",
                         "breakdown"}
    assert json.loads(json.dumps(data)) == data and data["device"] == "gtx1080ti"


def test_analyze_device_adds_latency_to_the_json(capsys):
    assert main(["analyze", "shufflenet_v2", "-p", "width=1.0", "--device", "snapdragon810", "--json"]) == 0
    latency = json.loads(capsys.readouterr().out)["latency"]
    assert latency["device"] == "snapdragon810" and latency["batch"] == 1 and latency["unit"] == "images/s"
    assert set(latency["breakdown"]) == set(CATEGORIES)
    assert math.isclose(sum(latency["breakdown"].values()), latency["ms"], rel_tol=1e-9)


def test_analyze_device_all_gives_one_entry_per_profile_at_its_batch(capsys):
    assert main(["analyze", "mobilenet_v2", "--device", "all", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["latency"]
    assert [(e["device"], e["batch"]) for e in entries] == [(p.name, p.batch) for p in PROFILES]


def test_batch_flag_overrides_the_profile_batch_and_table_shows_units(capsys):
    assert main(["analyze", "mobilenet_v2", "--device", "gtx1080ti", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "at batch 2:" in out and "ms per batch" in out and "batches/s" in out
    assert all(category in out for category in CATEGORIES)


def test_analyze_with_an_unknown_device_is_one_line_and_exit_2(capsys):
    assert main(["analyze", "mobilenet_v2", "--device", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no device profile named 'nope'" in err


class _Concat4(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(x.chunk(4, dim=1)[::-1], dim=1)


def test_features_use_the_exact_attributes_of_the_op_graph():
    """A ResNeXt 3x3 conv with 32 groups of 4 channels, a 3x3 stride-1 max pool and a 4-input concat, checked
    against their closed forms: K = C_in/g * 9, N = C_out/g, pool work = outputs * 9, concat parts = 4."""
    from costmodel.latency.model import Features, op_features

    net = nn.Sequential(nn.Conv2d(128, 128, 3, 1, 1, groups=32), nn.MaxPool2d(3, 1, 1), _Concat4())
    features = op_features(analyze(net, (1, 128, 14, 14)).ops)
    launched = features[features["launches"]].set_index("op")
    conv, pool, cat = launched.loc["conv"], launched.loc["max_pool"], launched.loc["cat"]
    assert (conv["groups"], conv["reduction"], conv["outputs"], conv["pixels"]) == (32, 128 // 32 * 9, 4, 14 * 14)
    assert (pool["reduction"], pool["pixels"]) == (9, 128 * 14 * 14)
    assert cat["groups"] == 4
    work = dict(zip(launched.index, Features(launched.reset_index()).work))
    assert (work["conv"], work["max_pool"], work["cat"]) == (conv["flops"], 128 * 14 * 14 * 9, 0)


def test_a_concat_pays_its_overhead_and_a_cost_per_extra_input():
    """Concat time = overhead + per_group * (inputs - 1) + bytes / bandwidth (closed form, bandwidth huge)."""
    from costmodel.latency.model import measurement_ms

    base = hand_profile(overhead_us=2.0).latency_model
    kernels = {**base.kernels, "concat": base.kernels["concat"].model_copy(update={"per_group_us": 0.5})}
    model = base.model_copy(update={"kernels": kernels})
    op = OpSample(kind="data_movement", op="cat", flops=0, mac_bytes=8, pixels=4, reduction=1, outputs=1, groups=6,
                  in_channels=1)
    assert measurement_ms([op], model) == pytest.approx((2.0 + 0.5 * 5) * 1e-3, rel=1e-6)


def test_kernel_classes_follow_the_kernel_pytorch_runs():
    """An unstrided 1x1 conv is one GEMM (conv1x1); a strided 1x1 and a 3x3 go through the general convolution
    path (conv); unfused BatchNorm is one scale and shift (batch_norm), GroupNorm computes statistics (norm);
    ELU and tanh are the slow activations, SiLU is not; group convs split the same way as dense ones."""
    net = nn.Sequential(nn.Conv2d(8, 16, 1), nn.Conv2d(16, 16, 1, stride=2), nn.Conv2d(16, 16, 3, padding=1),
                        nn.BatchNorm2d(16), nn.ELU(), nn.Tanh(), nn.SiLU(), nn.GroupNorm(4, 16),
                        nn.Conv2d(16, 24, 1, groups=4), nn.Conv2d(24, 24, 1, stride=2, groups=3),
                        nn.Conv2d(24, 24, 3, padding=1, groups=4))
    features = op_features(analyze(net, (1, 8, 16, 16), fold_bn=False).ops)
    classes = [KERNEL_CLASSES[c] for c in Features(features).cls]
    assert classes == ["conv1x1", "conv", "conv", "batch_norm", "slow_activation", "slow_activation", "activation",
                       "norm", "group_conv1x1", "group_conv", "group_conv"]
    assert list(features["stride"]) == [1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1]


def _conv_ms(profile: DeviceProfile, c_in: int, c_out: int, hw: int, **device: object) -> float:
    """A 1x1 conv's time on `profile` with the latency model's fields in `device` changed."""
    model = profile.latency_model.model_copy(update=device)
    return predict(analyze(nn.Conv2d(c_in, c_out, 1), (1, c_in, hw, hw)),
                   profile.model_copy(update={"latency_model": model}), "graph").ms


def test_a_conv_with_unaligned_channels_runs_at_the_unaligned_share_of_the_lanes():
    """lanes 8, unaligned 0.5: a 64->64 conv uses every lane; a 63->63 conv pads both to 64 (63/64 of the
    lanes each) and runs off the aligned path at half speed - closed form, compute-bound, no overhead."""
    profile, device = hand_profile(gmadds_per_s=1.0), {"lanes": 8, "unaligned": 0.5}
    assert _conv_ms(profile, 64, 64, 7, **device) == pytest.approx(64 * 64 * 49 / 1e9 * 1e3, rel=1e-6)
    assert _conv_ms(profile, 63, 63, 7, **device) == pytest.approx(63 * 63 * 49 / 1e9 * 1e3 / ((63 / 64) ** 2 * 0.5),
                                                                   rel=1e-6)


def test_a_gpu_fills_with_output_elements_a_cpu_core_with_output_positions():
    """half_pixels 1000: a 1x1 conv to 2048 channels at 7x7 has P = 49 positions, 100352 output elements;
    its efficiency is P / (P + 1000) on a CPU core and P*N / (P*N + 1000) with parallel_channels."""
    profile = hand_profile(gmadds_per_s=1.0)
    kernels = {c: k.model_copy(update={"half_pixels": 1000.0}) for c, k in profile.latency_model.kernels.items()}
    work_ms = 64 * 2048 * 49 / 1e9 * 1e3
    assert _conv_ms(profile, 64, 2048, 7, kernels=kernels) == pytest.approx(work_ms / (49 / 1049), rel=1e-6)
    assert _conv_ms(profile, 64, 2048, 7, kernels=kernels, parallel_channels=True) == \
        pytest.approx(work_ms / (100352 / 101352), rel=1e-6)


def test_a_layer_with_no_outputs_costs_its_overhead_not_a_division_by_zero():
    """torchvision's num_classes=0 or nn.Linear(8, 0): zero multiply-adds, and the device still launches it."""
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Flatten(), nn.Linear(8 * 4 * 4, 0))
    report = analyze(model, (1, 3, 4, 4))
    linear = report.ops[report.ops["kind"] == "linear"]
    assert len(linear) == 1 and int(linear["flops"].iloc[0]) == 0
    latency = predict(report, load_profile("gtx1080ti"))
    overhead = load_profile("gtx1080ti").latency_model.kernels["linear"].overhead_us * 1e-3
    assert latency.per_op.loc[linear.index[0], "ms"] == pytest.approx(overhead, rel=0.01)
