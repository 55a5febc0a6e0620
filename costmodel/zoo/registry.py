"""The zoo's registry: every architecture by name, and `build` for the CLI, the app and the engine."""
from __future__ import annotations

from torch import nn

from costmodel.errors import CostModelError

from .efficientnet import SPEC as EFFICIENTNET
from .guidelines import SPECS as GUIDELINES
from .mnasnet import SPEC as MNASNET_A1
from .mobilenet import MOBILENET_V1, MOBILENET_V2
from .resnet import SPEC as RESNET50
from .shufflenet_v1 import SPEC as SHUFFLENET_V1
from .shufflenet_v2 import SPEC as SHUFFLENET_V2
from .spec import ArchSpec

# Keys are in the order the app lists them: the ShuffleNet papers' networks, then the guideline networks.
ARCHS: dict[str, ArchSpec] = {spec.name: spec for spec in (
    SHUFFLENET_V1, SHUFFLENET_V2, MOBILENET_V1, MOBILENET_V2, EFFICIENTNET, MNASNET_A1, RESNET50, *GUIDELINES)}


def list_archs() -> list[ArchSpec]:
    return list(ARCHS.values())


def build(arch: str, *, resolution: int | str | None = None, batch: int | str = 1,
          **params: object) -> tuple[nn.Module, tuple[int, ...]]:
    """Build `arch` in eval mode (on the current default device, e.g. inside `with torch.device("meta")`).

    Returns the model and its input shape (batch, channels, resolution, resolution); the resolution defaults
    to the architecture's own (224, EfficientNet's per variant, 56 for the guideline micro-networks).
    """
    if arch not in ARCHS:
        raise CostModelError(f"unknown architecture {arch!r}", f"use one of {', '.join(ARCHS)}")
    return ARCHS[arch].build(resolution=resolution, batch=batch, **params)
