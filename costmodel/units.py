"""Human-readable numbers with units, shared by the CLI tables and the app."""
from __future__ import annotations

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """1.46e8, 'MAdds' -> '146 MMAdds'; keeps `digits` significant digits."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def bytes_(value: float) -> str:
    """Bytes in binary units (MiB), as memory is sized."""
    for scale, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.0f} B"


def percent(share: float) -> str:
    return f"{100 * share:.1f}%"
