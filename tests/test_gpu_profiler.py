"""The GPU path of the profiler, run on this CPU: the CUDA-specific calls (synchronize, the busy-spin kernel,
CUDA-graph capture and events) live in `CudaClock` and are NOT exercised here - no GPU is available to
these tests. `HostClock` stands in for them, so the measuring, the three times per op, the two-resource
fit and the --batch handling are tested; CudaClock itself was written against the stored H200 data's method."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
from test_profiler import Sleep  # a module of known wall time per call

from costmodel.cli import main
from costmodel.latency import profiler
from costmodel.latency.host import fit_host
from costmodel.latency.profiles import read_profile
from costmodel.latency.timing import HostClock, gpu_times

ROOT = Path(__file__).resolve().parents[1]


def test_three_times_of_an_op_of_known_duration():
    """20 ms per call: a sleep never ends early, and a loaded machine only delays it (at most 3x allowed)."""
    times = gpu_times(Sleep(0.02), torch.zeros(1), HostClock(), calls=3, sync_samples=3, repeats=2, host_samples=2,
                      pipe=True)
    for ms in (times.sync_ms, times.graph_ms, times.host_us / 1e3, times.pipe_ms):
        assert 19.9 <= ms <= 60.0


def test_gpu_path_gives_a_two_resource_profile():
    profile = profiler.profile_device("tiny_gpu", quick=True, scale=0.04, batch=2, progress=False, clock=HostClock())
    assert profile.kind == "gpu" and profile.batch == 2 and profile.host is not None
    assert all(m.host_ms and m.host_ms > 0 for m in profile.measurements)
    assert set(profile.host.kernels) >= {"conv1x1", "elementwise"} and profile.device_data
    assert "CUDA graph" in profile.source.description


def test_profile_command_writes_one_profile_per_batch(tmp_path, monkeypatch, capsys):
    real = profiler.profile_device
    monkeypatch.setattr(profiler, "profile_device", lambda *a, **k: real(*a, **{**k, "scale": 0.04, "progress": False}))
    assert main(["profile", "--quick", "--batch", "1", "2", "--out", str(tmp_path / "mine.json")]) == 0
    for batch in (1, 2):
        profile = read_profile(tmp_path / f"mine_b{batch}.json")
        assert profile.batch == batch and profile.name == f"mine_b{batch}"
    assert "mine_b2.json" in capsys.readouterr().out


def test_gpu_profiles_of_several_batches_share_one_host_model(tmp_path, monkeypatch):
    """Each batch's own fit gives its own host times; written out, both profiles carry the one model fitted to
    the issue times of both grids (the sum of both batches' host samples, not either alone)."""
    real = profiler.profile_device
    monkeypatch.setattr(profiler, "profile_device",
                        lambda *a, **k: real(*a, **{**k, "scale": 0.04, "progress": False, "clock": HostClock()}))
    assert main(["profile", "--quick", "--batch", "1", "2", "--out", str(tmp_path / "gpu.json")]) == 0
    first, second = (read_profile(tmp_path / f"gpu_b{batch}.json") for batch in (1, 2))
    assert first.host == second.host and "batch 1, 2" in first.host.data
    alone, _ = fit_host(first.measurements, "batch 1 only")
    assert alone.kernels != first.host.kernels


def test_network_measurement_script_writes_the_four_times_per_network_and_batch(tmp_path, monkeypatch):
    """benchmarks/measure_gpu.py on this CPU (HostClock in place of CUDA): one JSON line per network and batch
    with the four times, BatchNorm folded, the shape at each batch."""
    spec = importlib.util.spec_from_file_location("measure_gpu", ROOT / "benchmarks" / "measure_gpu.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "DEVICE", "cpu")
    script.main(["--out", str(tmp_path), "--batch", "1", "2", "--only", "squeezenet1_1"])
    records = [json.loads(line) for line in (tmp_path / "nets.jsonl").read_text().splitlines()]
    assert [(r["arch"], r["batch"], r["shape"][0]) for r in records] == [("squeezenet1_1", 1, 1),
                                                                         ("squeezenet1_1", 2, 2)]
    for record in records:
        assert record["fused"] and record["source"] == "torchvision"
        assert all(record[k] > 0 for k in ("sync_ms", "pipe_ms", "graph_ms", "host_us"))
    assert json.loads((tmp_path / "meta.json").read_text())["device"] == "cpu"
