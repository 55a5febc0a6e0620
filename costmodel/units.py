"""Human-readable numbers with units: one formatting rule per quantity, shared by the CLI, the app's tables,
LaTeX export and figure labels/hover (CSV keeps full precision so scripts read back exact values).

The rule of a table column: FLOPs, params, MAC, ms and throughput keep 3 significant digits of the column's
median magnitude, with the same number of decimals in every row so decimal points align; percentages have one
decimal; counts none. A single value in text (`si`, `bytes_`, `ms`) keeps 3 significant digits.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation: this module imports nothing heavy
    import pandas as pd

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
SIGNIFICANT = 3
MAX_DECIMALS = 6


@dataclass(frozen=True)
class Rule:
    """How a quantity's column is printed: fixed `decimals`, or enough for `significant` digits."""
    decimals: int | None = None
    significant: int | None = None


QUANTITIES: dict[str, Rule] = {
    "flops": Rule(significant=SIGNIFICANT),
    "params": Rule(significant=SIGNIFICANT),
    "mac": Rule(significant=SIGNIFICANT),
    "ms": Rule(significant=SIGNIFICANT),
    "throughput": Rule(significant=SIGNIFICANT),
    "percent": Rule(decimals=1),
    "count": Rule(decimals=0),
    "ratio": Rule(significant=SIGNIFICANT),  # coefficients, rewards, intensities: unitless
}
# d3-format specifiers (plotly hover and text templates) for the same quantities
HOVER = {"flops": ".3s", "params": ".3s", "mac": ".3s", "ms": ".3g", "throughput": ".3g", "percent": ".1f",
         "count": ",d", "ratio": ".3g"}


def decimals(quantity: str, values: Iterable[float]) -> int:
    """Decimals for a column of `quantity`: the rule's fixed count, or enough for 3 significant digits of the
    column's median nonzero magnitude (0 to 6)."""
    rule = QUANTITIES[quantity]
    if rule.decimals is not None:
        return rule.decimals
    magnitudes = sorted(abs(v) for v in values if v == v and v not in (math.inf, -math.inf) and v != 0)
    if not magnitudes:
        return 0
    median = magnitudes[len(magnitudes) // 2]
    return min(MAX_DECIMALS, max(0, rule.significant - 1 - math.floor(math.log10(median))))


def fixed(value: float | None, digits: int, *, thousands: str = "") -> str:
    """`value` with `digits` decimals ('--' for missing), thousands grouped with `thousands` when given."""
    if value is None or value != value:
        return "--"
    text = f"{value:,.{digits}f}"
    return text.replace(",", thousands)


def column(quantity: str, values: Iterable[float], *, thousands: str = "") -> list[str]:
    """A whole column of `quantity` formatted by its rule (aligned decimals)."""
    values = list(values)
    digits = decimals(quantity, values)
    return [fixed(v, digits, thousands=thousands) for v in values]


def si(value: float, unit: str = "", digits: int = SIGNIFICANT) -> str:
    """1.46e8, 'MAdds' -> '146 MMAdds'; keeps `digits` significant digits."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def bytes_(value: float) -> str:
    """Bytes in binary units (MiB), as memory is sized."""
    for scale, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= scale:
            return f"{value / scale:.{SIGNIFICANT}g} {prefix}"
    return f"{value:.0f} B"


def ms(value: float) -> str:
    """A latency in milliseconds, 3 significant digits: 0.01086 -> '0.0109 ms'."""
    return f"{value:.{SIGNIFICANT}g} ms"


def percent(share: float) -> str:
    """A share (0-1) as a percentage with one decimal: 0.1234 -> '12.3%'."""
    return f"{100 * share:.1f}%"


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as JSON objects, a missing number (NaN: B / A where A is 0, a set timed once) as null,
    which JSON has and NaN is not (json.dumps would write the invalid token NaN)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
