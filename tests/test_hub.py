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


def test_a_library_model_that_does_not_trace_names_what_its_user_can_change():
    """timm's ViTs fix their input size when built (PatchEmbed asserts it): at another resolution neither tracer
    gets through. The user cannot edit timm's forward(), so the fix named is the builder parameter that sets the
    size, which then traces (and gives the FLOPs of the smaller input)."""
    from costmodel.engine.analysis import analyze

    model, shape, _ = load_model("timm:vit_tiny_patch16_224", resolution=160)
    with pytest.raises(CostModelError, match="could not be traced") as error:
        analyze(model, shape)
    fix = error.value.fix
    assert "forward()" in fix and "remove" not in fix and "timm:vit_tiny_patch16_224" in fix
    assert "img_size=160" in fix and "224x224" in fix
    assert len(str(error.value).splitlines()) == 1
    # the named fix works: 10 patches a side of 16 px, 1 class token
    fixed = analyze(*load_model("timm:vit_tiny_patch16_224(img_size=160)", resolution=160)[:2])
    tokens, dim = (160 // 16) ** 2 + 1, 192
    patch_embed = (160 // 16) ** 2 * dim * 3 * 16 * 16
    per_block = tokens * dim * (3 * dim + dim + 2 * 4 * dim) + 2 * tokens * tokens * dim  # qkv, proj, MLP; QK^T, AV
    assert fixed.summary["flops"] == patch_embed + 12 * per_block + dim * 1000


def test_a_user_model_that_does_not_trace_keeps_the_forward_hint(tmp_path):
    from costmodel.engine.analysis import analyze

    path = tmp_path / "branchy.py"
    path.write_text("import torch\n\n\nclass Branchy(torch.nn.Module):\n"
                    "    def forward(self, x):\n        return x * 2 if x.sum() > 0 else x\n")
    model, shape, _ = load_model(f"{path}:Branchy", input_shape=(1, 3, 8, 8))
    with pytest.raises(CostModelError, match="remove data-dependent Python control flow from forward"):
        analyze(model, shape)


def test_every_torchvision_or_timm_builder_path_carries_the_library_hint():
    from costmodel.engine.trace import USER_CODE_HINT, untraceable_hint
    from costmodel.sources.hub import load_real

    built = load_model("torchvision:resnet18", resolution=96)[0]
    assert untraceable_hint(built) != USER_CODE_HINT
    assert "its own input size 224x224" in untraceable_hint(built)  # since 96 px was asked for
    timed = load_real("torchvision", "resnet18", {})[0]
    assert "torchvision:resnet18" in untraceable_hint(timed) and untraceable_hint(timed) != USER_CODE_HINT
