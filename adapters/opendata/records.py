"""What every reader yields: one source record with its position, for error messages that name it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    label: str  # "row 12" (the line in the CSV file) or "feature 3"
    fields: dict[str, Any]
    geometry: dict[str, Any] | None = None
    problem: str | None = None  # set when the reader already knows the record is unusable


@dataclass(frozen=True)
class Rejection:
    label: str
    reason: str


@dataclass
class Dataset:
    """All records of one source, plus how it was read (for the summary)."""

    name: str
    kind: str  # "csv" or "geojson"
    records: list[Record] = field(default_factory=list)
    encoding: str | None = None
