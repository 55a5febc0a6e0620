"""The sandbox: a user's model is analysed out of process, with the same result as in process, and every kind of
broken file (syntax error, endless loop, huge allocation, exception, no module) ends in one clear line."""
import time
from pathlib import Path

import pandas as pd
import pytest

from costmodel import CostModelError, analyze
from costmodel.sources.sandbox import Limits, analyze_sandboxed, module_classes, resolve_spec, run_sandboxed, \
    run_uploaded
from costmodel.sources.userfile import load_user_model

MODELS = Path(__file__).parent / "fixtures" / "user_models"
SHAPE = (1, 3, 32, 32)
QUICK = Limits(seconds=3, memory_bytes=2 * 2**30)  # 2 GiB: well below the 8 GiB the allocation fixture asks


def sandboxed_error(spec: str, limits: Limits = QUICK) -> str:
    with pytest.raises(CostModelError) as caught:
        run_sandboxed(spec, [SHAPE], limits=limits, cwd=MODELS)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_valid_file_gives_the_same_report_as_in_process():
    inside = analyze(load_user_model(f"{MODELS / 'tiny_net.py'}:TinyNet"), SHAPE, arch="tiny")
    outside = analyze_sandboxed("tiny_net.py", SHAPE, label="tiny", limits=QUICK, cwd=MODELS)
    pd.testing.assert_frame_equal(outside.ops, inside.ops)
    pd.testing.assert_frame_equal(outside.blocks, inside.blocks)
    assert outside.summary == inside.summary
    assert sorted(outside.graph.edges(data=True)) == sorted(inside.graph.edges(data=True))


def test_one_run_traces_every_shape_with_the_options():
    shapes = [(1, 3, 32, 32), (8, 3, 48, 48)]
    reports = run_sandboxed("tiny_net.py:TinyNet", shapes, dtype="float16", fold_bn=False, cwd=MODELS)
    model = load_user_model(f"{MODELS / 'tiny_net.py'}:TinyNet")
    for shape, report in zip(shapes, reports, strict=True):
        inside = analyze(model, shape, dtype="float16", fold_bn=False, arch="tiny_net.py:TinyNet")
        assert report.summary == inside.summary  # shape, dtype bytes and the unfolded BN all arrived


def test_syntax_error_names_the_line():
    message = sandboxed_error("syntax_error.py")
    assert "syntax error" in message and "line 6" in message


def test_endless_loop_at_import_hits_the_time_limit_and_the_child_is_stopped():
    started = time.monotonic()
    message = sandboxed_error("endless_loop.py")
    assert "time limit" in message and "3 s" in message and "importing" in message
    assert time.monotonic() - started < QUICK.seconds + 30  # startup + limit, never the endless loop


def test_endless_forward_is_reported_as_tracing():
    message = sandboxed_error("endless_forward.py")
    assert "time limit" in message and "tracing" in message and "forward()" in message


def test_huge_allocation_hits_the_memory_limit():
    message = sandboxed_error("huge_allocation.py")
    assert "memory limit" in message and "2 GiB" in message and "8 GiB" in message


def test_exception_at_import_names_it():
    message = sandboxed_error("raises.py")
    assert "KeyError" in message and "'depth'" in message


def test_a_file_without_a_module_says_so():
    assert "no nn.Module" in sandboxed_error("no_module.py")
    assert "has no 'Net'" in sandboxed_error("no_module.py:Net")


def test_several_modules_need_a_name_and_a_named_factory_works():
    assert sandboxed_error("two_models.py").endswith("Base, Wider - name the one to analyse after a colon, "
                                                     "e.g. two_models.py:Wider")
    report = analyze_sandboxed("two_models.py:make_model", SHAPE, limits=QUICK, cwd=MODELS)
    assert report.ops["output_shapes"].iloc[0] == [(1, 16, 32, 32)]


def test_an_upload_with_several_modules_says_to_type_one_into_the_class_field():
    """The app names an upload's class in a field of its own: 'two.py:Wider' is nothing it could type there."""
    with pytest.raises(CostModelError) as caught:
        run_uploaded((MODELS / "two_models.py").read_bytes(), "two.py", None, [SHAPE], limits=QUICK)
    message = str(caught.value)
    assert message == ("'two.py' defines several nn.Module classes: Base, Wider - type the one to analyse (e.g. Wider) "
                       "into the class field")
    report = run_uploaded((MODELS / "two_models.py").read_bytes(), "two.py", "Wider", [SHAPE], limits=QUICK)[0]
    assert report.ops["output_shapes"].iloc[0] == [(1, 16, 32, 32)]


def test_a_module_importable_from_the_working_directory():
    root = MODELS.parents[2]
    report = analyze_sandboxed("tests.fixtures.user_models.tiny_net:TinyNet", SHAPE, limits=QUICK, cwd=root)
    assert report.summary["arch"] == "tests.fixtures.user_models.tiny_net:TinyNet"
    assert "module 'no_such_package.models' not found" in sandboxed_error("no_such_package.models:Net")


def test_module_classes_follow_inheritance_without_running_code():
    source = "from torch import nn\nimport torch\nclass A(torch.nn.Module): pass\nclass B(A): pass\n" \
             "class C: pass\nclass D(nn.Sequential): pass\nraise SystemExit('never runs')\n"
    assert module_classes(source, "x.py") == ["A", "B", "D"]


@pytest.mark.parametrize("source", ["x = 1\x00", "-" * 100_000 + "1", "a" + ".b" * 200_000])
def test_module_classes_turn_pathological_sources_into_one_line(source):
    with pytest.raises(CostModelError, match="x.py"):
        module_classes(source, "x.py")


def test_resolve_spec_keeps_named_specs():
    assert resolve_spec("pkg.mod:Net") == "pkg.mod:Net"
    assert resolve_spec(f"{MODELS / 'tiny_net.py'}") == f"{MODELS / 'tiny_net.py'}:TinyNet"
