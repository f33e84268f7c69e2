"""A parsed measure group: raw values by the device's names, plus an optional device timestamp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class MeasureSyntaxError(ValueError):
    """The payload is not a valid measure message; the text says where."""


@dataclass(frozen=True)
class MeasureGroup:
    values: dict[str, Any]
    timestamp: str | None = None
