"""The small vocabulary every MongoDB filter module shares: key encoding and the empty match."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

Filter = dict[str, Any]

FALSE: Filter = {"_id": {"$in": []}}  # matches nothing, on every server


def encode_key(name: str) -> str:
    """Orion stores `.` in attribute and metadata names as `=` (a dot is a path in MongoDB)."""
    return name.replace(".", "=")


def decode_key(name: str) -> str:
    return name.replace("=", ".")


def object_id(text: str) -> ObjectId | str:
    """Orion's `_id` of a subscription or registration is an ObjectId; an id that is not 24 hex
    digits stays a string (and matches no document Orion wrote)."""
    return ObjectId(text) if ObjectId.is_valid(text) and len(text) == 24 else text
