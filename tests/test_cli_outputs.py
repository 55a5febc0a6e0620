"""Files the CLI writes are checked before any work (costmodel.cli.paths.output_path), options that would be
ignored are refused, and analyze --csv with --device carries each op's predicted time."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from costmodel.cli import main
from costmodel.cli.paths import output_path
from costmodel.errors import CostModelError

TINY = Path(__file__).resolve().parent / "fixtures" / "user_models" / "tiny_net.py"


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize("name, message", [
    ("", "--out is empty - give a file name, e.g. --out out.json"),
    ("{tmp}", "--out {tmp} is a folder - give a file name inside it, e.g. {tmp}/out.json"),
    ("{tmp}/missing/p.json", "--out {tmp}/missing/p.json: the folder {tmp}/missing does not exist"),
    ("{tmp}/p.txt", "--out {tmp}/p.txt is not a .json file - name it with that extension, e.g. --out out.json")])
def test_an_output_file_that_cannot_be_written_is_one_line(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(CostModelError) as error:
        output_path(name.format(tmp=tmp_path), "--out", (".json",))
    assert str(error.value).startswith(message.format(tmp=tmp_path))
    assert output_path(str(tmp_path / "P.JSON"), "--out", (".json",)) == tmp_path / "P.JSON"


@pytest.mark.parametrize("argv, start", [
    (["analyze", "g1_pointwise", "--csv", "/tmp/x.xlsx"], "error: --csv /tmp/x.xlsx is not a .csv file"),
    (["export", "g1", "--out", "/tmp/fig.png", "--format", "svg"], "error: --out /tmp/fig.png is not a .svg file"),
    (["profile", "--out", "/tmp/missing-folder-4711/p.json"], "error: --out /tmp/missing-folder-4711/p.json: the "),
    (["analyze", "g1_pointwise", "--csv", "/proc/costmodel-test.csv"],
     "error: --csv /proc/costmodel-test.csv cannot be written (creating a file in /proc fails: "),
    (["analyze", "shufflenet_v2", "--input", "2,3,64,96"], "error: --input applies to your own models"),
    (["analyze", f"{TINY}:TinyNet", "--resolution", "64"], "error: --resolution applies to zoo and torchvision/timm"),
    (["analyze", f"{TINY}:TinyNet", "--input", "1,3,8,8", "--batch", "4"],
     "error: --input sets the whole input shape"),
    (["analyze", "g1_pointwise", "-p", "c1=8", "-p", "c1=16"], "error: parameter c1 is given twice"),
    (["analyze", "g1_pointwise", "--mode", "graph"], "error: --mode graph applies to predicted latency"),
    (["analyze", "shufflenet_v2(width=0.5, width=2.0)"], "error: parameter width is given twice"),
    (["profile", "--out", "/tmp/p.json", "--batch", "1", "5000"], "error: batch 5000 is out of range")])
def test_bad_outputs_and_ignored_options_are_one_line_errors(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                             start: str) -> None:
    assert one_error_line(capsys, argv).startswith(start)


def test_csv_with_a_device_holds_each_ops_predicted_time(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The per-op times are the device time the JSON reports: they sum to its device_ms."""
    path = tmp_path / "ops.csv"
    assert main(["analyze", "shufflenet_v2", "--device", "gtx1080ti", "--csv", str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith("with predicted ms per op on gtx1080ti")
    ops = pd.read_csv(path)
    assert main(["analyze", "shufflenet_v2", "--device", "gtx1080ti", "--json"]) == 0
    latency = json.loads(capsys.readouterr().out)["latency"]
    assert ops["ms:gtx1080ti"].sum() == pytest.approx(latency["device_ms"], rel=1e-9)
    assert (ops.loc[~ops["launches_kernel"], "ms:gtx1080ti"] == 0).all()


@pytest.mark.parametrize("argv, message", [
    (["export", "nope", "--out", "x.svg"], "error: argument FIGURE: invalid choice: 'nope'"),
    (["analyze", "g1_pointwise", "--batch", "abc"], "error: argument --batch: invalid int value: 'abc'")])
def test_argparse_errors_are_one_line_too(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith(message) and err.count("\n") == 1, err


def test_compare_takes_several_devices_after_one_flag_or_repeated(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for devices in (["--device", "gtx1080ti", "snapdragon810"], ["--device", "gtx1080ti", "--device", "snapdragon810"]):
        assert main(["compare", "g1_pointwise", "g2_groupconv", *devices, "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] and set(outputs[0]["validation"]) == {"gtx1080ti", "snapdragon810"}


def test_zoo_filter_applies_to_the_built_in_zoo_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "--filter", "MOBILE", "--json"]) == 0
    assert [a["arch"] for a in json.loads(capsys.readouterr().out)] == ["mobilenet_v1", "mobilenet_v2"]
