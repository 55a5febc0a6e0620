"""How far to trust a prediction: how well the profile's latency held on whole networks it was never fitted or
tuned on, read from the stored validation results (data/validation/, written by benchmarks/validate_gpu.py and
benchmarks/validate_latency.py; docs/readme/gpu.md and docs/readme/latency-cpu.md say how the sets were chosen).

A result applies to the profile it was computed with: each stored result names its profile and that profile's
fit error, so a refitted profile, or another file of the same name, is not vouched for by an older result.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from costmodel.latency.profiles import DeviceProfile

VALIDATION_DIR = Path(__file__).resolve().parents[2] / "data" / "validation"
# The sets quoted: the networks no choice was made on. On the GPU, the families no model change was judged on
# (HELD_OUT of costmodel.studies.gpu_validation); on the CPU, the report half (the development half tuned the
# class scales).
GPU_SET, CPU_SET = "held-out", "report"
GPU_WORDS = "networks of families no model change was judged on"
CPU_WORDS = "networks of families the profile was not tuned on"


@dataclass(frozen=True)
class Accuracy:
    """Whole-network error of one profile at one batch (and GPU mode): |predicted / measured - 1| in %."""

    profile: str
    batch: int
    mode: str | None  # eager or graph on a GPU; None on a CPU (one resource)
    bn_folded: bool | None  # the CPU validation times both variants; None: the GPU's networks as deployed
    networks: int
    median_pct: float
    max_pct: float
    kendall_tau: float
    networks_are: str
    source: str  # the stored result, relative to the repository

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def sentence(self) -> str:
        mode = f", {self.mode}" if self.mode else ""
        return (f"median |error| {self.median_pct:.1f}%, worst {self.max_pct:.0f}%, Kendall tau "
                f"{self.kendall_tau:.2f} on {self.networks} {self.networks_are} (batch {self.batch}{mode}; "
                f"{self.source})")


def _matches(stored: dict, profile: DeviceProfile) -> bool:
    """Whether a stored result was computed with this very profile (same name, same fit)."""
    return stored.get("profile") == profile.name and math.isclose(
        stored.get("profile_fit_median_ape", math.nan), profile.fit.median_ape, rel_tol=1e-9)


def _stored() -> tuple[tuple[str, dict], ...]:
    """Every stored result: its path relative to the repository, and its contents - as the files are now, so a
    validation re-run while the app serves is quoted at once (a stat per file; the files are read once)."""
    paths = sorted(VALIDATION_DIR.glob("*.json"))
    return _read(tuple((path, path.stat().st_mtime_ns, path.stat().st_size) for path in paths))


@functools.lru_cache(maxsize=4)
def _read(files: tuple[tuple[Path, int, int], ...]) -> tuple[tuple[str, dict], ...]:
    return tuple((f"data/validation/{path.name}", json.loads(path.read_text(encoding="utf-8"))) for path, _, _ in files)


def _gpu(stored: dict, path: str, profile: DeviceProfile, batch: int, mode: str) -> list[Accuracy]:
    return [Accuracy(profile.name, batch, mode, None, score["networks"], score["median_pct"], score["max_pct"],
                     score["tau"], GPU_WORDS, path)
            for score in stored["scores"] if (score["half"], score["batch"], score["mode"]) == (GPU_SET, batch, mode)]


def _cpu(stored: dict, path: str, profile: DeviceProfile) -> list[Accuracy]:
    return [Accuracy(profile.name, stored["batch"], None, key == f"{CPU_SET}/fused", score["networks"],
                     score["median_ape"], score["max_ape"], score["kendall_tau"], CPU_WORDS, path)
            for key, score in stored.items() if key in (f"{CPU_SET}/fused", f"{CPU_SET}/eval")]


def validations(profile: DeviceProfile, mode: str) -> list[Accuracy]:
    """Every stored whole-network result of `profile` (in `mode` on a GPU), at any batch. A GPU result lists
    the profile of each batch (`profiles`), a CPU result names its one profile."""
    found = []
    for path, stored in _stored():
        for entry in stored.get("profiles", []):
            if _matches(entry, profile):
                found += _gpu(stored, path, profile, entry["batch"], mode)
        if _matches(stored, profile):
            found += _cpu(stored, path, profile)
    return found


def accuracy(profile: DeviceProfile, batch: int, mode: str, bn_folded: bool) -> Accuracy | None:
    """The stored result that applies to a prediction on `profile` at `batch` (in `mode`, with or without BN
    folded), or None."""
    return next((a for a in validations(profile, mode)
                 if a.batch == batch and a.bn_folded in (None, bn_folded)), None)


def as_json(profile: DeviceProfile, batch: int, mode: str, bn_folded: bool) -> dict[str, object] | None:
    """The `validation` field of the CLI's JSON: the applicable result as a dict, or None (null)."""
    found = accuracy(profile, batch, mode, bn_folded)
    return found.to_dict() if found else None


def trust(profile: DeviceProfile, batch: int, mode: str, bn_folded: bool) -> str:
    """How far to trust a prediction on `profile`, in one clause: its whole-network error where one was
    measured, else why there is none."""
    if found := accuracy(profile, batch, mode, bn_folded):
        return found.sentence()
    elsewhere = sorted({a.batch for a in validations(profile, mode)})
    if elsewhere:
        return (f"validated on whole networks at batch {', '.join(map(str, elsewhere))} only; batch {batch} is "
                "an extrapolation")
    return (f"no whole network was timed against this profile (its fit error on its own {profile.fit.samples} "
            f"measurements: {profile.fit.median_ape:.1f}% median)")
