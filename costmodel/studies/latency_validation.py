"""Whole-network latency validation from stored timings: predictions, errors and targets, without timing.

benchmarks/validate_latency.py times the networks and stores, in data/validation/, the raw times
(latency_cpu_timings.csv: one row per network, variant and thread count, with the load average) and the ops
each network runs as latency-model features (latency_cpu_ops.csv.gz). Everything here recomputes from those
files, so a changed model or profile is re-validated in seconds and the test suite can hold it to targets.
Errors are (predicted / measured - 1); the FLOPs-only baseline is ms = k * FLOPs with k the geometric mean of
measured/FLOPs over the development half (the half tuning may look at).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from costmodel.latency.fitting import class_scales, scaled
from costmodel.latency.kernels import KERNEL_CLASSES
from costmodel.latency.model import Features, op_milliseconds
from costmodel.latency.profiles import DeviceProfile

VALIDATION_DIR = Path(__file__).resolve().parents[2] / "data" / "validation"
TIMINGS, OPS = "latency_cpu_timings.csv", "latency_cpu_ops.csv.gz"
KEY = ["network", "variant", "threads"]
VALIDATED = {"amd_epyc_1t": 1, "amd_epyc_2t": 2}  # shipped profiles of the machine the timings come from
# Issue 11's targets on the report half at batch 1 (APE in %, share within +-10%).
TARGETS = {1: {"median_ape": 7.0, "max_ape": 20.0, "within_10": 0.8, "kendall_tau": 0.95},
           2: {"median_ape": 10.0}}


@dataclass(frozen=True)
class Stored:
    """The stored validation data: one row per timed network/variant/threads, and the ops of each network."""

    timings: pd.DataFrame
    ops: pd.DataFrame


def load(directory: Path = VALIDATION_DIR) -> Stored:
    return Stored(pd.read_csv(directory / TIMINGS), pd.read_csv(directory / OPS))


def store(timings: pd.DataFrame, ops: pd.DataFrame, directory: Path = VALIDATION_DIR) -> None:
    """Merge new timings and ops into the stored ones (same network/variant/threads replaced)."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / TIMINGS).exists():
        old = load(directory)
        fresh = timings.set_index(KEY).index
        timings = pd.concat([old.timings[~old.timings.set_index(KEY).index.isin(fresh)], timings], ignore_index=True)
        ops = pd.concat([old.ops[~old.ops["network"].isin(set(ops["network"]))], ops], ignore_index=True)
    timings.to_csv(directory / TIMINGS, index=False, float_format="%.5g")
    ops.to_csv(directory / OPS, index=False)


def network_ms(ops: pd.DataFrame, profile: DeviceProfile) -> pd.Series:
    """Predicted ms of every (network, variant) in a stored ops table."""
    per_row = op_milliseconds(ops, profile.latency_model) * ops["count"].to_numpy()
    return pd.Series(per_row, index=ops.index).groupby([ops["network"], ops["variant"]]).sum()


def predictions(data: Stored, profile: DeviceProfile, threads: int) -> pd.DataFrame:
    """Measured and predicted ms of every stored network at `threads`, with the FLOPs-only baseline."""
    table = data.timings[data.timings["threads"] == threads].reset_index(drop=True)
    flops = (data.ops["flops"] * data.ops["count"]).groupby([data.ops["network"], data.ops["variant"]]).sum()
    index = pd.MultiIndex.from_frame(table[["network", "variant"]])
    table["MFLOPs"] = flops.reindex(index).to_numpy() / 1e6
    table["predicted_ms"] = network_ms(data.ops, profile).reindex(index).to_numpy()
    dev = table[table["half"] == "development"]
    per_mflop = dict(np.exp(np.log(dev["measured_ms"] / dev["MFLOPs"]).groupby(dev["variant"]).mean()))
    table["flops_baseline_ms"] = table["MFLOPs"] * table["variant"].map(per_mflop)
    table["error_pct"] = 100 * (table["predicted_ms"] / table["measured_ms"] - 1)
    table["flops_baseline_error_pct"] = 100 * (table["flops_baseline_ms"] / table["measured_ms"] - 1)
    return table


def metrics(part: pd.DataFrame) -> dict[str, float]:
    """Median and max |error| (%), share within +-10%, Kendall tau of the model and of FLOPs."""
    ape = part["error_pct"].abs()
    return {"networks": len(part), "median_ape": float(ape.median()), "max_ape": float(ape.max()),
            "within_10": float((ape <= 10).mean()),
            "kendall_tau": float(kendalltau(part["predicted_ms"], part["measured_ms"])[0]),
            "flops_median_ape": float(part["flops_baseline_error_pct"].abs().median()),
            "flops_kendall_tau": float(kendalltau(part["MFLOPs"], part["measured_ms"])[0])}


def summary(table: pd.DataFrame, profile: DeviceProfile) -> dict[str, object]:
    """Metrics per half and variant, with the conditions of the timing (machine, torch, date, load) and the
    profile that predicted them (costmodel.studies.validated quotes them for that profile only)."""
    first = table.iloc[0]
    out: dict[str, object] = {"profile": profile.name, "profile_fit_median_ape": profile.fit.median_ape,
                              "machine": first["machine"], "torch": first["torch"], "date": first["date"],
                              "threads": int(first["threads"]), "batch": 1,
                              "load_average_1min": [float(table["load_before"].max()),
                                                    float(table["load_after"].max())]}
    for (half, variant), part in table.groupby(["half", "variant"]):
        out[f"{half}/{variant}"] = metrics(part)
    return out


def misses(table: pd.DataFrame, threads: int, targets: dict[str, float] | None = None,
           variant: str = "fused") -> list[str]:
    """The report-half targets (issue 11's by default) that `table` misses (empty when all are met)."""
    got = metrics(table[(table["half"] == "report") & (table["variant"] == variant)])
    out = []
    targets = TARGETS[threads] if targets is None else targets
    for name, bound in targets.items():
        higher_is_better = name in ("within_10", "kendall_tau")
        if (got[name] < bound) if higher_is_better else (got[name] > bound):
            out.append(f"{name} {got[name]:.3g} vs target {bound}")
    if "kendall_tau" in targets and got["kendall_tau"] <= got["flops_kendall_tau"]:
        out.append(f"kendall_tau {got['kendall_tau']:.3f} not above FLOPs' {got['flops_kendall_tau']:.3f}")
    return out


def class_shares(ops: pd.DataFrame, profile: DeviceProfile) -> pd.DataFrame:
    """Predicted ms of each (network, variant) per kernel class: where a network's time goes, by class."""
    cls = np.array(KERNEL_CLASSES)[Features(ops).cls]
    ms = op_milliseconds(ops, profile.latency_model) * ops["count"].to_numpy()
    frame = pd.DataFrame({"network": ops["network"], "variant": ops["variant"], "class": cls, "ms": ms})
    return frame.pivot_table(index=["network", "variant"], columns="class", values="ms", aggfunc="sum", fill_value=0.0)


def tune_on_development(data: Stored, profile: DeviceProfile, threads: int) -> tuple[DeviceProfile, pd.Series]:
    """The profile with per-class time multipliers fitted to the development half's networks (both variants)
    at `threads` (costmodel.latency.fitting.class_scales); the report half is never looked at."""
    table = predictions(data, profile, threads)
    dev = table[table["half"] == "development"]
    shares = class_shares(data.ops, profile).reindex(pd.MultiIndex.from_frame(dev[["network", "variant"]]))
    scales = class_scales(shares, dev["measured_ms"].to_numpy())
    tuned = profile.model_copy(update={"latency_model": scaled(profile.latency_model, scales)})
    return tuned, scales


def markdown(table: pd.DataFrame, profile: DeviceProfile) -> str:
    s = summary(table, profile)
    lines = [
        f"Latency validation on {s['machine']}, torch {s['torch']}, {s['threads']} thread(s), batch 1, {s['date']} "
        f"(1-minute load average up to {s['load_average_1min'][0]} before and {s['load_average_1min'][1]} after "
        f"timing, on a machine shared with other jobs; one thread is timed in thread CPU time, more in wall time). "
        f"Profile: {profile.name}. FLOPs are multiply-adds; "
        "times in ms per image; 'fused' = BatchNorm folded (deployment), 'eval' = model.eval() with BatchNorm.",
        "",
        "| half | variant | networks | median abs. error | max abs. error | within +-10% | Kendall tau "
        "| FLOPs-only median error | FLOPs-only tau |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, m in s.items():
        if isinstance(m, dict):
            half, variant = key.split("/")
            lines.append(f"| {half} | {variant} | {m['networks']} | {m['median_ape']:.1f}% | {m['max_ape']:.1f}% | "
                         f"{100 * m['within_10']:.0f}% | {m['kendall_tau']:.3f} | {m['flops_median_ape']:.1f}% | "
                         f"{m['flops_kendall_tau']:.3f} |")
    lines += ["",
              "| half | family | network | variant | MFLOPs | predicted ms | measured ms | error | FLOPs-only error |",
              "|---|---|---|---|---:|---:|---:|---:|---:|"]
    ordered = table.sort_values(["half", "family", "network", "variant"])
    lines += [f"| {r.half} | {r.family} | {r.network} | {r.variant} | {r.MFLOPs:.0f} | {r.predicted_ms:.2f} | "
              f"{r.measured_ms:.2f} | {r.error_pct:+.1f}% | {r.flops_baseline_error_pct:+.1f}% |"
              for r in ordered.itertuples()]
    return "\n".join(lines) + "\n"

