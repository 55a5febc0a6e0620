"""Measured device profiles: time micro-benchmarks with torch on this machine and fit the latency model.

The grid covers every kernel class the zoo's networks use, at the sizes they use them: 1x1 convs over
c1:c2 ratios and sizes, dense 3x3 and stem convs, 1x1 group convs over g, depthwise 3x3/5x5 at stride 1
and 2, SE-sized convs, linear layers, elementwise ops (ReLU, ReLU6, add, mul, sigmoid, SiLU, hardswish),
channel split, concat, channel shuffle, pooling and reductions. Shapes are drawn from a fixed seed, so a
profile is reproducible; `quick` draws fewer. Every benchmark is analysed by the engine, so the fit sees
exactly the features a prediction will see.
"""
from __future__ import annotations

import datetime
import math
import platform
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from costmodel.engine.analysis import analyze
from costmodel.errors import CostModelError
from costmodel.latency.fitting import fit
from costmodel.latency.model import op_samples
from costmodel.latency.kernels import COMPUTE_CLASSES, KERNEL_CLASSES
from costmodel.latency.profiles import DeviceProfile, KernelParams, LatencyModel, Measurement, Source, check_name
from costmodel.latency.timing import steady_allocator, time_in_rotation, torch_threads
from costmodel.zoo.layers import channel_shuffle

SEED = 2018  # ShuffleNet V2's year: any fixed value makes the grid reproducible
RESOLUTIONS = (7, 14, 28, 56, 112)
SIZE_RESOLUTIONS = (8, 15, 30, 60, 120)  # EfficientNet B1/B2-like odd sizes next to the powers of two
MAX_MADDS = 4e8  # skip draws far above any zoo layer (keeps the full run short)
TURNS_QUICK, TURNS_FULL = 21, 41  # timed calls per micro-benchmark
MAX_ACTIVATION = 2.5e6  # elements; the zoo's largest at batch 1 is EfficientNet-B2's 96 x 130 x 130 = 1.6M


@dataclass(frozen=True)
class Bench:
    """One micro-benchmark: a module with one input of `shape` (batch first)."""

    label: str
    make: Callable[[], nn.Module]
    shape: tuple[int, ...]


class _Halves(nn.Module):
    """Split the channels in two and combine the halves: how add, mul and concat get two distinct inputs."""

    def __init__(self, combine: Callable[[Tensor, Tensor], Tensor]) -> None:
        super().__init__()
        self.combine = combine

    def forward(self, x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=1)
        return self.combine(a, b)


def _add(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def _mul(a: Tensor, b: Tensor) -> Tensor:
    return a * b


def _concat(a: Tensor, b: Tensor) -> Tensor:
    return torch.cat((b, a), dim=1)


class _Split(nn.Module):
    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return x.split(x.shape[1] // 2, dim=1)


class _Shuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        return channel_shuffle(x, self.groups)


class _Scale(nn.Module):
    """Squeeze-excitation's last step: a (N, C, H, W) tensor times a (N, C, 1, 1) gate."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.pool(x)


class _Mean(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3), keepdim=True)


class _Draw:
    """Shapes drawn log-uniformly from the ranges zoo networks use."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def channels(self, low: int = 8, high: int = 2048, multiple: int = 1) -> int:
        value = round(2 ** self.rng.uniform(math.log2(low), math.log2(high)))
        return max(multiple, value // multiple * multiple)

    def resolution(self) -> int:
        return self.rng.choice(RESOLUTIONS + SIZE_RESOLUTIONS)

    def choice(self, options: tuple) -> object:
        return self.rng.choice(options)


def _conv(c_in: int, c_out: int, k: int = 1, stride: int = 1, groups: int = 1) -> Callable[[], nn.Module]:
    return lambda: nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups)  # bias: BN folded at deployment


def _fits(madds: float, *activations: float) -> bool:
    """Whether a draw is of a size zoo networks have (per image)."""
    return madds <= MAX_MADDS and max(activations) <= MAX_ACTIVATION


def _convs(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    for _ in range(n):  # 1x1 dense, every c1:c2 ratio, SE-sized ones at 1x1 resolution, a few strided
        c1, c2, hw = draw.channels(), draw.channels(), draw.choice(RESOLUTIONS + SIZE_RESOLUTIONS + (1, 1))
        s = draw.choice((1,) * 7 + (2,)) if hw > 1 else 1
        if _fits(c1 * c2 * (hw // s) ** 2, c1 * hw * hw, c2 * hw * hw):
            yield Bench(f"conv1x1/{s} {c1}->{c2} @{hw}", _conv(c1, c2, 1, s), (batch, c1, hw, hw))
    for _ in range(n // 3):  # dense 3x3 as in ResNet bottlenecks, stride 1 and 2
        c1, c2, hw, s = draw.channels(8, 512), draw.channels(8, 512), draw.resolution(), draw.choice((1, 1, 2))
        if _fits(9 * c1 * c2 * (hw // s) ** 2, c1 * hw * hw, c2 * (hw // s) ** 2):
            yield Bench(f"conv3x3/{s} {c1}->{c2} @{hw}", _conv(c1, c2, 3, s), (batch, c1, hw, hw))
    for c_out in (16, 24, 32, 40, 48, 64):  # stems: 3-channel input at full resolution
        k, size = (7, 224) if c_out == 64 else (3, draw.choice((224, 240, 260)))
        yield Bench(f"stem {k}x{k}/2 3->{c_out} @{size}", _conv(3, c_out, k, 2), (batch, 3, size, size))
    for _ in range(n // 3):  # 1x1 group convs (ShuffleNet V1, G2)
        g = draw.choice((2, 3, 4, 8))
        c1, c2, hw = draw.channels(16, 1536, 4 * g), draw.channels(16, 1536, 4 * g), draw.resolution()
        if _fits(c1 * c2 // g * hw * hw, c1 * hw * hw, c2 * hw * hw):
            yield Bench(f"gconv1x1 g{g} {c1}->{c2} @{hw}", _conv(c1, c2, 1, 1, g), (batch, c1, hw, hw))
    for _ in range(n // 2):  # depthwise 3x3 / 5x5, stride 1 and 2
        c, hw, k, s = draw.channels(8, 1536), draw.resolution(), draw.choice((3, 3, 5)), draw.choice((1, 1, 2))
        if _fits(0, c * hw * hw):
            yield Bench(f"dw{k}x{k}/{s} {c} @{hw}", _conv(c, c, k, s, c), (batch, c, hw, hw))
    for _ in range(max(2, n // 12)):
        c1, c2 = draw.channels(256, 2048), draw.choice((1000, 1000, 100, 10))
        yield Bench(f"linear {c1}->{c2}", lambda c1=c1, c2=c2: nn.Linear(c1, c2), (batch, c1))


_ELEMENTWISE: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "silu": nn.SiLU, "hardswish": nn.Hardswish,
    "add": lambda: _Halves(_add), "mul": lambda: _Halves(_mul), "scale": _Scale,
}
_MOVES: dict[str, Callable[..., nn.Module]] = {
    "split": _Split, "concat": lambda: _Halves(_concat), "shuffle2": lambda: _Shuffle(2),
    "shuffle3": lambda: _Shuffle(3), "shuffle4": lambda: _Shuffle(4), "shuffle8": lambda: _Shuffle(8),
    "maxpool3x3/2": lambda: nn.MaxPool2d(3, 2, 1), "avgpool3x3/2": lambda: nn.AvgPool2d(3, 2, 1),
    "global_avgpool": lambda: nn.AdaptiveAvgPool2d(1), "mean": _Mean,
}


def _memory_ops(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    for table in (_ELEMENTWISE, _MOVES):
        for name, make in table.items():
            for _ in range(n):
                c, hw = draw.channels(8, 2048, 24), draw.choice(RESOLUTIONS + SIZE_RESOLUTIONS + (1,))
                if _fits(0, c * hw * hw) and (hw > 1 or name in _ELEMENTWISE):
                    yield Bench(f"{name} {c} @{hw}", make, (batch, c, hw, hw))


def grid(*, quick: bool = False, batch: int = 1, scale: float = 1.0) -> list[Bench]:
    """The micro-benchmarks of a profile run; `scale` < 1 draws fewer (the test suite's tiny grid)."""
    draw = _Draw(SEED)
    n_conv = max(2, round((150 if quick else 300) * scale))
    n_memory = max(1, round((14 if quick else 28) * scale))
    return [*_convs(draw, n_conv, batch), *_memory_ops(draw, n_memory, batch)]


def machine_name(device: torch.device) -> str:
    """The processor's model name ('AMD EPYC') or the GPU's, for the profile's source."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def generic_prior(kind: str) -> LatencyModel:
    """Order-of-magnitude starting values for a CPU core or a GPU; the measurements decide the rest."""
    gpu = kind == "gpu"
    kernels = {}
    for name in KERNEL_CLASSES:
        compute = name in COMPUTE_CLASSES
        kernels[name] = KernelParams(
            overhead_us=8.0 if gpu else 3.0, gbytes_per_s=300.0 if gpu else 20.0,
            gmadds_per_s=(4000.0 if gpu else 50.0) if compute else None,
            half_pixels=1000.0 if gpu and compute else 1.0, half_reduction=8.0 if compute else 0.0,
            half_outputs=8.0 if compute else 0.0, per_group_us=1.0 if name == "group_conv" else 0.0)
    return LatencyModel(kernels=kernels, cache_bytes=4e6, spill=0.5)


def _device(name: str) -> torch.device:
    if name not in ("cpu", "cuda"):
        raise CostModelError(f"unknown device '{name}'", "use --device cpu or --device cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise CostModelError("no CUDA device: torch.cuda.is_available() is False", "profile with --device cpu")
    return torch.device(name)


def measure(benches: list[Bench], device: torch.device, *, turns: int, progress: bool = True) -> list[Measurement]:
    """Time every benchmark in rotation (threads already fixed by the caller) and attach the ops the engine
    sees. In rotation, not back to back: an op in a network finds its weights evicted by the other ops."""
    cases, samples = [], []
    for bench in tqdm(benches, desc="building micro-benchmarks", unit="op", disable=not progress, leave=False):
        module = bench.make().eval()
        samples.append(op_samples(analyze(module, bench.shape).ops))
        cases.append((module.to(device), torch.randn(bench.shape, device=device)))
    times = time_in_rotation(cases, samples=turns, progress="timing micro-benchmarks" if progress else None)
    return [Measurement(label=b.label, ms=ms, ops=ops) for b, ms, ops in zip(benches, times, samples)]


def profile_device(name: str, *, device: str = "cpu", threads: int | None = 1, batch: int = 1,
                   quick: bool = False, scale: float = 1.0, progress: bool = True) -> DeviceProfile:
    """Measure this machine and fit its profile (`threads` None keeps torch's default)."""
    check_name(name)
    where = _device(device)
    kind = "gpu" if where.type == "cuda" else "cpu"
    turns = TURNS_QUICK if quick else TURNS_FULL
    steady_allocator()
    with torch_threads(threads):
        measurements = measure(grid(quick=quick, batch=batch, scale=scale), where, turns=turns, progress=progress)
        used = torch.get_num_threads()
    model, measurements, quality = fit(measurements, generic_prior(kind))
    machine = machine_name(where)
    today = datetime.date.today().isoformat()
    threads_text = f"{used} thread{'s' if used > 1 else ''}"
    how = (f"measured by `python -m costmodel profile{' --quick' if quick else ''}` on {machine} ({device}, "
           f"{threads_text}, batch {batch}, torch {torch.__version__}) on {today}: {len(measurements)} "
           f"micro-benchmarks timed in rotation, lower quartile of {turns} turns")
    return DeviceProfile(
        name=name, device=f"{machine} ({threads_text})" if kind == "cpu" else machine, kind=kind,
        source=Source(method="measured", description=how, machine=machine, date=today), batch=batch,
        threads=used if kind == "cpu" else None, latency_model=model, measurements=measurements, fit=quality)
