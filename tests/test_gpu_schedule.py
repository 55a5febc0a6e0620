"""GPU execution modes: the eager queue and CUDA-graph replay in closed form, the host-time fit on synthetic
data with known answers, and the mode through predict, JSON and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from costmodel import analyze
from costmodel.cli import main
from costmodel.errors import CostModelError
from costmodel.latency import schedule
from costmodel.latency.host import fit_host
from costmodel.latency.kernels import KERNEL_CLASSES
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile, FitQuality, HostModel, KernelParams, LatencyModel, \
    Measurement, OpSample, Source


def test_eager_host_bound_run_is_the_issue_time_plus_the_last_kernel():
    run = schedule.eager(np.array([1.0, 1.0, 1.0]), np.array([0.1, 0.1, 0.1]))
    assert run.ms == pytest.approx(3.1) and run.bound == "host"
    assert (run.host_ms, run.device_ms) == pytest.approx((3.0, 0.3))


def test_eager_device_bound_run_is_the_first_issue_plus_all_kernels():
    run = schedule.eager(np.array([0.1, 0.1, 0.1]), np.array([1.0, 1.0, 1.0]))
    assert run.ms == pytest.approx(3.1) and run.bound == "device"


def test_eager_kernel_waits_for_the_previous_one_and_for_its_issue():
    # kernel 0: issued at 1, runs 1-1.5; kernel 1: issued at 1, waits until 1.5, runs to 3.5; kernel 2: to 3.6
    assert schedule.eager(np.array([1.0, 0.0, 0.0]), np.array([0.5, 2.0, 0.1])).ms == pytest.approx(3.6)


def test_graph_is_device_time_plus_gaps_between_kernels():
    run = schedule.graph(np.array([0.5, 0.25, 0.25]), gap_ms=0.01)
    assert run.ms == pytest.approx(1.02) and run.host_ms == 0 and run.bound == "device"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10)), min_size=1, max_size=30))
def test_eager_lies_between_the_slower_resource_and_the_sum_of_both(pairs):
    host, device = (np.array(column) for column in zip(*pairs))
    run = schedule.eager(host, device)
    assert max(host.sum(), device.sum()) - 1e-9 <= run.ms <= host.sum() + device.sum() + 1e-9


def _samples(kind: str, op: str, count: int) -> OpSample:
    return OpSample(kind=kind, op=op, count=count, flops=0, mac_bytes=8, pixels=1, reduction=1, outputs=1, groups=1,
                    in_channels=1)


def test_host_fit_of_two_classes_is_exact_on_exact_data():
    conv_us, relu_us = 40.0, 10.0
    conv = OpSample(kind="conv", op="conv2d", flops=64, mac_bytes=8, pixels=1, reduction=8, outputs=8, groups=1,
                    in_channels=8)
    cases = [(1, 0), (0, 1), (1, 1), (2, 3)]
    measurements = [Measurement(label=str(c), ms=1.0, host_ms=(c * conv_us + r * relu_us) / 1e3,
                                ops=[s for s in (conv.model_copy(update={"count": c}) if c else None,
                                                 _samples("elementwise", "relu", r) if r else None) if s])
                    for c, r in cases]
    host, fitted = fit_host(measurements, "synthetic")
    assert host.kernels["conv1x1"] == pytest.approx(conv_us, rel=1e-3)
    assert host.kernels["elementwise"] == pytest.approx(relu_us, rel=1e-3)
    assert fitted == pytest.approx([m.host_ms for m in measurements], rel=1e-3)


def test_host_fit_without_host_times_is_a_one_line_error():
    with pytest.raises(CostModelError, match="host time"):
        fit_host([Measurement(label="x", ms=1.0, ops=[_samples("elementwise", "relu", 1)])], "none")


def _gpu_profile(host_us: float, overhead_us: float, gap_us: float = 0.0) -> DeviceProfile:
    """Every op costs `overhead_us` on the device (no size terms) and `host_us` to issue: times are closed-form."""
    kernels = {c: KernelParams(overhead_us=overhead_us, gbytes_per_s=1e12, gmadds_per_s=1e12) for c in KERNEL_CLASSES}
    return DeviceProfile(
        name="hand_gpu", device="hand-made GPU", kind="gpu", source=Source(method="measured", description="test"),
        batch=1, latency_model=LatencyModel(kernels=kernels, cache_bytes=1e12, spill=0.0),
        measurements=[Measurement(label="x", ms=1.0, ops=[_samples("elementwise", "relu", 1)])],
        fit=FitQuality(samples=1, median_ape=0, max_ape=0),
        host=HostModel(kernels={c: host_us for c in KERNEL_CLASSES}, gap_us=gap_us, data="test"))


@pytest.fixture(scope="module")
def relus():
    """Ten ReLUs in a row: ten kernels, no views."""
    return analyze(nn.Sequential(*(nn.ReLU() for _ in range(10))), (1, 8, 4, 4))


def test_predict_eager_host_bound_and_graph_in_closed_form(relus):
    profile = _gpu_profile(host_us=10.0, overhead_us=1.0, gap_us=0.5)
    eager, graph = predict(relus, profile, "eager"), predict(relus, profile, "graph")
    tiny = 1e-4  # the memory term of 128 bytes at 1e12 GB/s, far below a microsecond
    assert eager.ms == pytest.approx(10 * 0.010 + 0.001, abs=tiny) and eager.bound == "host"
    assert graph.ms == pytest.approx(10 * 0.001 + 9 * 0.0005, abs=tiny) and graph.bound == "device"
    assert sum(eager.breakdown.values()) == pytest.approx(eager.device_ms)  # the breakdown is device time


def test_predict_device_bound_eager_is_first_issue_plus_device_time(relus):
    eager = predict(relus, _gpu_profile(host_us=1.0, overhead_us=10.0), "eager")
    assert eager.ms == pytest.approx(0.001 + 10 * 0.010, abs=1e-4) and eager.bound == "device"


def test_cpu_profiles_ignore_the_mode(relus):
    cpu = _gpu_profile(1.0, 1.0).model_copy(update={"kind": "cpu", "host": None})
    eager, graph = predict(relus, cpu, "eager"), predict(relus, cpu, "graph")
    assert eager.ms == graph.ms == eager.device_ms == eager.host_ms


def test_unknown_mode_is_a_one_line_error(relus):
    with pytest.raises(CostModelError, match="mode"):
        predict(relus, _gpu_profile(1.0, 1.0), "lazy")


def test_json_latency_has_mode_bound_host_and_device(capsys):
    assert main(["analyze", "mobilenet_v1", "--device", "h200_b1", "--mode", "graph", "--json"]) == 0
    latency = json.loads(capsys.readouterr().out)["latency"]
    assert latency["mode"] == "graph" and latency["bound"] == "device" and latency["host_ms"] == 0
    assert latency["ms"] == pytest.approx(latency["device_ms"])
    assert main(["analyze", "mobilenet_v1", "--device", "h200_b1", "--json"]) == 0
    eager = json.loads(capsys.readouterr().out)["latency"]
    assert eager["mode"] == "eager" and eager["bound"] == "host" and eager["ms"] >= eager["host_ms"]


def test_cli_rejects_an_unknown_mode_with_exit_code_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", "mobilenet_v1", "--device", "h200_b1", "--mode", "lazy"])
    assert exit_.value.code == 2


def test_lint_on_a_host_bound_run_says_launches_are_the_cost(capsys):
    assert main(["lint", "shufflenet_v2", "--device", "h200_b1", "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    launch = [f for f in findings if f["guideline"] in ("G3", "G4")]
    assert launch and all("launches, not bytes" in f["evidence"] for f in launch)
    assert main(["lint", "shufflenet_v2", "--device", "h200_b1", "--mode", "graph", "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)["findings"]
    assert not any("launches, not bytes" in f["evidence"] for f in graph)


def test_pages_say_when_the_host_bounds_the_run():
    from costmodel.studies.evaluate import Settings, ZooModel, host_bound
    from costmodel.viz.labels import device_label

    model = ZooModel.of("mobilenet_v2")
    note = host_bound(model, Settings(devices=("h200_b1", "amd_epyc_1t")), device_label)
    assert note.startswith(f"Host-bound ({device_label('h200_b1')}: ") and "EPYC" not in note  # by hardware
    assert host_bound(model, Settings(devices=("h200_b1",), mode="graph"), device_label) is None
    assert host_bound(model, Settings(devices=("amd_epyc_1t",)), device_label) is None


def test_the_breakdown_labels_a_host_bound_run_with_its_time_and_the_gpus_work():
    """Figure 2's bars split device time; on a host-bound run the label still gives the run's time (the host's
    issue time), with the GPU's work below it, and a device-bound run only its time."""
    from costmodel.studies.evaluate import Settings, ZooModel, breakdown, latency
    from costmodel.units import ms as ms_text
    from costmodel.viz.figures import breakdown_bars

    model, eager = ZooModel.of("mobilenet_v2"), Settings(devices=("h200_b1", "amd_epyc_1t"))
    gpu, cpu = latency(model, "h200_b1", eager), latency(model, "amd_epyc_1t", eager)
    assert gpu.bound == "host" and gpu.ms > 2 * gpu.device_ms
    labels = list(breakdown_bars(breakdown([model], eager)).data[0].y)
    assert labels[0].endswith(f": {ms_text(gpu.ms)}<br>host-bound; GPU work {ms_text(gpu.device_ms)}")
    assert labels[1].endswith(f": {ms_text(cpu.ms)}")


def test_zoo_page_says_host_bound_in_eager_mode_and_not_as_a_graph():
    from test_app_pages import page  # AppTest of an app page, with this project's settings
    from costmodel.viz.labels import device_label

    app = page("zoo")
    app.sidebar.multiselect(key="_settings.devices").set_value(["h200_b1"]).run()
    assert any(f"Host-bound ({device_label('h200_b1')}" in info.value for info in app.info)
    app.sidebar.radio(key="_settings.mode").set_value("graph").run()
    assert not any("Host-bound" in info.value for info in app.info)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10)), min_size=1, max_size=12), min_size=1,
                max_size=6))
def test_runs_laid_end_to_end_end_as_the_queue_written_as_a_loop(runs):
    """eager_ends (closed form, many runs at once) against the queue's definition, one op at a time."""
    host = np.array([h for run in runs for h, _ in run])
    device = np.array([d for run in runs for _, d in run])
    starts = np.cumsum([0] + [len(run) for run in runs[:-1]])
    expected = []
    for run in runs:
        issued = end = 0.0
        for h, d in run:
            issued += h
            end = max(issued, end) + d
        expected.append(end)
    assert schedule.eager_ends(host, device, starts) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_guidelines_say_on_which_gpus_every_setting_is_host_bound():
    """Eager on the H200 at batch 1, each micro-network takes longer to issue than to run: its bars
    follow the launches, and the page says so; as a CUDA graph (or on a CPU) no run is host-bound."""
    from costmodel.studies import guideline_sweeps
    from costmodel.studies.evaluate import Settings, ZooModel, latency, profile
    from costmodel.viz.labels import device_label
    from test_app_pages import page

    eager = Settings(devices=("h200_b1", "amd_epyc_1t"))
    frame = guideline_sweeps.sweep(1, 0, eager)
    cells = guideline_sweeps.cells(1, guideline_sweeps.paper_device(profile("h200_b1")), 0)
    for cell, batch in zip(cells, frame.loc[frame["device"] == "h200_b1", "batch"]):
        run = latency(ZooModel.of(cell["arch"], **cell["kwargs"]), "h200_b1", eager, batch)
        assert run.host_ms > run.device_ms  # the schedule's own totals: issuing takes longer than running
    assert len(cells) > 1 and guideline_sweeps.host_bound_devices(frame) == ["h200_b1"]
    graph = Settings(devices=("h200_b1", "amd_epyc_1t"), mode="graph")
    assert guideline_sweeps.host_bound_devices(guideline_sweeps.sweep(1, 0, graph)) == []

    app = page("guidelines")
    app.sidebar.multiselect(key="_settings.devices").set_value(["h200_b1"]).run()
    assert any(info.value.startswith(f"Host-bound ({device_label('h200_b1')}):") for info in app.info)
    app.sidebar.radio(key="_settings.mode").set_value("graph").run()
    assert not any(info.value.startswith("Host-bound") for info in app.info)
