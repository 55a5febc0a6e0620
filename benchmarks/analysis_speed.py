"""Analysis time of every zoo model (cold and warm) next to fvcore's FlopCountAnalysis on the same input.

Run: `.venv/bin/python benchmarks/analysis_speed.py`. Prints a table with the machine and date. Both sides
exclude model construction; ours analyses a meta-device model (no weights), fvcore needs real CPU tensors
and runs the model. Ratios are measured in the same run, so machine noise affects both sides alike.
Targets (issue 2): EfficientNet-B7 at 600x600 in less than half of fvcore's time; any zoo model < 1 s warm.

`--torchvision` adds the sweep over all 80 torchvision classification models by name (built without weights at
their weights' crop size): seconds to build and to analyse each, their median and max, and whether each
came out complete, within 2% of torchvision's published GFLOPs and with its published parameter count
(tests/test_torchvision_models.py runs the same check on one model per family).
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import analyze, zoo  # noqa: E402
from costmodel.latency.profiler import machine_name  # noqa: E402
from costmodel.sources.names import load_model  # noqa: E402

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


def zoo_table() -> pd.DataFrame:
    rows = []
    for arch, params in CASES:
        with torch.device("meta"):
            model, shape = zoo.build(arch, **params)
        cold = seconds(lambda: analyze(model, shape))
        warm = seconds(lambda: analyze(model, shape), repeats=3)
        theirs = fvcore_seconds(arch, params)
        rows.append({"model": f"{arch} {params or ''}".strip(), "input": "x".join(map(str, shape[1:])),
                     "ours cold s": cold, "ours warm s": warm, "fvcore s": theirs, "warm / fvcore": warm / theirs})
    return pd.DataFrame(rows)


def torchvision_table() -> pd.DataFrame:
    """Every torchvision classification model: build and analysis seconds, and the published-number check."""
    import torchvision

    rows = []
    for name in sorted(torchvision.models.list_models(module=torchvision.models)):
        meta = torchvision.models.get_model_weights(name).DEFAULT.meta
        start = time.perf_counter()
        model, shape, _ = load_model(f"torchvision:{name}")
        built = time.perf_counter()
        summary = analyze(model, shape).summary
        rows.append({"model": name, "input": "x".join(map(str, shape[1:])), "tracer": summary["tracer"],
                     "build s": built - start, "analyse s": time.perf_counter() - built,
                     "GFLOPs": summary["flops"] / 1e9, "published GFLOPs": meta["_ops"],
                     "ok": summary["status"] == "complete" and abs(summary["flops"] / 1e9 / meta["_ops"] - 1) <= 0.02
                     and meta["num_params"] in (summary["params"], summary["params"] - summary["params_unread"])})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torchvision", action="store_true", help="also sweep all torchvision classification models")
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = (f"{machine_name(torch.device('cpu'))}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
              f"{datetime.date.today()}")
    print(f"Analysis speed - {header}")
    print(zoo_table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.torchvision:
        table = torchvision_table()
        print(f"\ntorchvision sweep - {header}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for column in ("build s", "analyse s"):
            print(f"{column}: median {statistics.median(table[column]):.2f}, max {table[column].max():.2f} "
                  f"({table.loc[table[column].idxmax(), 'model']})")
        print(f"{int(table['ok'].sum())} of {len(table)} complete, within 2% of published GFLOPs, published params")


if __name__ == "__main__":
    main()
