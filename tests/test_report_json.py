"""Report.to_json / from_json: the one place a report round-trips through JSON (the sandbox sends reports this
way). Tables, summary and graph come back equal, and any op attribute keeps its type (tuples stay tuples)."""
import json

import pandas as pd
import pytest

from costmodel import analyze
from costmodel.engine.report import Report
from costmodel.zoo import build


@pytest.fixture(scope="module")
def report() -> Report:
    import torch

    with torch.device("meta"):
        model, shape = build("shufflenet_v2", resolution=64)
    return analyze(model, shape, arch="shufflenet_v2")


def test_tables_summary_and_graph_come_back_equal(report):
    back = Report.from_json(report.to_json())
    pd.testing.assert_frame_equal(back.ops, report.ops)
    pd.testing.assert_frame_equal(back.blocks, report.blocks)
    assert back.summary == report.summary and back.graph.graph == report.graph.graph
    assert list(back.graph.nodes(data=True)) == list(report.graph.nodes(data=True))
    assert list(back.graph.edges(data=True)) == list(report.graph.edges(data=True))


def test_any_op_attribute_keeps_its_type(report):
    first = next(iter(report.graph.nodes))
    report.graph.nodes[first]["kernel_size"] = (3, 3)
    report.graph.nodes[first]["pads"] = [(1, 1), (0, 0)]
    attrs = Report.from_json(report.to_json()).graph.nodes[first]
    assert attrs["kernel_size"] == (3, 3) and attrs["pads"] == [(1, 1), (0, 0)]
    assert isinstance(attrs["input_shapes"][0], tuple)
    json.loads(report.to_json())  # plain JSON text


def test_text_that_is_not_a_report_raises():
    with pytest.raises(ValueError, match="not a cost report"):
        Report.from_json('{"graph": 1}')
