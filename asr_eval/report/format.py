"""How every writer prints numbers: metric values, intervals, p-values, JSON-safe floats."""

from __future__ import annotations

import math

from ..stats import METRICS


def json_float(x: float | None) -> float | None:
    """JSON-safe float: NaN/inf become None (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def fmt_value(metric: str, x: float | None, signed: bool = False) -> str:
    """How every writer prints a metric value: percentages with one decimal."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    m = METRICS[metric]
    if x == 0:
        x = 0.0  # never print "-0.0%"
    sign = "+" if signed and x > 0 else ""
    if m.percent:
        # A difference of two rates is in percentage points, not percent.
        return f"{sign}{100 * x:.1f} pp" if signed else f"{100 * x:.1f}%"
    return f"{sign}{x:.1f}"


def fmt_ci(metric: str, lo: float | None, hi: float | None, signed: bool = False) -> str:
    if lo is None or hi is None:
        return "n/a"
    return f"[{fmt_value(metric, lo, signed)}, {fmt_value(metric, hi, signed)}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def na_speakers(n_speakers: int) -> str:
    """What a table shows instead of an interval for a group with too few speakers (``numbers.too_few_speakers``)."""
    return f"n/a: {n_speakers} speaker{'' if n_speakers == 1 else 's'}"


def fmt_ci_or_na(metric: str, lo: float | None, hi: float | None, too_few: bool, n_speakers: int,
                 signed: bool = False) -> str:
    """An interval, or why there is none: a row with too few speakers never shows one."""
    return na_speakers(n_speakers) if too_few else fmt_ci(metric, lo, hi, signed)
