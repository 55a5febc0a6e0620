"""The CLI contract: JSON fields, readable tables, and one-line errors with exit code 2 for bad input."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from costmodel import analyze
from costmodel.cli import main
from costmodel.latency.model import predict
from costmodel.latency.profiles import load_profile
from costmodel.sources.names import load_model, split_inline

ROOT = Path(__file__).resolve().parents[1]

JSON_FIELDS = {"arch", "input_shape", "flops", "params", "mac_elements", "mac_bytes", "elementwise",
               "data_movement", "fragmentation", "status"}
FRAGMENTATION_FIELDS = {"kernels", "blocks", "kernels_per_block_mean", "kernels_per_block_max", "width_mean",
                        "width_max"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_python_dash_m_costmodel_prints_json_for_a_zoo_model():
    done = subprocess.run(
        [sys.executable, "-m", "costmodel", "analyze", "shufflenet_v2", "-p", "width=1.0", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert JSON_FIELDS <= summary.keys()
    assert FRAGMENTATION_FIELDS <= summary["fragmentation"].keys()
    assert {"ops", "elements", "mac_bytes"} <= summary["elementwise"].keys()
    assert {"ops", "mac_bytes"} <= summary["data_movement"].keys()
    assert summary["input_shape"] == [1, 3, 224, 224] and summary["status"] == "complete"
    assert abs(summary["flops"] / 146e6 - 1) < 0.03  # ShuffleNet V2 Table 5: 146 MFLOPs


def test_table_output_names_units(capsys):
    code, out, _ = run_cli(capsys, "analyze", "mobilenet_v2", "--resolution", "96")
    assert code == 0
    assert "MFLOPs" in out and "multiply-adds" in out and ("MiB" in out or "KiB" in out)


def test_batch_and_resolution_reach_the_input_shape(capsys):
    code, out, _ = run_cli(capsys, "analyze", "resnet50", "--resolution", "64", "--batch", "2", "--json")
    assert code == 0 and json.loads(out)["input_shape"] == [2, 3, 64, 64]


def test_csv_writes_one_row_per_op(capsys, tmp_path):
    target = tmp_path / "ops.csv"
    code, out, _ = run_cli(capsys, "analyze", "g1_pointwise", "-p", "c1=32", "-p", "c2=32", "--csv", str(target))
    assert code == 0
    lines = target.read_text().splitlines()
    assert lines[0].startswith("order,name,op,kind") and len(lines) == 1 + 20  # 10 blocks of two 1x1 convs


def test_split_inline_reads_the_label_form():
    assert split_inline("shufflenet_v1(groups=8, width=0.5)") == ("shufflenet_v1", {"groups": "8", "width": "0.5"})
    assert split_inline(" resnet50() ") == ("resnet50", {})
    assert split_inline("resnet50") == ("resnet50", {})


@pytest.mark.parametrize(("command", "inline", "flags"), [
    ("analyze", "shufflenet_v1(groups=8)", ["shufflenet_v1", "-p", "groups=8"]),
    ("lint", "g2_groupconv(g=8, c=360)", ["g2_groupconv", "-p", "g=8", "-p", "c=360"]),
])
def test_inline_parameters_name_the_same_model_as_dash_p(capsys, command, inline, flags):
    _, by_name, _ = run_cli(capsys, command, inline, "--json")
    _, by_flags, _ = run_cli(capsys, command, *flags, "--json")
    assert json.loads(by_name) == json.loads(by_flags)
    assert json.loads(by_name)["arch"] == inline


def test_zoo_lists_every_architecture(capsys):
    code, out, _ = run_cli(capsys, "zoo", "--json")
    names = {entry["arch"] for entry in json.loads(out)}
    assert code == 0 and {"shufflenet_v1", "shufflenet_v2", "mobilenet_v1", "mobilenet_v2", "efficientnet",
                          "mnasnet_a1", "resnet50", "g1_pointwise", "g2_groupconv", "g3_fragments",
                          "g4_bottleneck"} <= names


def write(tmp_path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


GOOD_MODEL = """
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 1, bias=False)

        def forward(self, x):
            return self.conv(x)

    def make():
        return Tiny()
"""


@pytest.mark.parametrize("name", ["Tiny", "make"])
def test_user_model_file_by_class_or_function(capsys, tmp_path, name):
    path = write(tmp_path, "tiny.py", GOOD_MODEL)
    code, out, _ = run_cli(capsys, "analyze", f"{path}:{name}", "--input", "2,3,10,10", "--json")
    assert code == 0
    assert json.loads(out)["flops"] == 2 * 10 * 10 * 3 * 8


UNTRACEABLE = """
    import torch.nn as nn

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 1)

        def forward(self, x):
            return self.conv(x) if x.mean() > 0 else x
"""


def bad_inputs(tmp_path) -> list[tuple[list[str], str]]:
    good = write(tmp_path, "good.py", GOOD_MODEL)
    return [
        (["analyze", "resnet51"], "unknown architecture"),
        (["analyze", "shufflenet_v2", "-p", "depth=3"], "depth"),
        (["analyze", "shufflenet_v2", "-p", "width"], "key=value"),
        (["analyze", "shufflenet_v1(groups=8"], "arch(key=value, ...)"),
        (["lint", "shufflenet_v1(groups)"], "key=value"),
        (["compare", "shufflenet_v2", "shufflenet_v1(groups=5)"], "groups"),
        (["analyze", "shufflenet_v1", "-p", "groups=5"], "groups"),
        (["analyze", "g2_groupconv", "-p", "g=3", "-p", "c=128"], "groups"),
        (["analyze", "shufflenet_v2", "-p", "width=0"], "width"),
        (["analyze", "mobilenet_v2", "-p", "width=-1"], "width"),
        (["analyze", "mobilenet_v2", "--resolution", "8"], "resolution"),
        (["analyze", "efficientnet", "-p", "phi=99"], "phi"),
        (["analyze", "shufflenet_v2", "--batch", "0"], "batch"),
        (["analyze", str(tmp_path / "missing.py") + ":Net"], "does not exist"),
        (["analyze", f"{good}:Missing"], "has no 'Missing'"),
        (["analyze", f"{good}:Tiny", "--input", "1,3,x"], "input shape"),
        (["analyze", f"{good}:Tiny", "--input", "1,5,8,8"], "could not be traced"),
        (["analyze", write(tmp_path, "branchy.py", UNTRACEABLE) + ":Branchy"], "could not be traced"),
        (["analyze", write(tmp_path, "broken.py", "def broken(:\n")  + ":X"], "syntax error"),
        (["analyze", write(tmp_path, "raises.py", "raise RuntimeError('boom')\n") + ":X"], "RuntimeError: boom"),
    ]


def test_every_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path):
    for argv, expected in bad_inputs(tmp_path):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)
        assert expected in err, (argv, err)
        assert "Traceback" not in err


def test_unknown_arch_lists_the_valid_names(capsys):
    _, _, err = run_cli(capsys, "analyze", "resnet51")
    assert "shufflenet_v2" in err


def test_the_bound_line_appears_only_where_host_and_device_are_two_resources(capsys):
    """A CPU profile runs every op on the thread that issues it (no host/device split to report); a GPU profile
    with a host model says which of the two bounds the run, and its numbers are those of `predict`."""
    assert main(["analyze", "shufflenet_v2", "--device", "amd_epyc_1t"]) == 0
    assert "-bound:" not in capsys.readouterr().out
    assert main(["analyze", "shufflenet_v2", "--device", "h200_b1"]) == 0
    out = capsys.readouterr().out
    model, shape, _ = load_model("shufflenet_v2", batch=1)
    latency = predict(analyze(model, shape), load_profile("h200_b1"))
    assert f"{latency.bound}-bound: host issues kernels in {latency.host_ms:.4g} ms" in out
