"""Behaviour kept through the op-table and attribute rewrite: `analyze <arch> --json` of every zoo arch, as the
engine printed it before the rewrite (tests/fixtures/analyze_before/, captured from the previous commit), must
come out identical today except for fields added since (float noise aside)."""
import json
import math
from pathlib import Path

import pytest

from costmodel.engine.analysis import analyze
from costmodel.sources.names import load_model

BEFORE = Path(__file__).parent / "fixtures" / "analyze_before"


def same(before: object, now: object, path: str = "") -> list[str]:
    """Differences between the old summary and today's; keys only today has are new fields, allowed."""
    if isinstance(before, dict):
        return [d for key, value in before.items() for d in same(value, now.get(key), f"{path}.{key}")]
    if isinstance(before, float) or isinstance(now, float):
        return [] if math.isclose(before, now, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {before} -> {now}"]
    return [] if before == now else [f"{path}: {before} -> {now}"]


@pytest.mark.parametrize("arch", sorted(p.stem for p in BEFORE.glob("*.json")))
def test_zoo_summary_is_unchanged_except_new_fields(arch):
    model, shape, name = load_model(arch)
    now = json.loads(json.dumps(analyze(model, shape, arch=name).summary))
    assert same(json.loads((BEFORE / f"{arch}.json").read_text()), now) == []
