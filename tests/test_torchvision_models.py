"""torchvision's classification models by name, against torchvision's own published metadata: every model
complete, FLOPs (multiply-adds) within 2% of `weights.meta["_ops"]` (GFLOPs) of its default weights at their crop
size, parameters equal to `meta["num_params"]`. Auxiliary classifiers run in training only: their parameters are
counted but never read (summary["params_unread"]). Inception V3's published count includes its AuxLogits;
GoogLeNet's excludes aux1/aux2 (its weights' builder deletes them), so there the parameters read must match.

The default run covers one model of each family (about a minute); COSTMODEL_TORCHVISION_ALL=1 runs all 80
(about four minutes on 2 cores; benchmarks/analysis_speed.py times the same sweep).
"""
import os

import pytest
import torchvision

from costmodel.engine.analysis import analyze
from costmodel.sources.names import load_model

FAMILY_SAMPLE = [
    "alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet", "inception_v3",
    "maxvit_t", "mnasnet0_5", "mobilenet_v3_small", "regnet_y_400mf", "resnext50_32x4d", "shufflenet_v2_x0_5",
    "squeezenet1_1", "swin_t", "vgg11_bn", "vit_b_32", "wide_resnet50_2",
]
ALL = sorted(torchvision.models.list_models(module=torchvision.models))
NAMES = ALL if os.environ.get("COSTMODEL_TORCHVISION_ALL") == "1" else FAMILY_SAMPLE


def test_there_are_80_classification_models_and_the_sample_is_among_them():
    assert len(ALL) == 80 and set(FAMILY_SAMPLE) <= set(ALL)


@pytest.mark.parametrize("name", NAMES)
def test_matches_torchvision_published_flops_and_params(name):
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    model, shape, _ = load_model(f"torchvision:{name}")
    summary = analyze(model, shape).summary
    assert summary["status"] == "complete", summary["unknown_ops"]
    assert summary["flops"] / 1e9 == pytest.approx(meta["_ops"], rel=0.02)
    read = summary["params"] - summary["params_unread"]
    if name == "googlenet":  # its published count is the weights' model, whose builder deletes aux1/aux2
        assert read == meta["num_params"] < summary["params"]
    else:
        assert summary["params"] == meta["num_params"]
    aux = getattr(model, "AuxLogits", None)  # Inception V3's auxiliary classifier runs in training only
    if aux is not None:
        assert summary["params_unread"] == sum(p.numel() for p in aux.parameters())
