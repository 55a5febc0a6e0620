"""A sample of timm models across families, by name: every op known (status complete), every parameter owned
by an op that reads it (params_unread == 0, so the total equals sum(p.numel())), and conv/linear/matmul/einsum
multiply-adds equal to fvcore's where fvcore can count (fvcore runs the model on real CPU tensors: a few
small ones). About four minutes on 2 shared cores; the slowest timm models are left to benchmarks."""
import pytest
import timm

from costmodel.engine.analysis import analyze
from costmodel.engine.crosscheck import fvcore_dense_totals
from costmodel.sources.names import load_model

SAMPLE = {
    "mobile CNN": [
        "mobilenetv2_100", "mobilenetv3_large_100", "mobilenetv3_small_100", "mobilenetv4_conv_small",
        "mobilenetv4_conv_medium", "efficientnet_b0", "efficientnet_lite0", "mnasnet_100", "fbnetc_100",
        "ghostnet_100", "ghostnetv2_100", "lcnet_050", "hardcorenas_a", "tinynet_a", "mixnet_s", "rexnet_100",
        "semnasnet_100", "spnasnet_100", "repghostnet_050", "repvgg_a0", "hgnetv2_b0", "starnet_s1",
    ],
    "classic CNN": [
        "regnetx_002", "regnety_002", "resnet18", "resnet50", "resnext26ts", "seresnext26d_32x4d", "nf_resnet26",
        "dla34", "densenet121", "vgg11", "inception_v3", "cspresnet50", "dpn68", "hrnet_w18_small", "selecsls42b",
        "ese_vovnet19b_dw", "res2net50_14w_8s", "resnest14d", "skresnet18", "gernet_s", "convnext_atto",
        "convnextv2_atto", "inception_next_atto", "mambaout_femto",
    ],
    "hybrid": [
        "mobilenetv4_hybrid_medium", "fastvit_t8", "efficientformer_l1", "efficientformerv2_s0", "levit_128s",
        "mobilevit_xxs", "edgenext_xx_small", "efficientvit_b0", "tiny_vit_5m_224", "botnet26t_256",
        "halonet26t", "lambda_resnet26t", "coatnet_nano_rw_224", "maxvit_nano_rw_256", "visformer_tiny",
    ],
    "transformer": [
        "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "swin_tiny_patch4_window7_224",
        "swinv2_cr_tiny_ns_224", "pvt_v2_b0", "cait_xxs24_224", "xcit_nano_12_p16_224", "eva02_tiny_patch14_224",
        "pit_ti_224", "volo_d1_224",
    ],
    "MLP": ["mixer_s32_224", "resmlp_12_224", "gmlp_ti16_224", "poolformer_s12", "poolformerv2_s12"],
}
NAMES = [name for family in SAMPLE.values() for name in family]

# name, input resolution (fvcore runs the model for real: small inputs)
FVCORE = [("resnet18", 64), ("mobilenetv3_small_100", 64), ("convnext_atto", 64), ("poolformer_s12", 64),
          ("mixer_s32_224", 224), ("levit_128s", 224), ("vit_tiny_patch16_224", 224), ("edgenext_xx_small", 64)]


def test_the_sample_spans_five_families_and_sixty_models():
    assert len(set(NAMES)) == len(NAMES) >= 60 and len(SAMPLE) == 5


@pytest.mark.parametrize("name", NAMES)
def test_every_op_known_and_every_parameter_read(name):
    model, shape, _ = load_model(f"timm:{name}")
    summary = analyze(model, shape).summary
    assert summary["status"] == "complete" and summary["unknown_ops"] == []
    assert summary["params_unread"] == 0
    assert summary["params"] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name,resolution", FVCORE, ids=[f[0] for f in FVCORE])
def test_dense_multiply_adds_equal_fvcore(name, resolution):
    """EdgeNeXt's Fourier position encoding convolves a sin/cos table that does not depend on the input: fvcore
    charges it on every inference, we fold it away, so it is left out of fvcore's total."""
    model = timm.create_model(name, pretrained=False)
    constant = [n for n, m in model.named_modules() if type(m).__name__ == "PositionalEncodingFourier"]
    ours, theirs = fvcore_dense_totals(model, (1, 3, resolution, resolution), constant_modules=constant)
    assert ours == theirs > 0
