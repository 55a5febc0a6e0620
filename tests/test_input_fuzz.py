"""Bounded, strict inputs: a profile with Infinity, a 10^6-element list or a huge integer is rejected in one
line naming the field, and fuzzed profiles and CLI parameters (-p, --input, --batch, --resolution) never give a
traceback - only a result (exit 0) or one error line (exit 2)."""
import contextlib
import copy
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmodel.cli import main
from costmodel.errors import CostModelError
from costmodel.latency.profiles import MAX_BATCH, MAX_PROFILE_BYTES, PROFILE_DIR, loads_profile
from costmodel.sources.names import BATCH_RANGE

SHIPPED = json.loads((PROFILE_DIR / "gtx1080ti.json").read_text())


def rejection(data: object) -> str:
    """The one-line error of loading `data` (JSON text, or a value dumped to JSON)."""
    text = data if isinstance(data, (str, bytes)) else json.dumps(data)
    with pytest.raises(CostModelError) as caught:
        loads_profile(text, "upload.json")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("profile upload.json")
    return message


def changed(path: tuple, value: object) -> dict:
    profile = copy.deepcopy(SHIPPED)
    target = profile
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return profile


def test_infinity_and_nan_are_rejected_naming_the_field():
    text = json.dumps(changed(("latency_model", "cache_bytes"), 1.0)).replace('"cache_bytes": 1.0',
                                                                               '"cache_bytes": Infinity')
    assert "field 'latency_model.cache_bytes'" in rejection(text) and "finite" in rejection(text)
    assert "field 'measurements.0.ms'" in rejection(changed(("measurements", 0, "ms"), float("nan")))


def test_a_million_element_list_is_rejected():
    message = rejection(changed(("latency_model", "fitted"), ["conv"] * 10**6))
    assert "'fitted' has 1000000 entries" in message


@pytest.mark.parametrize("digits", [30, 4000])
def test_a_huge_integer_is_rejected(digits):
    message = rejection(changed(("batch",), int("9" * digits)))
    assert "'batch'" in message and "64 bits" in message


def test_numbers_json_cannot_hold_and_oversized_files_are_rejected():
    assert "cannot be read as JSON" in rejection('{"batch": ' + "9" * 5000 + "}")
    assert f"more than the {MAX_PROFILE_BYTES // 2**20} MiB" in rejection(b" " * (MAX_PROFILE_BYTES + 1))
    assert "cannot be read as JSON" in rejection("[" * 100_000)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: (st.lists(inner, max_size=4)
                                          | st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                           max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path_choice=st.sampled_from([("batch",), ("latency_model", "cache_bytes"), ("latency_model", "kernels"),
                                    ("measurements", 0, "ops"), ("measurements", 0, "ops", 0, "flops"),
                                    ("fit", "samples"), ("source",), ("name",)]), value=JSON_VALUES)
def test_fuzzed_profiles_load_or_fail_in_one_line(path_choice, value):
    try:
        loads_profile(json.dumps(changed(path_choice, value)), "upload.json")
    except CostModelError as error:
        assert "\n" not in str(error)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.binary(max_size=200))
def test_fuzzed_bytes_load_or_fail_in_one_line(text):
    with contextlib.suppress(CostModelError):
        loads_profile(text, "upload.json")


def run_cli(argv: list[str]) -> tuple[int, str]:
    """`python -m costmodel ARGV` in process: (exit code, stderr). Anything but CostModelError/argparse's exit
    propagates: that is the traceback a user would see."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as done:  # argparse's errors: one line (costmodel.cli.OneLineParser), exit 2
            code = done.code
    return code, err.getvalue()


INTEGERS = st.one_of(st.integers(-5, 4096), st.integers(-10**40, 10**40)).map(str)
TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=st.sampled_from(["g2_groupconv", "g1_pointwise", "mobilenet_v1", "g2_groupconv(g=2, c=64)", "nope"]),
       params=st.lists(st.one_of(TEXTS, st.builds("{}={}".format, st.sampled_from(["g", "c", "c1", "width", "x"]),
                                                   st.one_of(INTEGERS, TEXTS))), max_size=3),
       batch=st.none() | INTEGERS, resolution=st.none() | INTEGERS,
       shape=st.none() | TEXTS | st.lists(INTEGERS, min_size=1, max_size=5).map(",".join))
def test_fuzzed_cli_parameters_never_give_a_traceback(arch, params, batch, resolution, shape):
    argv = ["analyze", arch]
    for pair in params:
        argv += ["-p", pair]
    for flag, value in (("--batch", batch), ("--resolution", resolution), ("--input", shape)):
        if value is not None:
            argv.append(f"{flag}={value}")
    code, err = run_cli(argv)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()[-1]) > 0 and "error" in err.strip().splitlines()[-1]


def test_a_field_name_with_a_line_break_is_named_on_one_line():
    """Found by the fuzzer: a kernel class named 'a\\nb' made the error two lines."""
    message = rejection(changed(("latency_model", "kernels"), {"a\nb": {}}))
    assert "\n" not in message and "a\\nb" in message


def test_a_profile_batch_beyond_what_any_command_takes_is_rejected_on_load():
    """Not later, on every page that predicts at it: the profile's own batch is bounded like --batch."""
    assert MAX_BATCH == BATCH_RANGE[1]
    assert "field 'batch'" in rejection(changed(("batch",), BATCH_RANGE[1] + 1))
