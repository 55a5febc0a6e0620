"""Validate the GPU latency model on the stored H200 measurements (runs on the CPU, no GPU needed).

Run: `.venv/bin/python benchmarks/validate_gpu.py` (a few minutes: it analyses 72 networks).

The shipped profiles data/profiles/h200_b{1,8,32}.json were fitted to micro-benchmarks only
(costmodel.latency.gpu_profiles). Here the 24 zoo networks of data/measurements/h200-2026-11-30/ are predicted
at batch 1, 8 and 32 in both modes and compared with what was measured: graph mode with `graph_ms` (CUDA-graph
replay), eager mode with `pipe_ms` (calls issued back to back), taking the mean of the two runs where the
network was measured twice. Eager timings on that host moved by ~11% median and up to 54% between the two runs
(the spread column), so an eager error below that spread is as good as the data allow.
Prints and saves data/validation/gpu_h200.{csv,md,json}: per-network table, median and max absolute % error
and Kendall's tau per batch and mode, with the data's machine and date.
Targets (issue 12): graph median <= 10%, max <= 25%, tau >= 0.9; eager median <= 15%, tau >= 0.85.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.latency.gpu_profiles import H200_BATCHES, H200_DIR, network_runs, predicted_runs, scores, \
    shipped_h200  # noqa: E402

OUT_DIR = Path(__file__).resolve().parents[1] / "data" / "validation"
# The 24 networks split BY FAMILY (zoo arch), written down before any model change of this round was judged
# (2026-11-30, second session): model changes are judged on the development half only; both halves are
# reported. Each half holds one of the two networks the previous round's table showed worst in graph mode
# (ResNet-50 in development, ShuffleNet V1 g=2 in report), so the report half tests whether a change made for
# one generalises. The all-network numbers of the previous round were seen before this split was made.
DEVELOPMENT = ("resnet50", "mobilenet_v1", "mobilenet_v2", "mnasnet_a1", "shufflenet_v2")  # 12 networks
REPORT = ("shufflenet_v1", "efficientnet")  # 12 networks
TARGETS = {"graph": {"median_pct": 10.0, "max_pct": 25.0, "tau": 0.9}, "eager": {"median_pct": 15.0, "tau": 0.85}}


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per batch and mode: the scores and whether each target is met."""
    rows = []
    for batch in H200_BATCHES:
        for mode, target in TARGETS.items():
            got = scores(table[table["batch"] == batch], mode)
            met = all(got[k] >= v if k == "tau" else got[k] <= v for k, v in target.items())
            rows.append({"batch": batch, "mode": mode, **got, "target met": met})
    return pd.DataFrame(rows)


def main() -> None:
    meta = json.loads((H200_DIR / "meta.json").read_text(encoding="utf-8"))
    table = predicted_runs(network_runs(), shipped_h200())
    result = summary(table)
    header = (f"GPU latency validation: {meta['device']}, measured {meta['date']} (torch {meta['torch']}); "
              f"profiles fitted to micro-benchmarks only; 24 networks never in a fit")
    shown = table[["net", "batch", "graph_ms", "pred_graph_ms", "eager_ms", "pred_eager_ms", "eager_spread_pct",
                   "bound", "runs"]]
    print(header)
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(result.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    shown.to_csv(OUT_DIR / "gpu_h200.csv", index=False, float_format="%.4f")
    (OUT_DIR / "gpu_h200.md").write_text(f"{header}\n\n{result.to_markdown(index=False, floatfmt='.2f')}\n\n"
                                         f"{shown.to_markdown(index=False, floatfmt='.3f')}\n", encoding="utf-8")
    (OUT_DIR / "gpu_h200.json").write_text(json.dumps({"machine": meta["device"], "date": meta["date"],
                                                       "scores": result.to_dict("records")}, indent=1) + "\n",
                                           encoding="utf-8")


if __name__ == "__main__":
    main()
