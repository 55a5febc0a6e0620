"""Measured device profiles: time micro-benchmarks with torch on this machine and fit the latency model.

The grid covers every kernel class the op table (costmodel.engine.ops) can produce, at the sizes torchvision
and timm CNNs use, drawn from wide ranges: 1x1 convs over c1:c2 ratios and sizes, dense 3x3/5x5/7x7 convs up
to 2048 channels at 7-224 px, strided and dilated, stems and patchify convs, grouped 3x3 (group widths 4-64)
and 1x1, depthwise 3x3-7x7 at stride 1 and 2, SE-sized convs, linear layers (classifiers with up to 400 MB
of weights, and per token), every activation, add/mul (also broadcasting), BatchNorm/GroupNorm/LayerNorm,
channel split, concat of 2-8 inputs, channel shuffle, padding, upsampling, max/avg pooling at stride 1 and 2,
reductions, attention (q @ k^T, softmax, SDPA), dense convs with channels in multiples of 8 beside
odd-width twins, and grouped convs at network widths (ShuffleNet V1 units at 2-8 groups, RegNet group widths
8-64). Shapes are drawn from fixed seeds, so a profile is reproducible; `quick` draws fewer. Every benchmark
is analysed by the engine, so the fit sees exactly the features a prediction will see.
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
from costmodel.latency.host import fit_host
from costmodel.latency.model import op_samples
from costmodel.latency.kernels import COMPUTE_CLASSES, GROUPED_CLASSES, KERNEL_CLASSES
from costmodel.latency.profiles import DeviceProfile, FitQuality, HostModel, KernelParams, LatencyModel, Measurement, \
    Source, check_name
from costmodel.latency.timing import (ROTATION_BLOCK, Clock, CudaClock, cpu_clock, gpu_times, steady_allocator,
                                      time_in_rotation, torch_threads)
from costmodel.zoo.resnet import STAGES as RESNET_STAGES
from costmodel.zoo.shufflenet_v1 import BOTTLENECK_RATIO, STAGE_WIDTHS
from costmodel.zoo.layers import channel_shuffle

SEED = 2018  # ShuffleNet V2's year: any fixed value makes the grid reproducible
RESOLUTIONS = (7, 14, 28, 56, 112)
SIZE_RESOLUTIONS = (8, 15, 17, 30, 35, 60, 120)  # EfficientNet/Inception-like odd sizes next to the powers of two
MAX_MADDS = 2e9  # per benchmark: VGG's largest 3x3 conv at 224 px has 1.85e9
TURNS_QUICK, TURNS_FULL = 15, 31  # timed calls per micro-benchmark
MAX_ACTIVATION = 4e6  # elements; VGG's 64 x 224 x 224 = 3.2M is the largest at batch 1
TOKENS = (49, 196, 197, 256, 577)  # attention sequence lengths: 7x7 .. 24x24 patches (+ a class token)
# Soft-L1 scale of the GPU device fit (log time): chosen among none, 0.3 and 0.1 by out-of-fold error on the
# H200 micro-benchmarks (benchmarks/crossvalidate_micro.py, docs/readme/gpu.md), no network involved.
GPU_ROBUST_SCALE = 0.1


@dataclass(frozen=True)
class Bench:
    """One micro-benchmark: a module with one input of `shape` (batch first)."""

    label: str
    make: Callable[[], nn.Module]
    shape: tuple[int, ...]


class _Parts(nn.Module):
    """Split the channels into `n` equal parts and combine them: how add, mul, concat and attention get several
    distinct inputs from one."""

    def __init__(self, combine: Callable[..., Tensor], n: int = 2, dim: int = 1) -> None:
        super().__init__()
        self.combine, self.n, self.dim = combine, n, dim

    def forward(self, x: Tensor) -> Tensor:
        return self.combine(*x.chunk(self.n, dim=self.dim))


def _add(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def _mul(a: Tensor, b: Tensor) -> Tensor:
    return a * b


def _concat(*parts: Tensor) -> Tensor:
    return torch.cat(parts[::-1], dim=1)


def _scores(q: Tensor, k: Tensor) -> Tensor:
    return q @ k.transpose(-2, -1)


def _attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return nn.functional.scaled_dot_product_attention(q, k, v)


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
    """Squeeze-excitation's last step: a (N, C, H, W) tensor times a (N, C, 1, 1) gate (a broadcasting mul)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.pool(x)


class _Bias(nn.Module):
    """A broadcasting add of a (1, C, 1, 1) tensor, as layer scale and unfused biases do."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.randn(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bias


class _Mean(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3), keepdim=True)


class _Draw:
    """Shapes drawn log-uniformly from wide ranges (torchvision and timm CNNs, not only the zoo)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def channels(self, low: int = 8, high: int = 2048, multiple: int = 1) -> int:
        value = round(2 ** self.rng.uniform(math.log2(low), math.log2(high)))
        return max(multiple, value // multiple * multiple)

    def resolution(self) -> int:
        return self.rng.choice(RESOLUTIONS + SIZE_RESOLUTIONS)

    def choice(self, options: tuple) -> object:
        return self.rng.choice(options)


def _conv(c_in: int, c_out: int, k: int = 1, stride: int = 1, groups: int = 1,
          dilation: int = 1) -> Callable[[], nn.Module]:
    return lambda: nn.Conv2d(c_in, c_out, k, stride, dilation * (k // 2), dilation, groups)  # bias: BN folded


def _fits(madds: float, *activations: float) -> bool:
    """Whether a draw is of a size CNNs have at batch 1 (per image)."""
    return madds <= MAX_MADDS and max(activations) <= MAX_ACTIVATION


def _conv_bench(name: str, c1: int, c2: int, hw: int, k: int = 1, s: int = 1, g: int = 1, d: int = 1,
                batch: int = 1) -> Iterator[Bench]:
    """A conv benchmark if its size is one CNNs have."""
    out = (hw + s - 1) // s
    if _fits(c1 // g * k * k * c2 * out * out, c1 * hw * hw, c2 * out * out):
        dilated = f" d{d}" if d > 1 else ""
        yield Bench(f"{name}/{s} {c1}->{c2} @{hw}{dilated}", _conv(c1, c2, k, s, g, d), (batch, c1, hw, hw))


def _convs(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    for _ in range(n):  # 1x1 dense, every c1:c2 ratio, SE-sized ones at 1x1 resolution, a few strided
        c1, c2, hw = draw.channels(), draw.channels(), draw.choice(RESOLUTIONS + SIZE_RESOLUTIONS + (1, 1))
        yield from _conv_bench("conv1x1", c1, c2, hw, s=draw.choice((1,) * 7 + (2,)) if hw > 1 else 1, batch=batch)
    for _ in range(n // 2):  # dense 3x3 (ResNet, VGG, RepVGG), 5x5 and 7x7, strided and dilated, up to 2048 wide
        k = draw.choice((3, 3, 3, 3, 5, 7))
        c1, c2 = draw.channels(8, 2048 if k == 3 else 512), draw.channels(8, 2048 if k == 3 else 512)
        hw = draw.choice(RESOLUTIONS + SIZE_RESOLUTIONS + (224,))
        yield from _conv_bench(f"conv{k}x{k}", c1, c2, hw, k, draw.choice((1, 1, 2)), d=draw.choice((1,) * 7 + (2,)),
                               batch=batch)
    for c_out in (16, 24, 32, 40, 48, 64)[:max(1, n // 20)]:  # stems: 3-channel input at full resolution
        k, size = (7, 224) if c_out == 64 else (3, draw.choice((224, 240, 260, 299)))
        yield Bench(f"stem {k}x{k}/2 3->{c_out} @{size}", _conv(3, c_out, k, 2), (batch, 3, size, size))
    for k, c1, c2, hw in ((4, 3, 96, 224), (2, 96, 192, 56), (2, 192, 384, 28), (2, 384, 768, 14))[:max(1, n // 25)]:
        yield Bench(f"patchify {k}x{k}/{k} {c1}->{c2} @{hw}", lambda k=k, c1=c1, c2=c2: nn.Conv2d(c1, c2, k, k),
                    (batch, c1, hw, hw))  # ConvNeXt's stem and downsampling layers
    for _ in range(n // 3):  # grouped 3x3 (ResNeXt, RegNet: group widths 4-64) and 1x1 (ShuffleNet V1, G2)
        width, k = draw.choice((4, 8, 8, 16, 16, 32, 64)), draw.choice((3, 3, 3, 1))
        c = draw.channels(max(2 * width, 32), 2048, width)
        g = c // width if k == 3 else draw.choice((2, 3, 4, 8))
        c1, c2 = (c, c) if k == 3 else (draw.channels(16, 1536, 4 * g), draw.channels(16, 1536, 4 * g))
        yield from _conv_bench(f"gconv{k}x{k} g{g}", c1, c2, draw.resolution(), k, draw.choice((1, 1, 2)) if k > 1
                               else 1, g, batch=batch)
    for _ in range(n // 2):  # depthwise 3x3 .. 7x7 (ConvNeXt), stride 1 and 2
        c, hw, k, s = draw.channels(8, 1536), draw.resolution(), draw.choice((3, 3, 5, 7)), draw.choice((1, 1, 2))
        yield from _conv_bench(f"dw{k}x{k}", c, c, hw, k, s, c, batch=batch)
    for _ in range(max(3, n // 10)):  # classifiers, and token-wise linear layers (MLP blocks)
        c1, c2 = draw.channels(256, 4096), draw.choice((1000, 1000, 4096, 100, 10))
        yield Bench(f"linear {c1}->{c2}", lambda c1=c1, c2=c2: nn.Linear(c1, c2), (batch, c1))
        tokens, d1, d2 = draw.choice(TOKENS), draw.channels(64, 1024, 32), draw.channels(64, 3072, 32)
        yield Bench(f"linear tokens {tokens}x{d1}->{d2}", lambda d1=d1, d2=d2: nn.Linear(d1, d2), (batch, tokens, d1))
    for _ in range(max(1, n // 40)):  # VGG/AlexNet-style classifiers: 16-400 MB of weights, far beyond any cache
        c1, c2 = draw.channels(4096, 25088), draw.choice((1000, 2048, 4096))
        yield Bench(f"linear {c1}->{c2}", lambda c1=c1, c2=c2: nn.Linear(c1, c2), (batch, c1))


def _aligned_convs(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    """Dense 1x1 and 3x3 convs whose channels are multiples of 8 (ResNet, RegNet and MobileNet widths), each
    with an odd-width twin of the same size: GPU libraries run aligned channels on tensor cores (TF32 for
    fp32 convs) and the rest on slower kernels, a difference the randomly drawn widths above almost never
    show. Drawn from their own seed, so the draws above stay as they were."""
    for _ in range(n):
        k, s = draw.choice((1, 1, 3)), draw.choice((1, 1, 1, 2))
        c1, c2, hw = draw.channels(16, 2048, 8), draw.channels(16, 2048, 8), draw.choice((7, 14, 28, 56, 112))
        for twin in (0, 1):
            yield from _conv_bench(f"conv{k}x{k}", c1 + twin, c2 + twin, hw, k, s if k > 1 else 1, batch=batch)


def _grouped_shapes(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    """Grouped convs at the widths networks use: ShuffleNet V1 units (a grouped 1x1 reduction to a quarter of
    the width and back, 2-8 groups, Table 1's stage widths x 0.5-2 at 28, 14 and 7 px) and RegNet-style grouped
    3x3 convs (group widths 8-64, 24 and 48 included). The random draws above hold ~19 grouped 1x1 shapes per
    batch and no group width of 24, too few to pin down by group count which kernel cuDNN runs
    (docs/readme/gpu.md). Drawn from their own seed, so the draws above stay as they were."""
    for _ in range(n):
        g, stage = draw.choice((2, 3, 4, 8)), draw.choice((0, 1, 2))
        width = round(STAGE_WIDTHS[g] * draw.choice((0.5, 1.0, 1.5, 2.0))) << stage
        unit = BOTTLENECK_RATIO * g  # the bottleneck (a 1/BOTTLENECK_RATIO of the width) splits into g groups
        out, hw = max(unit, width // unit * unit), 28 >> stage
        yield from _conv_bench(f"gconv1x1 g{g}", out, out // BOTTLENECK_RATIO, hw, g=g, batch=batch)
        yield from _conv_bench(f"gconv1x1 g{g}", out // BOTTLENECK_RATIO, out, hw, g=g, batch=batch)
        group_width = draw.choice((8, 16, 24, 24, 32, 48, 64))
        c = draw.channels(2 * group_width, 1024, group_width)
        yield from _conv_bench(f"gconv3x3 g{c // group_width}", c, c, draw.choice(RESOLUTIONS), 3,
                               draw.choice((1, 1, 1, 2)), c // group_width, batch=batch)


def _stage_convs(n: int, batch: int) -> Iterator[Bench]:
    """Dense 3x3 convs at ResNet's stage widths (costmodel.zoo.resnet: 64-512 channels at 56-7 px; also x0.5
    and x2, slim and wide ResNets), in ResNet's pair (a 3x3 conv within the stage, and the stage's first one
    striding from twice the resolution) and in VGG's, at twice ResNet's resolution (within the stage, and its
    first one widening from half the width). The random draws above hold ~12 aligned dense 3x3 convs per batch,
    none above 0.4 GMAC at batch 1 where VGG's reach 1.85 GMAC, so networks built of them were predicted by
    extrapolation (docs/readme/gpu.md). `n` stage-width pairs, the plain widths first."""
    pairs = [(mult, index) for mult in (1.0, 0.5, 2.0) for index in range(len(RESNET_STAGES))]
    seen: set[str] = set()  # a slim stage's shapes recur in the next stage at the plain width
    for mult, index in pairs[:n]:
        width, hw = round(RESNET_STAGES[index][1] * mult), 56 >> index
        for c_in, size, stride in ((width, hw, 1), (width, 2 * hw, 2), (width, 2 * hw, 1), (width // 2, 2 * hw, 1)):
            for bench in _conv_bench("conv3x3", c_in, width, size, 3, stride, batch=batch):
                if bench.label not in seen:
                    seen.add(bench.label)
                    yield bench


def _attention_ops(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    """Attention at vision-transformer shapes: scores (q @ k^T), softmax over them, and fused SDPA."""
    for _ in range(n):
        heads, tokens, dim = draw.choice((3, 4, 6, 12)), draw.choice(TOKENS), draw.choice((32, 64))
        yield Bench(f"matmul {heads}x{tokens}x{dim}", lambda: _Parts(_scores, 2, 3), (batch, heads, tokens, 2 * dim))
        yield Bench(f"softmax {heads}x{tokens}x{tokens}", lambda: nn.Softmax(-1), (batch, heads, tokens, tokens))
        yield Bench(f"sdpa {heads}x{tokens}x{dim}", lambda: _Parts(_attention, 3, 1), (batch, 3 * heads, tokens, dim))


_ELEMENTWISE: dict[str, Callable[[int], nn.Module]] = {
    "relu": lambda c: nn.ReLU(), "relu6": lambda c: nn.ReLU6(), "sigmoid": lambda c: nn.Sigmoid(),
    "silu": lambda c: nn.SiLU(), "hardswish": lambda c: nn.Hardswish(), "hardsigmoid": lambda c: nn.Hardsigmoid(),
    "gelu": lambda c: nn.GELU(), "tanh": lambda c: nn.Tanh(), "leaky_relu": lambda c: nn.LeakyReLU(),
    "elu": lambda c: nn.ELU(), "add": lambda c: _Parts(_add), "mul": lambda c: _Parts(_mul),
    "scale": lambda c: _Scale(),
    "bias": _Bias, "batch_norm": lambda c: nn.BatchNorm2d(c), "group_norm": lambda c: nn.GroupNorm(8, c),
    "layer_norm2d": lambda c: nn.GroupNorm(1, c),
}
_MOVES: dict[str, Callable[[int], nn.Module]] = {
    "split": lambda c: _Split(), "shuffle2": lambda c: _Shuffle(2), "shuffle3": lambda c: _Shuffle(3),
    "shuffle4": lambda c: _Shuffle(4), "shuffle8": lambda c: _Shuffle(8),
    **{f"concat{n}": (lambda c, n=n: _Parts(_concat, n)) for n in (2, 3, 4, 6, 8)},
    "maxpool3x3/2": lambda c: nn.MaxPool2d(3, 2, 1), "maxpool3x3/1": lambda c: nn.MaxPool2d(3, 1, 1),
    "maxpool2x2/2": lambda c: nn.MaxPool2d(2, 2), "avgpool3x3/2": lambda c: nn.AvgPool2d(3, 2, 1),
    "avgpool3x3/1": lambda c: nn.AvgPool2d(3, 1, 1), "avgpool2x2/2": lambda c: nn.AvgPool2d(2, 2),
    "global_avgpool": lambda c: nn.AdaptiveAvgPool2d(1), "mean": lambda c: _Mean(),
    "pad": lambda c: nn.ZeroPad2d((0, 1, 0, 1)), "upsample2x": lambda c: nn.Upsample(scale_factor=2),
}


def _memory_ops(draw: _Draw, n: int, batch: int) -> Iterator[Bench]:
    for table in (_ELEMENTWISE, _MOVES):
        for name, make in table.items():
            for _ in range(n):
                c, hw = draw.channels(8, 2048, 48), draw.choice(RESOLUTIONS + SIZE_RESOLUTIONS + (1,))
                if _fits(0, c * hw * hw) and (hw > 1 or name in ("relu", "sigmoid", "hardsigmoid", "silu", "mul")):
                    yield Bench(f"{name} {c} @{hw}", lambda make=make, c=c: make(c), (batch, c, hw, hw))
    for _ in range(n):  # token layouts: (N, tokens, channels)
        tokens, c = draw.choice(TOKENS), draw.channels(64, 1024, 32)
        yield Bench(f"layer_norm {tokens}x{c}", lambda c=c: nn.LayerNorm(c), (batch, tokens, c))
        yield Bench(f"gelu tokens {tokens}x{4 * c}", nn.GELU, (batch, tokens, 4 * c))


def grid(*, quick: bool = False, batch: int = 1, scale: float = 1.0) -> list[Bench]:
    """The micro-benchmarks of a profile run; `scale` < 1 draws fewer (the test suite's tiny grid)."""
    draw = _Draw(SEED)
    n_conv = max(3, round((110 if quick else 240) * scale))
    n_memory = max(1, round((5 if quick else 12) * scale))
    return [*_convs(draw, n_conv, batch), *_attention_ops(draw, max(1, n_memory // 2), batch),
            *_memory_ops(draw, n_memory, batch), *_aligned_convs(_Draw(SEED + 1), max(1, n_conv // 6), batch),
            *_grouped_shapes(_Draw(SEED + 2), max(1, n_conv // 10), batch),
            *_stage_convs(n_conv // 20, batch)]


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
            half_outputs=8.0 if compute else 0.0, per_group_us=1.0 if name in GROUPED_CLASSES else 0.0)
    return LatencyModel(kernels=kernels, cache_bytes=4e6, spill=0.5, parallel_channels=gpu)


def fit_gpu_device(measurements: list[Measurement], robust: float | None = GPU_ROBUST_SCALE
                   ) -> tuple[LatencyModel, list[Measurement], FitQuality]:
    """A GPU's device-time model fitted to graph-replayed micro-benchmarks: aligned channels fitted, robust
    to cuDNN's slow-algorithm outliers (GPU_ROBUST_SCALE; other scales only to compare them)."""
    return fit(measurements, generic_prior("gpu"), aligned=True, robust=robust)


def fit_gpu(measurements: list[Measurement], data: str) -> tuple[LatencyModel, list[Measurement], FitQuality,
                                                                 HostModel]:
    """The two resources of a GPU profile: the device-time model fitted to the measurements' `ms` (device
    time, graph-replayed) and the host model fitted to their `host_ms`; `data` names the measurements."""
    model, fitted, quality = fit_gpu_device(measurements)
    host, _ = fit_host(fitted, data)
    return model, fitted, quality, host


def refit(profile: DeviceProfile) -> DeviceProfile:
    """A measured CPU profile's stored micro-benchmarks fitted again from the generic prior, without timing:
    how a change of the model form reaches a shipped profile."""
    model, measurements, quality = fit(list(profile.measurements), generic_prior(profile.kind))
    return profile.model_copy(update={"latency_model": model, "measurements": measurements, "fit": quality})


def _device(name: str) -> torch.device:
    if name not in ("cpu", "cuda"):
        raise CostModelError(f"unknown device '{name}'", "use --device cpu or --device cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise CostModelError("no CUDA device: torch.cuda.is_available() is False", "profile with --device cpu")
    return torch.device(name)


def measure(benches: list[Bench], device: torch.device, *, turns: int, progress: bool = True) -> list[Measurement]:
    """Time every benchmark in rotation (threads already fixed by the caller; one thread is timed in thread CPU
    time, costmodel.latency.timing.cpu_clock) and attach the ops the engine sees. In rotation, not back to
    back: an op in a network finds its weights evicted by the other ops."""
    cases, samples = [], []
    for bench in tqdm(benches, desc="building micro-benchmarks", unit="op", disable=not progress, leave=False):
        module = bench.make().eval()
        samples.append(op_samples(analyze(module, bench.shape).ops))
        cases.append((module.to(device), torch.randn(bench.shape, device=device)))
    times = time_in_rotation(cases, samples=turns, progress="timing micro-benchmarks" if progress else None,
                             clock=cpu_clock(torch.get_num_threads()))
    return [Measurement(label=b.label, ms=ms, ops=ops) for b, ms, ops in zip(benches, times, samples)]


def measure_gpu(benches: list[Bench], device: torch.device, clock: Clock, *, progress: bool = True
                ) -> list[Measurement]:
    """Each benchmark's device time (CUDA-graph replay) as `ms` and host issue time as `host_ms`, with the ops
    the engine sees (costmodel.latency.timing.gpu_times; `clock` is CudaClock on a GPU)."""
    out = []
    for bench in tqdm(benches, desc="timing micro-benchmarks (sync, graph, host)", unit="op", disable=not progress,
                      leave=False):
        module = bench.make().eval()
        ops = op_samples(analyze(module, bench.shape).ops)
        times = gpu_times(module.to(device), torch.randn(bench.shape, device=device), clock)
        out.append(Measurement(label=bench.label, ms=times.graph_ms, host_ms=times.host_us * 1e-3, ops=ops))
    return out


def profile_device(name: str, *, device: str = "cpu", threads: int | None = 1, batch: int = 1,
                   quick: bool = False, scale: float = 1.0, progress: bool = True,
                   clock: Clock | None = None) -> DeviceProfile:
    """Measure this machine and fit its profile (`threads` None keeps torch's default). On CUDA (or with a
    `clock`, which tests pass to run the GPU path on a CPU) the profile gets both resources: device time
    fitted to CUDA-graph replays and a host model fitted to issue times."""
    check_name(name)
    where = _device(device)
    gpu = where.type == "cuda" or clock is not None
    kind = "gpu" if gpu else "cpu"
    turns = TURNS_QUICK if quick else TURNS_FULL
    benches = grid(quick=quick, batch=batch, scale=scale)
    steady_allocator()
    with torch_threads(threads):
        if gpu:
            measurements = measure_gpu(benches, where, clock or CudaClock(), progress=progress)
        else:
            measurements = measure(benches, where, turns=turns, progress=progress)
        used = torch.get_num_threads()
    machine = machine_name(where)
    today = datetime.date.today().isoformat()
    command = f"`python -m costmodel profile{' --quick' if quick else ''}`"
    host = data = None
    if gpu:
        data = f"{len(measurements)} micro-benchmarks measured by {command} at batch {batch} on {today}"
        model, measurements, quality, host = fit_gpu(measurements, data)
        how = (f"measured by {command} on {machine} ({device}, batch {batch}, torch {torch.__version__}) on {today}: "
               f"{len(measurements)} micro-benchmarks, each replayed as a CUDA graph (device time) and issued with "
               f"the GPU kept busy (host time)")
    else:
        model, measurements, quality = fit(measurements, generic_prior(kind))
        how = (f"measured by {command} on {machine} ({device}, {used} thread{'s' if used > 1 else ''}, batch {batch}, "
               f"torch {torch.__version__}) on {today}: {len(measurements)} micro-benchmarks timed in rotation "
               f"in blocks of {ROTATION_BLOCK} ({'thread CPU time' if used == 1 else 'wall time'}), lower quartile of "
               f"{turns} turns")
    threads_text = f"{used} thread{'s' if used > 1 else ''}"
    return DeviceProfile(
        name=name, device=f"{machine} ({threads_text})" if kind == "cpu" else machine, kind=kind,
        source=Source(method="measured", description=how, machine=machine, date=today), batch=batch,
        threads=used if kind == "cpu" else None, latency_model=model, measurements=measurements, fit=quality,
        host=host, device_data=data and f"{data}: CUDA-graph replay per call")
