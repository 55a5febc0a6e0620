"""The lightweight-CNN cost lab: FLOPs, MAC, fragmentation and elementwise costs of any PyTorch model, and
predicted latency on measured device profiles.

The public API is loaded on first use (PEP 562), so `import costmodel.engine` or a CLI subcommand pays only
for the layers it needs (docs/LAYOUT.md lists the layers).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "analyze": "costmodel.engine.analysis",
    "Report": "costmodel.engine.report",
    "CostModelError": "costmodel.errors",
    "predict": "costmodel.latency.model",
    "Latency": "costmodel.latency.model",
    "load_profile": "costmodel.latency.profiles",
    "lint": "costmodel.studies.lint",
    "compare": "costmodel.studies.compare",
}
__all__ = [*_EXPORTS, "zoo"]

if TYPE_CHECKING:
    from costmodel import zoo
    from costmodel.engine.analysis import analyze
    from costmodel.engine.report import Report
    from costmodel.errors import CostModelError
    from costmodel.latency.model import Latency, predict
    from costmodel.latency.profiles import load_profile
    from costmodel.studies.compare import compare
    from costmodel.studies.lint import lint


def __getattr__(name: str) -> Any:
    if name == "zoo":
        return importlib.import_module("costmodel.zoo")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'costmodel' has no attribute '{name}'")
