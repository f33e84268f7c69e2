"""Small statistics shared by the benchmarks."""

from __future__ import annotations


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (the values need not be sorted); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
