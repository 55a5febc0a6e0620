"""Validate the latency model on real measurements: profile this CPU, then time whole zoo networks the fit
never saw and compare them with the predictions.

Run: `.venv/bin/python benchmarks/validate_latency.py [--threads 1]` (about 3 minutes on 2 cores).

1. `costmodel profile --quick` on this machine (micro-benchmarks only; no whole network is in the fit).
2. Every network below is built with random weights, BatchNorm folded into its convs (torch.fx `fuse`, the
   deployment the engine's reports assume), and timed with PyTorch: eval mode, inference mode, the same
   thread count, batch 1, warm-up, 35 samples in 5 rounds that interleave the networks, lower quartile
   (costmodel.latency.timing: load from other processes only ever adds time).
3. The same networks are predicted from the profile, and by a FLOPs-only baseline: latency = k * FLOPs,
   k fitted by least squares to the same micro-benchmarks.
Prints and saves (data/validation/) the per-network table, median and max absolute percentage error and
Kendall's tau of predicted vs measured, for the model and the baseline, with the machine and the date.
Targets (issue 3): median error <= 10%, max <= 25%, tau >= 0.85 and above the baseline's.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau
from torch.fx.experimental.optimization import fuse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import analyze, zoo  # noqa: E402
from costmodel.latency.model import predict  # noqa: E402
from costmodel.latency.profiler import machine_name, profile_device  # noqa: E402
from costmodel.latency.profiles import DeviceProfile, save_profile  # noqa: E402
from costmodel.sources.names import label  # noqa: E402
from costmodel.latency.timing import steady_allocator, time_modules, torch_threads  # noqa: E402

OUT_DIR = Path(__file__).resolve().parents[1] / "data" / "validation"
NETWORKS: list[tuple[str, dict]] = [
    *(("shufflenet_v1", {"groups": g}) for g in (1, 2, 3, 4, 8)),
    ("shufflenet_v1", {"groups": 3, "width": 0.5}), ("shufflenet_v1", {"groups": 8, "width": 2.0}),
    *(("shufflenet_v2", {"width": w}) for w in (0.5, 1.0, 1.5, 2.0)),
    *(("mobilenet_v1", {"width": w}) for w in (0.5, 0.75, 1.0)),
    *(("mobilenet_v2", {"width": w}) for w in (0.75, 1.0, 1.4)),
    *(("efficientnet", {"variant": v}) for v in ("b0", "b1", "b2")),
    ("mnasnet_a1", {}), ("resnet50", {}),
]


def flops_baseline(profile: DeviceProfile) -> float:
    """ms per multiply-add of the FLOPs-only model: least squares of ms = k * FLOPs over the profile's
    micro-benchmarks (dominated by the large convs, i.e. the achieved multiply-adds per second)."""
    ms = np.array([m.ms for m in profile.measurements])
    flops = np.array([sum(s.flops * s.count for s in m.ops) for m in profile.measurements], dtype=float)
    return float(ms @ flops / (flops @ flops))


def _ape(predicted: pd.Series, measured: pd.Series) -> pd.Series:
    return (predicted / measured - 1).abs() * 100


def validate(threads: int) -> tuple[pd.DataFrame, dict]:
    steady_allocator()
    profile = profile_device(f"validation_{threads}t", threads=threads, quick=True)
    save_profile(profile, OUT_DIR / f"profile_quick_{threads}t.json")
    per_madd = flops_baseline(profile)
    rows, cases = [], []
    with torch_threads(threads):
        for arch, params in NETWORKS:
            model, shape = zoo.build(arch, **params)
            deployed = fuse(model.eval())
            report = analyze(deployed, shape, arch=label(arch, params))
            flops = report.summary["flops"]
            rows.append({"network": report.summary["arch"], "MFLOPs": flops / 1e6,
                         "predicted_ms": predict(report, profile).ms, "flops_baseline_ms": per_madd * flops})
            cases.append((deployed, torch.randn(shape)))
        load_before = os.getloadavg()[0]
        measured = time_modules(cases, rounds=5, samples=7, progress="timing networks")
        load_after = os.getloadavg()[0]
    table = pd.DataFrame(rows).assign(measured_ms=measured)
    table["error_pct"] = 100 * (table["predicted_ms"] / table["measured_ms"] - 1)
    table["flops_baseline_error_pct"] = 100 * (table["flops_baseline_ms"] / table["measured_ms"] - 1)
    model_ape = _ape(table["predicted_ms"], table["measured_ms"])
    base_ape = _ape(table["flops_baseline_ms"], table["measured_ms"])
    summary = {
        "machine": f"{machine_name(torch.device('cpu'))}, {os.cpu_count()} cores",
        "threads": threads, "batch": 1, "torch": torch.__version__, "date": datetime.date.today().isoformat(),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "networks": len(table), "profile_fit_median_pct": profile.fit.median_ape,
        "model": {"median_ape_pct": float(model_ape.median()), "max_ape_pct": float(model_ape.max()),
                  "kendall_tau": float(kendalltau(table["predicted_ms"], table["measured_ms"])[0])},
        "flops_baseline": {"median_ape_pct": float(base_ape.median()), "max_ape_pct": float(base_ape.max()),
                           "kendall_tau": float(kendalltau(table["MFLOPs"], table["measured_ms"])[0])},
    }
    return table, summary


def markdown(table: pd.DataFrame, summary: dict) -> str:
    m, b = summary["model"], summary["flops_baseline"]
    lines = [
        f"Latency validation on {summary['machine']}, torch {summary['torch']}, {summary['threads']} thread(s), "
        f"batch 1, {summary['date']} (1-min load average {summary['load_average_1min'][0]} before, "
        f"{summary['load_average_1min'][1]} after timing). FLOPs are multiply-adds; times in ms per image.",
        "",
        "| network | MFLOPs | predicted ms | measured ms | error | FLOPs-baseline ms | baseline error |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {r.network} | {r.MFLOPs:.0f} | {r.predicted_ms:.2f} | {r.measured_ms:.2f} | {r.error_pct:+.1f}% | "
          f"{r.flops_baseline_ms:.2f} | {r.flops_baseline_error_pct:+.1f}% |" for r in table.itertuples()),
        "",
        "| | median abs. error | max abs. error | Kendall tau |",
        "|---|---:|---:|---:|",
        f"| latency model | {m['median_ape_pct']:.1f}% | {m['max_ape_pct']:.1f}% | {m['kendall_tau']:.3f} |",
        f"| FLOPs baseline | {b['median_ape_pct']:.1f}% | {b['max_ape_pct']:.1f}% | {b['kendall_tau']:.3f} |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for profile and networks (default 1)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    table, summary = validate(args.threads)
    text = markdown(table, summary)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stem = OUT_DIR / f"latency_cpu_{args.threads}t"
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4g")
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    stem.with_suffix(".json").write_text(pd.Series(summary).to_json(indent=2) + "\n", encoding="utf-8")
    print(text)
    print(f"saved {stem}.md/.csv/.json")


if __name__ == "__main__":
    main()
