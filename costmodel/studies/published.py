"""Published ImageNet top-1 accuracy of zoo configurations, read from the reference tables in data/reference.

Accuracy is a fact for plots (accuracy vs predicted latency, MnasNet's reward); this project never computes
it. Each entry names the zoo configuration, the table and the row it comes from; the number is read from
the CSV, never typed here. ShuffleNet V2 Table 8 gives top-1 *error*; the others give top-1 accuracy.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from costmodel.studies.evaluate import ZooModel
from costmodel.zoo.spec import reference_csv

_T8 = "shufflenetv2_table8_accuracy.csv"
_EFF = "efficientnet_table2_latest.csv"
_MNAS = "mnasnet_key_numbers.csv"


@dataclass(frozen=True)
class Entry:
    model: ZooModel
    family: str
    csv: str
    row: str  # the row's model / item name in the CSV


def _entries() -> tuple[Entry, ...]:
    z = ZooModel.of
    v2 = [Entry(z("shufflenet_v2", width=w), "ShuffleNet V2", _T8, f"ShuffleNet v2 {n}x (ours)")
          for w, n in ((0.5, "0.5"), (1.0, "1"), (1.5, "1.5"), (2.0, "2"))]
    v1 = [Entry(z("shufflenet_v1", groups=3, width=w), "ShuffleNet V1", _T8, f"ShuffleNet v1 {n}x (g=3) [15]")
          for w, n in ((0.5, "0.5"), (1.0, "1"), (1.5, "1.5"), (2.0, "2"))]
    mv1 = [Entry(z("mobilenet_v1", width=w), "MobileNet V1", _T8, f"{w} MobileNet v1 [13]")
           for w in (0.25, 0.5, 0.75, 1.0)]
    mv2 = [Entry(z("mobilenet_v2", width=w), "MobileNet V2", _T8, f"{w} MobileNet v2 [14]") for w in (1.0, 1.4)]
    eff = [Entry(z("efficientnet", variant=f"b{k}"), "EfficientNet", _EFF, f"EfficientNet-B{k}") for k in range(8)]
    return (*v1, *v2, Entry(z("shufflenet_v2", width=2.0, se=True), "ShuffleNet V2", _T8,
                            "ShuffleNet v2 2x (ours, with SE [8])"),
            *mv1, *mv2, Entry(z("mnasnet_a1"), "MnasNet", _MNAS, "MnasNet-A1 top-1 / top-5"), *eff,
            Entry(z("resnet50"), "ResNet", _EFF, "ResNet-50"))


def _read(entry: Entry) -> float:
    """Top-1 accuracy in % from the entry's CSV row."""
    if entry.csv == _T8:
        row = next(r for r in reference_csv(_T8) if r["model"] == entry.row)
        return 100.0 - float(row["top1_err_pct"])
    if entry.csv == _EFF:
        return float(next(r for r in reference_csv(_EFF) if r["model"] == entry.row)["top1"].rstrip("%"))
    value = next(r for r in reference_csv(_MNAS) if r["item"] == entry.row)["value"]
    return float(value.split("/")[0].strip().rstrip("%"))


@functools.lru_cache(maxsize=1)
def accuracies() -> dict[ZooModel, tuple[str, float, str]]:
    """Every zoo configuration with published accuracy: model -> (family, top-1 %, source)."""
    return {e.model: (e.family, _read(e), f"{e.csv}: {e.row}") for e in _entries()}


def top1(model: ZooModel) -> float | None:
    found = accuracies().get(model)
    return found[1] if found else None
