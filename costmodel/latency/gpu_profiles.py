"""GPU profiles from stored measurements: the H200 data set, fitted per batch, and the networks that check it.

data/measurements/h200-2026-11-30/README.md says how every number was taken. The profiles are fitted on the
micro-benchmarks only (`micro_b{B}.jsonl.gz`: the profiler's grid of that date at batch B, each rebuilt from
its record - the grid itself may have grown since - and timed as a replayed CUDA
graph and as host issue time); the 24 whole networks (`nets.jsonl`, `nets_rerun.jsonl`) are never used in a
fit, only to validate (benchmarks/validate_gpu.py, tests/test_gpu_validation.py). One profile per batch
(`h200_b1`, `h200_b8`, `h200_b32`): the grid is measured at the batch it predicts, so no batch scaling rule
has to be assumed for device time. Host issue time is one model for all three: issuing an op is the same
Python, dispatch and launch work at any batch, and a single micro-benchmark's host time moves by 0.7-1.7x
between the three grids (10th-90th percentile), so the three grids are three noisy measurements of the same
costs and are fitted together. Eager times of whole networks are compared with the mean of the runs, since
eager timings on that host moved by ~11% (max 54%) between two runs while graph-replayed ones moved by 0.2%.
"""
from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau
from torch import Tensor, nn
from tqdm import tqdm

from costmodel import zoo
from costmodel.engine.analysis import analyze
from costmodel.errors import CostModelError
from costmodel.latency.model import op_samples, predict
from costmodel.latency.fitting import fit
from costmodel.latency.host import fit_host
from costmodel.latency.profiler import generic_prior
from costmodel.latency.profiles import PROFILE_DIR, DeviceProfile, HostModel, Measurement, Source, load_profile, \
    save_profile
from costmodel.latency.schedule import Mode
from costmodel.zoo.layers import channel_shuffle

H200_DIR = Path(__file__).resolve().parents[2] / "data" / "measurements" / "h200-2026-11-30"
H200_BATCHES = (1, 8, 32)
# The 24 networks split BY FAMILY (zoo arch), written down (first in benchmarks/validate_gpu.py) before any
# model change of this round was judged (2026-11-30, second session): model changes are judged on the
# development half only; both halves are reported. Each half holds one of the two networks the previous
# round's table showed worst in graph mode (ResNet-50 in development, ShuffleNet V1 g=2 in report), so the
# report half tests whether a change made for one generalises. The all-network numbers of the previous round
# were seen before this split was made.
DEVELOPMENT = ("resnet50", "mobilenet_v1", "mobilenet_v2", "mnasnet_a1", "shufflenet_v2")  # 12 networks
REPORT = ("shufflenet_v1", "efficientnet")  # 12 networks


def _lines(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class _Call(nn.Module):
    """A module whose forward is a plain function of its input: the grid's multi-op benchmarks."""

    def __init__(self, function: Callable[[Tensor], Tensor | tuple[Tensor, ...]]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        return self.function(x)


def _halves(combine: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda x: combine(*x.chunk(2, dim=1))


# The grid's benchmarks that are not a single torch module, by the first word of their label (the functions
# the profiler timed: data/measurements/h200-2026-11-30/README.md).
_COMPOSED: dict[str, Callable[[Tensor], Tensor | tuple[Tensor, ...]]] = {
    "add": _halves(torch.add), "mul": _halves(torch.mul), "concat": _halves(lambda a, b: torch.cat((b, a), dim=1)),
    "split": lambda x: x.split(x.shape[1] // 2, dim=1), "scale": lambda x: x * nn.functional.adaptive_avg_pool2d(x, 1),
    "mean": lambda x: x.mean((2, 3), keepdim=True),
    **{f"shuffle{g}": (lambda x, g=g: channel_shuffle(x, g)) for g in (2, 3, 4, 8)},
}
_MODULES = {cls.__name__: cls for cls in (nn.Conv2d, nn.Linear, nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.SiLU, nn.Hardswish,
                                          nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)}


def rebuild(record: dict) -> nn.Module:
    """The module a micro-benchmark record timed, from its `module` repr (torch modules: constructor and
    literal arguments only, never evaluated code) or, for composed benchmarks, its label."""
    word = record["label"].split()[0]
    if word in _COMPOSED:
        return _Call(_COMPOSED[word])
    call = ast.parse(record["module"], mode="eval").body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in _MODULES):
        raise CostModelError(f"micro-benchmark {record.get('i')} times '{record['module']}', which cannot be rebuilt",
                             f"use one of {', '.join(_MODULES)} or a composed benchmark ({', '.join(_COMPOSED)})")
    args = [ast.literal_eval(a) for a in call.args]
    return _MODULES[call.func.id](*args, **{k.arg: ast.literal_eval(k.value) for k in call.keywords})


def micro_measurements(folder: Path, batch: int, *, progress: bool = True) -> list[Measurement]:
    """The micro-benchmarks of `micro_b{batch}.jsonl.gz` as Measurements: `ms` the graph-replayed device time,
    `host_ms` the host issue time, the ops as the engine sees the module each record timed."""
    out = []
    for record in tqdm(_lines(folder / f"micro_b{batch}.jsonl.gz"), desc=f"analysing batch {batch} micro-benchmarks",
                       unit="op", disable=not progress, leave=False, mininterval=2.0):
        with torch.device("meta"):
            module = rebuild(record)
        out.append(Measurement(label=record["label"], ms=record["graph_ms"], host_ms=record["host_us"] * 1e-3,
                               ops=op_samples(analyze(module, tuple(record["shape"])).ops)))
    return out


def fit_h200_host(grids: dict[int, list[Measurement]]) -> HostModel:
    """The H200 host model, fitted to the host times of every batch's micro-benchmarks together."""
    names = ", ".join(f"micro_b{batch}.jsonl.gz" for batch in grids)
    data = (f"data/measurements/h200-2026-11-30/ {names}: the profiler's grid at every batch, host issue time "
            f"with the GPU kept busy (host_us, min of 3), all batches in one fit")
    host, _ = fit_host([m for grid in grids.values() for m in grid], data)
    return host


def fit_h200(batch: int, measurements: list[Measurement], host: HostModel) -> DeviceProfile:
    """The H200 profile at `batch`: the device model fitted to that batch's micro-benchmarks only
    (`micro_measurements`), with the host model of all batches (`fit_h200_host`)."""
    meta = json.loads((H200_DIR / "meta.json").read_text(encoding="utf-8"))
    model, measurements, quality = fit(measurements, generic_prior("gpu"))
    how = (f"measured on one {meta['device']} on {meta['date']} (torch {meta['torch']}, cuDNN {meta['cudnn']}, fp32, "
           f"TF32 convolutions, eager PyTorch); {len(measurements)} micro-benchmarks at batch {batch}: device time "
           f"replayed as a CUDA graph, host time issued with the GPU kept busy (fitted on every batch's grid). "
           f"No whole network is in the fit.")
    return DeviceProfile(name=f"h200_b{batch}", device=meta["device"], kind="gpu",
                         source=Source(method="measured", description=how, machine=meta["device"], date=meta["date"]),
                         batch=batch, latency_model=model, measurements=measurements, fit=quality, host=host,
                         device_data=f"data/measurements/h200-2026-11-30/micro_b{batch}.jsonl.gz: graph_ms "
                                     f"(CUDA-graph replay, median of 5)")


def network_runs(folder: Path = H200_DIR) -> pd.DataFrame:
    """Every measured network and batch: graph ms, eager (`pipe_ms`) ms as the mean of the runs, and the
    runs' spread (largest |run / mean - 1|, %)."""
    runs = pd.DataFrame(_lines(folder / "nets.jsonl") + _lines(folder / "nets_rerun.jsonl"))
    runs["params"] = runs["params"].map(lambda p: json.dumps(p, sort_keys=True))
    grouped = runs.groupby(["arch", "params", "batch"], sort=False)
    table = grouped.agg(net=("net", "first"), graph_ms=("graph_ms", "mean"), eager_ms=("pipe_ms", "mean"),
                        runs=("pipe_ms", "size")).reset_index()
    spread = grouped["pipe_ms"].agg(lambda x: float((x / x.mean() - 1).abs().max() * 100))
    return table.assign(eager_spread_pct=spread.to_numpy())


def predicted_runs(table: pd.DataFrame, profiles: dict[int, DeviceProfile], *, progress: bool = True
                   ) -> pd.DataFrame:
    """`table` (from `network_runs`) with each network predicted on the profile of its batch, both modes."""
    rows = []
    for row in tqdm(list(table.itertuples(index=False)), desc="predicting networks", unit="net",
                    disable=not progress, leave=False):
        params = json.loads(row.params)
        with torch.device("meta"):
            model, shape = zoo.build(row.arch, batch=row.batch, **params)
        report = analyze(model, shape, arch=row.net)
        eager, graph = (predict(report, profiles[row.batch], mode) for mode in ("eager", "graph"))
        rows.append({"pred_graph_ms": graph.ms, "pred_eager_ms": eager.ms, "bound": eager.bound,
                     "host_ms": eager.host_ms, "flops": report.summary["flops"]})
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def scores(table: pd.DataFrame, mode: Mode) -> dict[str, float]:
    """Median and max absolute % error and Kendall's tau of predicted vs measured for one mode."""
    measured, predicted = table[f"{mode}_ms"], table[f"pred_{mode}_ms"]
    ape = (predicted / measured - 1).abs() * 100
    return {"median_pct": float(ape.median()), "max_pct": float(ape.max()),
            "tau": float(kendalltau(predicted, measured).statistic)}


def shipped_h200() -> dict[int, DeviceProfile]:
    return {batch: load_profile(f"h200_b{batch}") for batch in H200_BATCHES}


def main() -> None:
    """Regenerate data/profiles/h200_b*.json from the stored micro-benchmarks."""
    grids = {batch: micro_measurements(H200_DIR, batch) for batch in H200_BATCHES}
    host = fit_h200_host(grids)
    print("host us per kernel (every batch): " + ", ".join(f"{c} {v:.1f}" for c, v in host.kernels.items()))
    for batch, grid in grids.items():
        profile = fit_h200(batch, grid, host)
        path = save_profile(profile, PROFILE_DIR / f"{profile.name}.json")
        print(f"{path}: device-time fit median {profile.fit.median_ape:.1f}%, max {profile.fit.max_ape:.1f}%")


if __name__ == "__main__":
    main()
