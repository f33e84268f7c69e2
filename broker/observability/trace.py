"""Orion's trace levels (`/log/trace`): a set of numbers 0-255 written as ranges, "1-3,7"."""

from __future__ import annotations

TRACE_CHARS = frozenset("0123456789-,'")  # what Orion accepts in a trace-level string
MAX_LEVEL = 255


def well_formed(text: str) -> bool:
    return all(c in TRACE_CHARS for c in text)


def parse_levels(text: str) -> set[int]:
    """The levels named by "t1-t2,t3": ranges and single numbers; pieces that name nothing in
    0-255 are ignored, as Orion ignores them."""
    levels: set[int] = set()
    for piece in text.replace("'", "").split(","):
        low, dash, high = piece.partition("-")
        try:
            start = int(low)
            end = int(high) if dash else start
        except ValueError:
            continue
        levels.update(n for n in range(start, end + 1) if 0 <= n <= MAX_LEVEL)
    return levels


def format_levels(levels: set[int]) -> str:
    """Ranges of consecutive levels, comma-separated ("" when none)."""
    parts: list[str] = []
    ordered = sorted(levels)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


class TraceLevels:
    def __init__(self) -> None:
        self.levels: set[int] = set()

    def set(self, text: str) -> None:
        self.levels = parse_levels(text)

    def remove(self, text: str) -> None:
        self.levels -= parse_levels(text)

    def clear(self) -> None:
        self.levels = set()

    def render(self) -> str:
        return format_levels(self.levels)
