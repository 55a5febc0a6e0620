"""User-facing errors: one line that names the problem and the fix.

The CLI prints `CostModelError` as a single line and exits with code 2; the app shows it with `st.error`.
Anything else escaping the library is a bug, not bad input.
"""
from __future__ import annotations


class CostModelError(ValueError):
    """Bad input from the user (arch, parameter, file, shape, profile): say what and how to fix it."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} - {fix}" if fix else problem)
