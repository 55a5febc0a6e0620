"""One formatting rule per quantity (costmodel/units.py), written out: what the app's tables, LaTeX and figure
labels print. Expected strings are typed by hand from the rule (3 significant digits of a column's median,
aligned decimals; percentages one decimal; counts none)."""
from __future__ import annotations

import pandas as pd
import pytest

from costmodel import units
from costmodel.viz import tables


@pytest.mark.parametrize("quantity,values,expected", [
    ("flops", [146.0392, 1027.6045], ["146", "1028"]),  # M multiply-adds, median 586
    ("flops", [0.5812, 2.3], ["0.58", "2.30"]),  # tiny micro-networks
    ("params", [2.2787, 3.5044, 5.2888], ["2.28", "3.50", "5.29"]),  # M
    ("mac", [12.3456, 8.1], ["12.3", "8.1"]),  # MiB, median (upper of two) 12.3
    ("ms", [0.01086, 0.0234], ["0.0109", "0.0234"]),
    ("ms", [49.0123, 3.27, 0.457], ["49.01", "3.27", "0.46"]),  # median 3.27: one digit before the point, two after
    ("throughput", [2186.26, 417.3], ["2186", "417"]),
    ("percent", [12.345, 0.5], ["12.3", "0.5"]),
    ("count", [12, 1500], ["12", "1500"]),
])
def test_column_rule_per_quantity(quantity: str, values: list[float], expected: list[str]) -> None:
    assert units.column(quantity, values) == expected


def test_missing_values_and_thousands() -> None:
    assert units.column("count", [1500, float("nan")], thousands="{,}") == ["1{,}500", "--"]


def test_single_values_in_text_keep_three_significant_digits() -> None:
    assert units.si(1.46e8, " MAdds") == "146 M MAdds"
    assert units.bytes_(3 * 2 ** 20 + 2 ** 19) == "3.5 MiB"
    assert units.ms(0.01086) == "0.0109 ms"
    assert units.percent(0.1234) == "12.3%"


def test_app_tables_format_each_column_by_its_quantity() -> None:
    frame = pd.DataFrame({"model": ["a", "b"], "FLOPs (M multiply-adds)": [146.0392, 1027.6045],
                          "latency (ms)": [0.01086, 0.0234], "published top-1 (%)": [69.4, 72.0],
                          "GTX 1080 Ti (paper) (batches/s, batch 8)": [2186.26, 417.3]})
    assert tables.display_formats(frame) == {"FLOPs (M multiply-adds)": "%.0f", "latency (ms)": "%.4f",
                                             "published top-1 (%)": "%.1f",
                                             "GTX 1080 Ti (paper) (batches/s, batch 8)": "%.0f"}


def test_transposed_tables_print_each_metric_by_its_rule() -> None:
    frame = pd.DataFrame({"model": ["a", "b"], "FLOPs (M multiply-adds)": [146.0392, 1027.6045],
                          "kernels": [12, 1500], "status": ["complete", "partial"]})
    out = tables.transposed(frame)
    assert out.set_index("metric").loc["FLOPs (M multiply-adds)"].tolist() == ["146", "1028"]
    assert out.set_index("metric").loc["kernels"].tolist() == ["12", "1500"]
    assert out.set_index("metric").loc["status"].tolist() == ["complete", "partial"]
