"""Architecture zoo: parametric, fx-traceable builders of the networks the cost lab studies.

`build(arch, **params)` returns (model in eval mode, input shape); `ARCHS` describes each architecture's
parameters and published FLOPs (multiply-adds) and parameter counts.
"""
from .efficientnet import EfficientNetScaling, efficientnet, efficientnet_scaling, efficientnet_stages
from .guidelines import g1_pointwise, g2_groupconv, g3_fragments, g4_bottleneck, guideline_settings
from .mnasnet import mnasnet_a1
from .mobilenet import mobilenet_v1, mobilenet_v2
from .registry import ARCHS, build, list_archs
from .resnet import resnet50
from .shufflenet_v1 import shufflenet_v1
from .shufflenet_v2 import shufflenet_v2
from .spec import ArchSpec, Param, Published

__all__ = [
    "ARCHS", "ArchSpec", "EfficientNetScaling", "Param", "Published", "build", "efficientnet", "efficientnet_scaling",
    "efficientnet_stages", "g1_pointwise", "g2_groupconv", "g3_fragments", "g4_bottleneck", "guideline_settings",
    "list_archs", "mnasnet_a1", "mobilenet_v1", "mobilenet_v2", "resnet50", "shufflenet_v1", "shufflenet_v2",
]
