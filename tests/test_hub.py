"""`torchvision:NAME` / `timm:NAME` model names: built without weights at the model's own input size, unknown
names answered with close matches in one line, parameters passed to the builder."""
import subprocess
import sys

import pytest

from costmodel.errors import CostModelError
from costmodel.sources.hub import list_names
from costmodel.sources.names import load_model


def test_torchvision_name_builds_at_its_weights_crop_size():
    model, shape, label = load_model("torchvision:inception_v3")  # trained at 299 x 299 (Szegedy et al. 2016)
    assert shape == (1, 3, 299, 299) and label == "torchvision:inception_v3"
    assert next(model.parameters()).is_meta  # no memory, no init time


def test_timm_name_builds_at_its_pretrained_cfg_size_with_inline_parameters():
    model, shape, label = load_model("timm:vit_tiny_patch16_384(num_classes=10)", batch=2)
    assert shape == (2, 3, 384, 384) and label == "timm:vit_tiny_patch16_384(num_classes=10)"
    assert model.head.out_features == 10


def test_resolution_and_input_override_the_default_size():
    assert load_model("torchvision:resnet18", resolution=160)[1] == (1, 3, 160, 160)
    assert load_model("timm:resnet18", input_shape=(4, 3, 64, 96))[1] == (4, 3, 64, 96)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(CostModelError, match="unknown timm model 'mobilenetv4_conv_smal'.*mobilenetv4_conv_small"):
        load_model("timm:mobilenetv4_conv_smal")


def test_a_bad_builder_parameter_is_one_line():
    with pytest.raises(CostModelError, match="torchvision:resnet18 could not be built"):
        load_model("torchvision:resnet18", params={"no_such_argument": "1"})


def test_listing_filters_by_substring():
    assert list_names("torchvision", "mobilenet") == ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"]
    assert "mobilenetv4_conv_small" in list_names("timm", "MobileNetV4")


def test_cli_lists_names_and_rejects_unknown_ones_with_exit_2():
    listing = subprocess.run([sys.executable, "-m", "costmodel", "zoo", "--source", "torchvision", "--filter",
                              "shufflenet"], capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0
    assert listing.stdout.split() == [f"torchvision:shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0")]
    bad = subprocess.run([sys.executable, "-m", "costmodel", "analyze", "torchvision:resnet_18"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "resnet18" in bad.stderr


def test_the_same_network_from_two_libraries_costs_the_same():
    """timm's mobilenetv2_100 and torchvision's mobilenet_v2 are one architecture written twice (timm's BN is
    its own BatchNormAct2d with a shape assert on its input): FLOPs, params and MAC must agree, BN folded in both."""
    from costmodel.engine.analysis import analyze

    summaries = [analyze(*load_model(name)[:2]).summary
                 for name in ("torchvision:mobilenet_v2", "timm:mobilenetv2_100")]
    keys = ("flops", "params", "mac_elements")
    assert [s[k] for k in keys for s in summaries[:1]] == [s[k] for k in keys for s in summaries[1:]]
