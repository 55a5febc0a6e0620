"""The lightweight-CNN cost lab: FLOPs, MAC, fragmentation and elementwise costs of any PyTorch model, and
predicted latency on measured device profiles."""
from costmodel.analysis import analyze
from costmodel.errors import CostModelError
from costmodel.report import Report

__all__ = ["analyze", "CostModelError", "Report"]
