"""Analysis time of every zoo model (cold and warm) next to fvcore's FlopCountAnalysis on the same input.

Run: `.venv/bin/python benchmarks/analysis_speed.py`. Prints a table with the machine and date. Both sides
exclude model construction; ours analyses a meta-device model (no weights), fvcore needs real CPU tensors
and runs the model. Ratios are measured in the same run, so machine noise affects both sides alike.
Targets (issue 2): EfficientNet-B7 at 600x600 in less than half of fvcore's time; any zoo model < 1 s warm.
"""
from __future__ import annotations

import datetime
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import analyze, zoo  # noqa: E402
from costmodel.latency.profiler import machine_name  # noqa: E402

CASES: list[tuple[str, dict]] = [
    ("shufflenet_v1", {"groups": 3}),
    ("shufflenet_v2", {"width": 1.0}),
    ("mobilenet_v1", {}),
    ("mobilenet_v2", {}),
    ("mnasnet_a1", {}),
    ("resnet50", {}),
    ("efficientnet", {"variant": "b0"}),
    ("efficientnet", {"variant": "b7"}),
    ("g3_fragments", {"structure": "4-fragment-parallel", "c": 128}),
]


def seconds(fn, repeats: int = 1) -> float:
    """Best of `repeats` wall-clock runs (the least disturbed by the machine's other work)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def fvcore_seconds(arch: str, params: dict) -> float:
    from fvcore.nn import FlopCountAnalysis

    model, shape = zoo.build(arch, **params)
    example = torch.zeros(shape)

    def count() -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(model, example)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analysis.total()

    return seconds(count)


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for arch, params in CASES:
        with torch.device("meta"):
            model, shape = zoo.build(arch, **params)
        cold = seconds(lambda: analyze(model, shape))
        warm = seconds(lambda: analyze(model, shape), repeats=3)
        theirs = fvcore_seconds(arch, params)
        rows.append({"model": f"{arch} {params or ''}".strip(), "input": "x".join(map(str, shape[1:])),
                     "ours cold s": cold, "ours warm s": warm, "fvcore s": theirs, "warm / fvcore": warm / theirs})
    table = pd.DataFrame(rows)
    print(f"Analysis speed - {machine_name(torch.device('cpu'))}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}, {datetime.date.today()}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
