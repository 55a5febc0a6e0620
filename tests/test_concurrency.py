"""Several app sessions analyse at once (Streamlit serves each from a thread of one process): concurrent
analyses give exactly the serial results and leave torch's globals as they were."""
from __future__ import annotations

import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn

from costmodel import analyze, zoo
from costmodel.sources.names import load_model

MODELS = ["shufflenet_v1", "shufflenet_v2", "mobilenet_v1", "mobilenet_v2", "mnasnet_a1", "resnet50",
          "efficientnet", "shufflenet_v2(width=0.5)"]
ORIGINAL_CALL = nn.Module.__call__


def summary_of(spec: str) -> dict:
    model, shape, name = load_model(spec)
    summary = analyze(model, shape, arch=name).summary
    return {k: v for k, v in summary.items() if k != "units"}


def test_eight_threads_give_the_serial_results() -> None:
    serial = {spec: summary_of(spec) for spec in MODELS}
    filters = list(warnings.filters)
    stderr = sys.stderr
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            results = list(pool.map(summary_of, MODELS))
            assert results == [serial[spec] for spec in MODELS]
    assert nn.Module.__call__ is ORIGINAL_CALL
    assert warnings.filters == filters and sys.stderr is stderr


def test_a_failed_trace_restores_globals() -> None:
    class DataDependent(nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(Exception):
        analyze(DataDependent(), (1, 3, 8, 8))
    assert nn.Module.__call__ is ORIGINAL_CALL
    assert len(zoo.list_archs()) > 0
    assert summary_of("shufflenet_v2")["status"] == "complete"


def test_a_trace_that_silences_its_own_stderr_leaves_other_threads_stderr_alone(capsys) -> None:
    """torch.export's dumps are silenced for the tracing thread only: another session's error line written
    while an export runs still reaches stderr."""
    exporting, written = threading.Event(), threading.Event()

    class WaitsInsideExport(nn.Module):
        def forward(self, x):
            if torch.compiler.is_exporting():
                exporting.set()
                written.wait(10)
            return x * 2 if x.sum() > 0 else x  # data-dependent: torch.fx fails, torch.export is tried

    def other_session() -> None:
        assert exporting.wait(30), "the trace never reached torch.export"
        print("error: another session's line", file=sys.stderr)
        written.set()

    other = threading.Thread(target=other_session)
    other.start()
    with pytest.raises(Exception):
        analyze(WaitsInsideExport(), (1, 3, 8, 8))
    other.join()
    assert "error: another session's line" in capsys.readouterr().err
