"""The small vocabulary every MongoDB filter module shares: key encoding and the empty match."""

from __future__ import annotations

from typing import Any

Filter = dict[str, Any]

FALSE: Filter = {"_id": {"$in": []}}  # matches nothing, on every server


def encode_key(name: str) -> str:
    """Orion stores `.` in attribute and metadata names as `=` (a dot is a path in MongoDB)."""
    return name.replace(".", "=")


def decode_key(name: str) -> str:
    return name.replace("=", ".")
