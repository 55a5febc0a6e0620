"""H200 profiles from stored measurements: the profiler's run, fitted per batch, with one host model.

Two stored data sets (each folder's README says how every number was taken): the issue's
(data/measurements/h200-2026-11-30/: micro-benchmarks `micro_b{B}.jsonl.gz`, each rebuilt from its record,
and whole networks) and this project's own profiler run on a third H200 (RUN_DIR: `profile_b{B}.json.gz` and
whole networks). The shipped `h200_b1`, `h200_b8`, `h200_b32` take their device model from the profiler
run's grid at that batch alone (it holds the aligned-channel convs the earlier grid lacks; graph-replayed
times agree within 2% between the machines), refitted with the current model form: the grid is measured at
the batch it predicts, so no batch scaling rule has to be assumed for device time. Host issue time is one
model for all three, fitted to every grid of both machines together: issuing an op is the same Python,
dispatch and launch work at any batch, a single micro-benchmark's host time moves by 0.7-1.7x between
grids, and the two machines' hosts differ (~17% on the median benchmark), so every grid is one noisy
measurement of the same costs. No whole network is in any fit (costmodel.studies.gpu_validation).
"""
from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from costmodel.engine.analysis import analyze
from costmodel.errors import CostModelError
from costmodel.latency.model import op_samples
from costmodel.latency.host import fit_host
from costmodel.latency.profiler import fit_gpu_device
from costmodel.latency.profiles import DeviceProfile, HostModel, Measurement, regeneration_folder, \
    save_profile
from costmodel.zoo.layers import channel_shuffle

H200_DIR = Path(__file__).resolve().parents[2] / "data" / "measurements" / "h200-2026-11-30"
RUN_DIR = H200_DIR.with_name("h200-2026-11-30-profiler")  # this project's own profiler and networks, 3rd machine
H200_BATCHES = (1, 8, 32)


def lines(path: Path) -> list[dict]:
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
    for record in tqdm(lines(folder / f"micro_b{batch}.jsonl.gz"), desc=f"analysing batch {batch} micro-benchmarks",
                       unit="op", disable=not progress, leave=False, mininterval=2.0):
        with torch.device("meta"):
            module = rebuild(record)
        out.append(Measurement(label=record["label"], ms=record["graph_ms"], host_ms=record["host_us"] * 1e-3,
                               ops=op_samples(analyze(module, tuple(record["shape"])).ops)))
    return out


def profiler_grid(batch: int) -> DeviceProfile:
    """The profile `python -m costmodel profile --device cuda` wrote on the H200 at `batch` (RUN_DIR): its
    micro-benchmarks with graph-replayed device time and host issue time, and the ops the engine saw."""
    with gzip.open(RUN_DIR / f"profile_b{batch}.json.gz", "rt", encoding="utf-8") as handle:
        return DeviceProfile.model_validate_json(handle.read())


def fit_h200_host(grids: dict[str, list[Measurement]]) -> HostModel:
    """The H200 host model, fitted to the host times of every named grid of micro-benchmarks together."""
    data = (f"{', '.join(grids)}: host issue time with the GPU kept busy (min of 3), every grid in one fit "
            f"(two machines, batches {', '.join(map(str, H200_BATCHES))})")
    host, _ = fit_host([m for grid in grids.values() for m in grid], data)
    return host


def host_grids() -> dict[str, list[Measurement]]:
    """Every stored H200 grid: the issue's (H200_DIR) and this project's profiler run (RUN_DIR), each batch."""
    grids = {f"data/measurements/h200-2026-11-30/micro_b{b}.jsonl.gz": micro_measurements(H200_DIR, b)
             for b in H200_BATCHES}
    grids.update({f"data/measurements/h200-2026-11-30-profiler/profile_b{b}.json.gz":
                  list(profiler_grid(b).measurements) for b in H200_BATCHES})
    return grids


def fit_h200(measured: DeviceProfile, host: HostModel) -> DeviceProfile:
    """The shipped H200 profile at the batch of `measured` (a `profiler_grid`): its device model fitted again
    from the generic GPU prior with the current model form, and the host model of every grid."""
    batch = measured.batch
    model, measurements, quality = fit_gpu_device(list(measured.measurements))
    how = (f"{measured.source.description}; device model refitted with the current model form, host model "
           f"fitted to that run's and data/measurements/h200-2026-11-30/'s grids at every batch (cuDNN 9.19, "
           f"fp32, TF32 convolutions, eager PyTorch). No whole network is in the fit.")
    return DeviceProfile(name=f"h200_b{batch}", device=measured.device, kind="gpu",
                         source=measured.source.model_copy(update={"description": how}), batch=batch,
                         latency_model=model, measurements=measurements, fit=quality, host=host,
                         device_data=f"data/measurements/h200-2026-11-30-profiler/profile_b{batch}.json.gz: "
                                     f"CUDA-graph replay per call (median of 5)")


def main(argv: list[str] | None = None) -> None:
    """Regenerate data/profiles/h200_b*.json from the stored micro-benchmarks."""
    folder = regeneration_folder("Refit the H200 profiles h200_b1/b8/b32 to the stored micro-benchmarks "
                                 "(data/measurements/).", argv)
    host = fit_h200_host(host_grids())
    print("host us per kernel (every grid): " + ", ".join(f"{c} {v:.1f}" for c, v in host.kernels.items()))
    for batch in H200_BATCHES:
        profile = fit_h200(profiler_grid(batch), host)
        path = save_profile(profile, folder / f"{profile.name}.json")
        print(f"{path}: device-time fit median {profile.fit.median_ape:.1f}%, max {profile.fit.max_ape:.1f}%")


if __name__ == "__main__":
    main()
