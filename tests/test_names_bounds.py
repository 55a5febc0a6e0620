"""--batch and --resolution are bounded where every model is named (costmodel.sources.names.load_model): a value
outside the range is one CostModelError line naming the option and the range, exit code 2 in the CLI, st.error
in the app; the range's ends themselves are accepted."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from costmodel.cli import main
from costmodel.errors import CostModelError
from costmodel.sources.names import BATCH_RANGE, RESOLUTION_RANGE, load_model

ROOT = Path(__file__).resolve().parents[1]


def test_the_ranges_are_the_documented_ones() -> None:
    assert BATCH_RANGE == (1, 1024)  # docs/readme/reliability.md, "Strict inputs"
    assert RESOLUTION_RANGE == (1, 2**20)  # as any size of --input


@pytest.mark.parametrize("spec", ["shufflenet_v2", "torchvision:mobilenet_v2", "timm:resnet18"])
@pytest.mark.parametrize("batch", [0, -3, 1025, 10**9])
def test_batch_out_of_range_is_one_line_naming_it(spec: str, batch: int) -> None:
    with pytest.raises(CostModelError) as error:
        load_model(spec, batch=batch)
    assert str(error.value) == f"batch {batch} is out of range - use a batch between 1 and 1024"


@pytest.mark.parametrize("spec", ["shufflenet_v2", "torchvision:mobilenet_v2", "timm:resnet18"])
@pytest.mark.parametrize("resolution", [0, -224, 2**20 + 1, 10**9])
def test_resolution_out_of_range_is_one_line_naming_it(spec: str, resolution: int) -> None:
    with pytest.raises(CostModelError) as error:
        load_model(spec, resolution=resolution)
    assert str(error.value) == f"resolution {resolution} is out of range - use a resolution between 1 and 1048576"


def test_the_ends_of_the_ranges_are_accepted() -> None:
    assert load_model("shufflenet_v2", batch=1024)[1] == (1024, 3, 224, 224)
    assert load_model("shufflenet_v2", resolution=2**20)[1] == (1, 3, 2**20, 2**20)
    assert load_model("torchvision:mobilenet_v2", resolution=1)[1] == (1, 3, 1, 1)


@pytest.mark.parametrize("argv, line", [
    (["--batch", "1025"], "error: batch 1025 is out of range - use a batch between 1 and 1024"),
    (["--resolution", "1048577"], "error: resolution 1048577 is out of range - use a resolution between 1 and 1048576"),
    (["--resolution", "0"], "error: resolution 0 is out of range - use a resolution between 1 and 1048576")])
def test_cli_exit_code_2_and_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], line: str) -> None:
    assert main(["analyze", "shufflenet_v2", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().splitlines() == [line]


def test_the_model_zoo_page_offers_only_the_range() -> None:
    app = AppTest.from_file(str(ROOT / "pages" / "4_Model_zoo.py"), default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    field = app.number_input(key="resolution")
    assert (field.min, field.max) == RESOLUTION_RANGE


def test_resolution_and_batch_written_as_parameters_set_the_options() -> None:
    """As a sweep's labels write them: inline wins over the option, and the same bounds apply."""
    assert load_model("mobilenet_v2(width=0.5, resolution=128)", resolution=224)[1] == (1, 3, 128, 128)
    assert load_model("shufflenet_v2", params={"batch": "4"})[1] == (4, 3, 224, 224)
    assert load_model("timm:resnet18(resolution=96)")[1] == (1, 3, 96, 96)
    with pytest.raises(CostModelError) as error:
        load_model("shufflenet_v2(batch=0)")
    assert str(error.value) == "batch 0 is out of range - use a batch between 1 and 1024"
    with pytest.raises(CostModelError) as error:
        load_model("shufflenet_v2(resolution=big)")
    assert str(error.value) == "resolution=big is not a whole number - write it like resolution=224"
