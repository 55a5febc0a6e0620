"""Shared test setup: the project root on sys.path, so `costmodel` imports without installation."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
