"""Device profiles: the JSON schema (pydantic), and loading, saving and listing `data/profiles/*.json`.

A profile is only as honest as its fit, so it carries everything needed to judge and redo the fit: where the
numbers come from, the raw measurements (each with the features of the ops it timed), the fitted latency
model parameters, and the fit error on its own data. A malformed or incomplete file is rejected with one
line naming the field.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from costmodel.errors import CostModelError
from costmodel.latency.kernels import KERNEL_CLASSES
from costmodel.engine.kinds import OpKind

PROFILE_DIR = Path(__file__).resolve().parents[2] / "data" / "profiles"
SCHEMA_VERSION = 4
MAX_BATCH = 1024  # a profile's batch is where every page predicts: the range every command takes (sources.names)
# Kernel classes each schema version added, and the class a profile of an older version lends them: version 1
# ran unfused norms with the elementwise kernels and ELU/tanh with the other transcendental activations,
# version 2 ran BatchNorm with the other norms, version 3 pointwise group convs with the other group convs.
ADDED_CLASSES = {2: {"norm": "elementwise", "slow_activation": "activation"}, 3: {"batch_norm": "norm"},
                 4: {"group_conv1x1": "group_conv"}}
# Measurement fields each schema version dropped (version 1's `group` named speed orders the fit once kept).
DROPPED_FIELDS: dict[int, tuple[str, ...]] = {2: ("group",), 3: (), 4: ()}
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


MAX_PROFILE_BYTES = 8 * 2**20  # a profile file or upload; the shipped ones are under 0.5 MB
MAX_ITEMS = 20_000  # entries in any list or mapping (the shipped profiles have about 1000 measurements)
MAX_TEXT = 10_000  # characters in any string
MAX_INT = 2**63 - 1  # every integer fits in 64 bits


def _check_bounds(name: str, value: object) -> None:
    """One field's raw value against the caps above (ValueError naming the field: pydantic adds where)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        digits = len(str(abs(value))) if abs(value) < 10**4000 else "thousands of"
        raise ValueError(f"'{name}' is an integer of {digits} digits; integers must fit in 64 bits")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueError(f"'{name}' has {len(value)} characters, more than {MAX_TEXT}")
    if isinstance(value, (list, dict)):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"'{name}' has {len(value)} entries, more than {MAX_ITEMS}")
        for item in value if isinstance(value, list) else value.values():
            if not isinstance(item, (list, dict)):
                _check_bounds(name, item)


class _Strict(BaseModel):
    """Every profile model: no unknown fields, no inf/nan, bounded integers, strings and lists."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: object) -> object:
        if isinstance(data, dict):
            for name, value in data.items():
                _check_bounds(str(name)[:40], value)
        return data


class KernelParams(_Strict):
    """Latency-model parameters of one kernel class (see costmodel.latency.model for the formula)."""

    overhead_us: float = Field(ge=0, description="fixed cost per kernel: launch / dispatch, microseconds")
    gbytes_per_s: float = Field(gt=0, description="attainable memory bandwidth for MAC bytes, GB/s")
    gmadds_per_s: float | None = Field(default=None, gt=0,
                                       description="attainable multiply-adds per second (billions) at full size")
    half_pixels: float = Field(default=0, ge=0, description="output positions at which efficiency halves")
    half_reduction: float = Field(default=0, ge=0, description="multiply-adds per output at which it halves")
    half_outputs: float = Field(default=0, ge=0, description="output channels per group at which it halves")
    per_group_us: float = Field(default=0, ge=0, description="extra cost per group beyond the first, us")


class LatencyModel(_Strict):
    """Parameters of every kernel class, plus the cache above which memory traffic slows down."""

    kernels: dict[str, KernelParams]
    cache_bytes: float = Field(gt=0, description="an op's MAC bytes beyond this come from slower memory")
    spill: float = Field(ge=0, description="bytes beyond the cache cost (1 + spill) times as much")
    lanes: int = Field(default=1, ge=1, description="vector width in channels: convs pad channels to a multiple")
    unaligned: float = Field(default=1.0, gt=0, le=10, description="compute speed of a conv or linear kernel whose "
                             "channels per group are not multiples of `lanes`, relative to an aligned one (GPU "
                             "libraries run aligned fp32 convs on TF32 tensor cores); 1: no difference")
    parallel_channels: bool = Field(default=False, description="a conv or linear kernel fills the device with its "
                                    "output elements (positions x channels: a GPU spreads both over its "
                                    "multiprocessors), not its output positions alone (a CPU core)")
    fitted: list[str] = Field(default_factory=list, description="kernel classes the measurements constrain")

    @model_validator(mode="after")
    def _every_class(self) -> LatencyModel:
        missing = [c for c in KERNEL_CLASSES if c not in self.kernels]
        unknown = [c for c in self.kernels if c not in KERNEL_CLASSES]
        if missing or unknown:
            raise ValueError(f"kernels must have exactly the classes {', '.join(KERNEL_CLASSES)}; "
                             f"missing {missing or 'none'}, unknown {unknown or 'none'}")
        return self


class OpSample(_Strict):
    """One op of a measured network or micro-benchmark, by its features, `count` times."""

    kind: OpKind
    op: str
    count: int = Field(default=1, ge=1)
    flops: int = Field(ge=0, description="multiply-adds")
    mac_bytes: int = Field(ge=0)
    pixels: int = Field(ge=1)
    reduction: int = Field(ge=1)
    outputs: int = Field(ge=1)
    groups: int = Field(ge=1)
    in_channels: int = Field(ge=1)
    stride: int = Field(default=1, ge=1, description="largest step of the op's window (convs, pooling), else 1")


class Measurement(_Strict):
    """A timed (or published) run of some ops: `ms` per batch, and the fitted model's `predicted_ms`."""

    label: str
    ms: float = Field(gt=0, description="measured or published time per batch, ms")
    predicted_ms: float | None = Field(default=None, gt=0)
    reference: str | None = Field(default=None, description="where a published number comes from")
    host_ms: float | None = Field(default=None, gt=0,
                                  description="host time to issue these ops with the device kept busy, ms (GPUs)")
    ops: list[OpSample] = Field(min_length=1)


class HostModel(_Strict):
    """What the host (Python, dispatch, kernel launch) spends issuing each op of a GPU profile; the device
    runs asynchronously behind it (costmodel.latency.schedule). CPU profiles have none: host = device."""

    kernels: dict[str, float] = Field(description="host issue time per kernel of each class (views included in "
                                                  "the class whose kernel they feed, e.g. a shuffle's reshapes), us")
    gap_us: float = Field(default=0, ge=0, description="idle device time between two kernels in graph mode, us")
    data: str = Field(min_length=1, description="which measurements these numbers were fitted to")

    @model_validator(mode="after")
    def _every_class(self) -> HostModel:
        missing = [c for c in KERNEL_CLASSES if c not in self.kernels]
        negative = [c for c, v in self.kernels.items() if not v >= 0]
        if missing or negative or set(self.kernels) - set(KERNEL_CLASSES):
            raise ValueError(f"host kernels must give every class of {', '.join(KERNEL_CLASSES)} a time >= 0; "
                             f"missing {missing or 'none'}, negative {negative or 'none'}")
        return self


class FitQuality(_Strict):
    samples: int = Field(ge=1)
    median_ape: float = Field(ge=0, description="median absolute percentage error of predicted_ms, %")
    max_ape: float = Field(ge=0, description="largest absolute percentage error, %")


class Source(_Strict):
    method: Literal["measured", "calibrated"]
    description: str = Field(min_length=1, description="how the numbers were obtained, in words")
    machine: str | None = None
    date: str | None = None


class DeviceProfile(_Strict):
    """A device the latency model can predict for (docs/DESIGN.md: Device profiles)."""

    schema_version: Literal[4] = SCHEMA_VERSION
    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    device: str = Field(min_length=1, description="the hardware in words")
    kind: Literal["gpu", "cpu"]
    source: Source
    batch: int = Field(ge=1, le=MAX_BATCH, description="batch size whole networks are predicted at by default")
    threads: int | None = Field(default=None, ge=1)
    dtype: Literal["float32", "float16", "bfloat16", "int8"] = "float32"
    latency_model: LatencyModel
    measurements: list[Measurement] = Field(min_length=1)
    fit: FitQuality
    host: HostModel | None = Field(default=None, description="GPU host issue times; None: host = device (CPUs)")
    device_data: str | None = Field(default=None, description="which measurements latency_model was fitted to")

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: object) -> object:
        """A profile of an older schema version loads with the classes added since borrowing their old ones."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < SCHEMA_VERSION:
            return data
        data = {**data, "schema_version": SCHEMA_VERSION}
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for part in ("latency_model", "host"):
                section = data.get(part)
                kernels = section.get("kernels") if isinstance(section, dict) else None
                if isinstance(kernels, dict):
                    lent = {c: kernels[old] for c, old in ADDED_CLASSES[step].items()
                            if c not in kernels and old in kernels}
                    data[part] = {**section, "kernels": {**kernels, **lent}}
            if isinstance(data.get("measurements"), list):
                data["measurements"] = [{k: v for k, v in m.items() if k not in DROPPED_FIELDS[step]}
                                        if isinstance(m, dict) else m for m in data["measurements"]]
        return data

    @property
    def fit_p90_ape(self) -> float | None:
        """90th percentile of the fit's absolute percentage error on its own measurements (None if they carry no
        predicted_ms): `fit.max_ape` is the one worst micro-benchmark, and a fit leaves a few shapes that a
        library runs on a slow algorithm far off (a GPU fit on purpose: robust loss, docs/readme/gpu.md), so
        the 90th percentile says more about the bulk."""
        errors = [abs(m.predicted_ms / m.ms - 1) * 100 for m in self.measurements if m.predicted_ms is not None]
        return float(np.percentile(errors, 90)) if errors else None

    @property
    def unit(self) -> str:
        """The papers' throughput unit: GPUs in batches/s (at the batch), CPUs and ARM cores in images/s."""
        return "batches/s" if self.kind == "gpu" else "images/s"


def check_name(name: str) -> str:
    """A profile name is a file stem of letters, digits, '_', '.', '-' (it names data/profiles/NAME.json)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise CostModelError(f"'{name}' cannot name a profile", "use letters, digits, '_', '.' and '-' only")
    return name


def _field(error: ValidationError) -> str:
    """The first invalid field and why, on one line: a key or value of the file may hold a line break."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    text = f"field '{where}': {message}" if where else message
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def parse_profile(data: object, origin: str) -> DeviceProfile:
    """Validate already-parsed JSON; `origin` names it in the error (a path, or 'uploaded file')."""
    try:
        return DeviceProfile.model_validate(data)
    except ValidationError as error:
        raise CostModelError(f"profile {origin} is invalid: {_field(error)}",
                             "fix that field or re-create the profile with `python -m costmodel profile`") from None


_FIX = "fix the file or re-create it with `python -m costmodel profile`"


def _check_size(size: int, origin: str) -> None:
    if size > MAX_PROFILE_BYTES:
        raise CostModelError(f"profile {origin} has {size / 2**20:.1f} MiB, more than the "
                             f"{MAX_PROFILE_BYTES // 2**20} MiB a profile may have", _FIX)


def loads_profile(content: bytes | str, origin: str) -> DeviceProfile:
    """A profile from JSON text (a file's or an upload's), size-capped; every problem is one line."""
    _check_size(len(content), origin)
    fix = _FIX
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        raise CostModelError(f"profile {origin} is not JSON (line {error.lineno}: {error.msg})", fix) from None
    except (ValueError, RecursionError) as error:  # undecodable bytes, a 5000-digit number, deep nesting
        detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise CostModelError(f"profile {origin} cannot be read as JSON ({detail})", fix) from None
    return parse_profile(data, origin)


def read_profile(path: Path) -> DeviceProfile:
    try:
        _check_size(path.stat().st_size, str(path))
        content = path.read_bytes()
    except OSError as error:
        raise CostModelError(f"cannot read profile {path}: {error.strerror}", "check the path") from None
    return loads_profile(content, str(path))


def profile_names() -> list[str]:
    """The shipped profiles' names, numbers in them in numeric order (h200_b1, h200_b8, h200_b32): every table,
    chart and picker lists devices in this order."""
    return sorted((p.stem for p in PROFILE_DIR.glob("*.json")), key=_natural)


def _natural(name: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A shipped profile by name ('gtx1080ti') or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return read_profile(path)
    shipped = PROFILE_DIR / f"{name_or_path}.json"
    if not shipped.exists():
        raise CostModelError(f"no device profile named '{name_or_path}'",
                             f"use one of {', '.join(profile_names()) or '(none shipped)'} or a profile.json path")
    return read_profile(shipped)


def list_profiles() -> list[DeviceProfile]:
    """Every shipped profile, by name."""
    return [read_profile(PROFILE_DIR / f"{name}.json") for name in profile_names()]


def save_profile(profile: DeviceProfile, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(profile.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8")
    return target


def regeneration_folder(description: str, argv: list[str] | None = None) -> Path:
    """The folder a script that regenerates the shipped profiles writes to: `--out`, else data/profiles/ (the
    shipped files, overwritten). Gives such a script a --help that says so before it writes anything."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path(PROFILE_DIR),
                        help="folder to write the profiles to (default: %(default)s, overwriting the shipped ones)")
    return parser.parse_args(argv).out
