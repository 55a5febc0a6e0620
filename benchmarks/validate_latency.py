"""Validate the CPU latency model on whole networks that nobody tuned it on, split by family.

Run (from the repository root, venv active):
  python benchmarks/validate_latency.py --time --threads 1   # time every network (about 3 minutes, quiet machine)
  python benchmarks/validate_latency.py --time --threads 2
  python benchmarks/validate_latency.py --tune measured.json # refit + development-half class scales -> shipped
  python benchmarks/validate_latency.py --reanalyse          # new op features for the stored timings (no timing)
  python benchmarks/validate_latency.py                      # recompute predictions from the stored data

The split below was written down before any tuning: the model form and the profile grid may be tuned on
the development half only; the report half is the number that counts. Families, not networks, are split, so
no report network has a sibling in the development half.

1. `--time`: every network is built with random weights (no download) and timed with PyTorch on CPU at
   batch 1: once as deployed (BatchNorm folded into its convs by torch.fx `fuse`) and once as users usually
   measure it (`model.eval()`, BatchNorm kept). All cases run interleaved, 5 rounds of 1 warm-up + 4 timed
   calls, lower quartile, with the 1-minute load average recorded. One thread is timed in thread CPU time,
   two in wall time (costmodel.latency.timing.cpu_clock: this machine is shared with other jobs). The raw
   timings go to data/validation/latency_cpu_timings.csv and the ops each network runs (the latency
   model's features) to data/validation/latency_cpu_ops.csv.gz, so predictions can be recomputed later
   without timing (the test suite does).
2. `--tune`: the measured profile is refitted and each kernel class's time scaled by one multiplier fitted
   to the development half's networks (costmodel.latency.fitting.class_scales): whatever micro-benchmarks
   and networks still share unequally (0.77-1.05 on the shipped profiles); the report half is never used.
3. Predictions come from the stored profile (data/profiles/amd_epyc_1t.json, amd_epyc_2t.json) and from a
   FLOPs-only baseline (costmodel.studies.latency_validation); the tables go to data/validation/latency_cpu_*.md
   and .json.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import warnings
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.fx.experimental.optimization import fuse
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import analyze, zoo  # noqa: E402
from costmodel.latency.model import op_samples, samples_frame  # noqa: E402
from costmodel.latency.profiler import machine_name, refit  # noqa: E402
from costmodel.latency.profiles import PROFILE_DIR, load_profile, save_profile  # noqa: E402
from costmodel.latency.timing import cpu_clock, steady_allocator, time_modules, torch_threads  # noqa: E402
from costmodel.studies import latency_validation as lv  # noqa: E402

# (family, source, name, input resolution). Sources: tv = torchvision.models.get_model(name, weights=None),
# timm = timm.create_model(name, pretrained=False), zoo = costmodel's zoo ('arch' or 'arch:key=value,...').
DEVELOPMENT = [
    ("ResNet", "tv", "resnet18", 224), ("ResNet", "tv", "resnet34", 224), ("ResNet", "tv", "resnet50", 224),
    ("ResNet", "tv", "resnet101", 224),
    ("VGG", "tv", "vgg11", 224), ("VGG", "tv", "vgg13", 224),
    ("RegNet", "tv", "regnet_x_400mf", 224), ("RegNet", "tv", "regnet_y_400mf", 224),
    ("RegNet", "tv", "regnet_x_800mf", 224), ("RegNet", "tv", "regnet_y_800mf", 224),
    ("RegNet", "tv", "regnet_x_1_6gf", 224),
    ("SqueezeNet", "tv", "squeezenet1_0", 224), ("SqueezeNet", "tv", "squeezenet1_1", 224),
    ("GoogLeNet", "tv", "googlenet", 224),
    ("MobileNet V2/V3", "tv", "mobilenet_v2", 224), ("MobileNet V2/V3", "tv", "mobilenet_v3_large", 224),
    ("MobileNet V2/V3", "tv", "mobilenet_v3_small", 224),
    ("EfficientNet", "tv", "efficientnet_b0", 224), ("EfficientNet", "tv", "efficientnet_b1", 240),
    ("ShuffleNet V2", "tv", "shufflenet_v2_x0_5", 224), ("ShuffleNet V2", "tv", "shufflenet_v2_x1_0", 224),
    ("ShuffleNet V2", "tv", "shufflenet_v2_x1_5", 224), ("ShuffleNet V2", "tv", "shufflenet_v2_x2_0", 224),
]
REPORT = [
    ("ResNeXt / Wide ResNet", "tv", "resnext50_32x4d", 224), ("ResNeXt / Wide ResNet", "tv", "wide_resnet50_2", 224),
    ("DenseNet", "tv", "densenet121", 224), ("DenseNet", "tv", "densenet169", 224),
    ("MnasNet", "tv", "mnasnet0_5", 224), ("MnasNet", "tv", "mnasnet0_75", 224), ("MnasNet", "tv", "mnasnet1_0", 224),
    ("MnasNet", "tv", "mnasnet1_3", 224),
    ("ConvNeXt", "tv", "convnext_tiny", 224),
    ("Inception", "tv", "inception_v3", 299),
    ("EfficientNetV2", "tv", "efficientnet_v2_s", 224),
    ("AlexNet", "tv", "alexnet", 224),
    ("GhostNet", "timm", "ghostnet_100", 224),
    ("RepVGG", "timm", "repvgg_a0", 224), ("RepVGG", "timm", "repvgg_a1", 224),
    ("MixNet", "timm", "mixnet_s", 224), ("DLA", "timm", "dla34", 224),
    ("ShuffleNet V1", "zoo", "shufflenet_v1:groups=1", 224), ("ShuffleNet V1", "zoo", "shufflenet_v1:groups=3", 224),
    ("ShuffleNet V1", "zoo", "shufflenet_v1:groups=8", 224),
    ("MobileNet V1", "zoo", "mobilenet_v1:width=0.5", 224), ("MobileNet V1", "zoo", "mobilenet_v1:width=1.0", 224),
]
OUT_DIR = Path(__file__).resolve().parents[1] / "data" / "validation"
PROFILES = {1: "amd_epyc_1t", 2: "amd_epyc_2t"}


def build(source: str, name: str, resolution: int) -> tuple[nn.Module, tuple[int, ...]]:
    """A network with random weights (no download) in eval mode, and its batch-1 input shape."""
    shape = (1, 3, resolution, resolution)
    if source == "tv":
        import torchvision
        return torchvision.models.get_model(name, weights=None).eval(), shape
    if source == "timm":
        import timm
        return timm.create_model(name, pretrained=False).eval(), shape
    arch, _, text = name.partition(":")
    params = dict(pair.split("=") for pair in text.split(",") if pair)
    model, _ = zoo.build(arch, **params)
    return model.eval(), shape


def networks(only: list[str] | None = None) -> list[tuple[str, str, str, str, int]]:
    """(half, family, source, name, resolution) of every validation network, or of the named ones."""
    rows = [("development", *n) for n in DEVELOPMENT] + [("report", *n) for n in REPORT]
    return [r for r in rows if not only or r[3] in only]


def _cases(chosen: list[tuple[str, str, str, str, int]]) -> tuple[list, list[dict], pd.DataFrame]:
    """Each network as deployed (BN folded) and as measured (eval, BN kept): modules, rows, op features."""
    cases, rows, ops = [], [], []
    for half, family, source, name, resolution in tqdm(chosen, desc="building and analysing networks", unit="net"):
        torch.manual_seed(0)
        model, shape = build(source, name, resolution)
        for variant, module, fold in (("fused", fuse(model), True), ("eval", model, False)):
            samples = samples_frame(op_samples(analyze(module, shape, fold_bn=fold).ops))
            ops.append(samples.assign(network=name, variant=variant))
            cases.append((module, torch.randn(shape)))
            rows.append({"network": name, "family": family, "half": half, "source": source,
                         "resolution": resolution, "variant": variant})
    return cases, rows, pd.concat(ops, ignore_index=True)


def time_networks(threads: int, only: list[str] | None = None, out_dir: Path = OUT_DIR) -> pd.DataFrame:
    """Time every network (both variants) at `threads`, merge into the stored timings and ops, return them."""
    steady_allocator()
    cases, rows, ops = _cases(networks(only))
    with torch_threads(threads):
        load_before = os.getloadavg()[0]
        measured = time_modules(cases, rounds=5, samples=4, warmup=1, progress=f"timing networks, {threads} thread(s)",
                                clock=cpu_clock(threads))
        load_after = os.getloadavg()[0]
    timings = pd.DataFrame(rows).assign(
        threads=threads, measured_ms=measured, load_before=round(load_before, 2), load_after=round(load_after, 2),
        torch=torch.__version__, machine=f"{machine_name(torch.device('cpu'))}, {os.cpu_count()} cores",
        date=datetime.date.today().isoformat())
    lv.store(timings, ops, out_dir)
    return timings


def reanalyse(only: list[str] | None = None, out_dir: Path = OUT_DIR) -> None:
    """Re-derive the stored networks' op features with the current engine, keeping their timings: after the
    latency model gains a feature, the networks need not be timed again."""
    _, _, ops = _cases(networks(only))
    lv.store(lv.load(out_dir).timings, ops, out_dir)


def tune(measured: Path, threads: int, data_dir: Path) -> None:
    """Refit a measured profile's micro-benchmarks, then fit one time multiplier per kernel class on the
    development half's networks (never the report half) and save it as the shipped profile."""
    base = refit(load_profile(measured))
    tuned, scales = lv.tune_on_development(lv.load(data_dir), base, threads)
    note = ("; then one time multiplier per kernel class fitted on the development half of "
            "benchmarks/validate_latency.py (" + ", ".join(f"{c} {s:.2f}" for c, s in scales.items()) + ")")
    source = tuned.source.model_copy(update={"description": tuned.source.description + note})
    save_profile(tuned.model_copy(update={"name": PROFILES[threads], "source": source}),
                 PROFILE_DIR / f"{PROFILES[threads]}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", action="store_true", help="time the networks (else only recompute predictions)")
    parser.add_argument("--threads", type=int, default=1, choices=sorted(PROFILES), help="torch threads (default 1)")
    parser.add_argument("--only", nargs="*", help="time only these networks (default: all)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the tables are stored")
    parser.add_argument("--profile", help="profile name or path (default: the shipped one for --threads)")
    parser.add_argument("--reanalyse", action="store_true",
                        help="re-derive the stored networks' op features with the current engine (no timing)")
    parser.add_argument("--tune", metavar="MEASURED_PROFILE", type=Path,
                        help="refit this freshly measured profile and scale its classes on the development half; "
                             "saved as the shipped profile for --threads")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.time:
        time_networks(args.threads, args.only, args.out_dir)
    elif args.reanalyse:
        reanalyse(args.only, args.out_dir)
    if args.tune:
        tune(args.tune, args.threads, args.out_dir)
    profile = load_profile(args.profile or PROFILES[args.threads])
    table = lv.predictions(lv.load(args.out_dir), profile, args.threads)
    text = lv.markdown(table, profile)
    stem = args.out_dir / f"latency_cpu_{args.threads}t"
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4g")
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    stem.with_suffix(".json").write_text(pd.Series(lv.summary(table, profile)).to_json(indent=2) + "\n",
                                         encoding="utf-8")
    print(text)
    print(f"saved {stem}.md/.csv/.json")


if __name__ == "__main__":
    main()
