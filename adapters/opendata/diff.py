"""Compare an entity we would write with the one the broker holds, the way the broker renders values."""

from __future__ import annotations

import math
from typing import Any


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return bool(a == b)


def changed_attrs(desired: dict[str, Any], existing: dict[str, Any]) -> list[str]:
    """Names of the attributes of `desired` the broker lacks or holds with another type or value."""
    out = []
    for name, attr in desired.items():
        if name in ("id", "type"):
            continue
        held = existing.get(name)
        if (
            not isinstance(held, dict)
            or held.get("type") != attr["type"]
            or not same_value(attr["value"], held.get("value"))
        ):
            out.append(name)
    return out
