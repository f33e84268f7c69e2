"""Orion's syntax rules for ids, types, names and values, as pure checks that raise `NgsiError`."""

from __future__ import annotations

import re
from typing import Any

from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.patterns import compile_pattern

MAX_ID_LEN = 256
MAX_NESTING = 50

# Forbidden everywhere Orion checks (ids, names, types and string values)
FORBIDDEN_CHARS = frozenset("<>\"'=;()")
# Also forbidden in identifiers (they would break URLs): whitespace, & ? / #
FORBIDDEN_ID_CHARS = FORBIDDEN_CHARS | frozenset("&?/#")

RESERVED_ATTR_NAMES = frozenset({"id", "type", "geo:distance", "*"})
BUILTIN_ATTRS = ("dateCreated", "dateModified", "dateExpires")
BUILTIN_METADATA = ("dateCreated", "dateModified", "previousValue", "actionType")


# one scan in C instead of a generator over characters (6% of a 100-entity batch's time)
_FORBIDDEN_ID_RE = re.compile("[^!-~]|[" + re.escape("".join(sorted(FORBIDDEN_ID_CHARS))) + "]")
_FORBIDDEN_RE = re.compile("[" + re.escape("".join(sorted(FORBIDDEN_CHARS))) + "]")


def has_forbidden_id_chars(text: str) -> bool:
    """Any of FORBIDDEN_ID_CHARS, or anything outside printable ASCII (spaces included)."""
    return _FORBIDDEN_ID_RE.search(text) is not None


_JSON_TYPE_ERRORS = {
    "entity id": "Invalid JSON type for entity id",
    "entity type": "Invalid JSON type for entity type",
    "attribute type": "invalid JSON type for attribute type",
    "metadata type": "invalid JSON type for attribute metadata type",
}


def check_identifier(text: Any, what: str) -> str:
    """Validate an entity id/type, attribute or metadata name/type ("entity id", "attribute name" ...)."""
    if not isinstance(text, str):
        raise bad_request(_JSON_TYPE_ERRORS.get(what, f"Invalid JSON type for {what}"))
    if len(text) == 0:
        raise bad_request(f"{what} length: 0, min length supported: 1")
    if len(text) > MAX_ID_LEN:
        raise bad_request(f"{what} length: {len(text)}, max length supported: {MAX_ID_LEN}")
    if has_forbidden_id_chars(text):
        raise bad_request(f"Invalid characters in {what}")
    return text


def check_uri_identifier(text: str) -> str:
    """An id, type or name taken from the URL path or query string: checked for characters only (Orion
    checks lengths in payloads, not in URLs: a longer id is simply not found)."""
    if has_forbidden_id_chars(text):
        raise bad_request("invalid character in URI")
    return text


def has_forbidden_chars(text: str) -> bool:
    return _FORBIDDEN_RE.search(text) is not None


def check_value(value: Any, what: str = "attribute value", depth: int = 0, *, unrestricted: bool = False) -> None:
    """String leaves may not hold forbidden characters (unless `TextUnrestricted`); nesting is limited."""
    if depth > MAX_NESTING:
        raise NgsiError(400, "ParseError", "max nesting level reached in JSON")
    if unrestricted:
        if isinstance(value, (dict, list)):
            for item in value.values() if isinstance(value, dict) else value:
                check_value(item, what, depth + 1, unrestricted=True)
        return
    if isinstance(value, str):
        if has_forbidden_chars(value):
            raise bad_request(f"Invalid characters in {what}")
    elif isinstance(value, dict):
        for item in value.values():
            check_value(item, what, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_value(item, what, depth + 1)


def check_entity_key_length(entity_id: str, entity_type: str, service_path: str) -> None:
    """Orion refuses keys whose parts together would not fit its index."""
    if len(service_path) + len(entity_id) + len(entity_type) + 10 >= 1024:
        raise bad_request("Too long entity id/type/servicePath combination")


def check_pattern(pattern: Any, what: str) -> str:
    """An `idPattern`/`typePattern` regular expression ("idPattern" or "typePattern")."""
    if not isinstance(pattern, str):
        raise bad_request(f"Invalid JSON type for entity {what}")
    if compile_pattern(pattern) is None:
        raise bad_request(f"Invalid regex for entity {what}")
    return pattern


EntityItem = tuple[str | None, str | None, str | None, str | None]  # id, idPattern, type, typePattern


def _item_string(item: dict[str, Any], key: str, what: str) -> str | None:
    if key not in item:
        return None
    if not isinstance(item[key], str):
        raise bad_request(f"{what} is not a string")
    return item[key]


def parse_entity_items(raw: Any) -> list[EntityItem]:
    """Orion's parseEntitiesVector (subscription subjects, registrations): each item's `id` or
    `idPattern` and optional `type` or `typePattern`, checked in Orion's order; duplicates dropped."""
    if not isinstance(raw, list):
        raise bad_request("/entities/ is not an array")
    out: list[EntityItem] = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("/entities/ vector item is not an object")
        if "id" not in item and "idPattern" not in item:
            raise bad_request("/entities/ vector item does not have /id/ nor /idPattern/")
        if "id" in item and "idPattern" in item:
            raise bad_request("/entities/ vector item has both /id/ and /idPattern/")
        if "type" in item and "typePattern" in item:
            raise bad_request("/entities/ element has both /type/ and /typePattern/")
        eid = _item_string(item, "id", "/entities/ vector item /id/")
        if eid is not None:
            if eid == "":
                raise bad_request("/entities/ element id is empty")
            if has_forbidden_id_chars(eid):
                raise bad_request("forbidden characters in /entities/ vector item /id/")
            if len(eid) > MAX_ID_LEN:
                raise bad_request("max id length exceeded in /entities/ vector item /id/")
        id_pattern = _item_string(item, "idPattern", "/entities/ vector item /idPattern/")
        if id_pattern is not None:
            if id_pattern == "":
                raise bad_request("/entities/ vector item /idPattern/ is empty")
            check_pattern(id_pattern, "idPattern")
        etype = _item_string(item, "type", "/entities/ vector item type")
        if etype is not None:
            if has_forbidden_id_chars(etype):
                raise bad_request("forbidden characters in /entities/ vector item /type/")
            if len(etype) > MAX_ID_LEN:
                raise bad_request("max type length exceeded in /entities/ vector item /type/")
            if etype == "":
                raise bad_request("entity type length: 0, min length supported: 1")
        type_pattern = _item_string(item, "typePattern", "/entities/ vector item /typePattern/")
        if type_pattern is not None:
            if type_pattern == "":
                raise bad_request("/entities/ vector item /typePattern/ is empty")
            check_pattern(type_pattern, "typePattern")
        parsed = (eid, id_pattern, etype, type_pattern)
        if parsed not in out:
            out.append(parsed)
    return out
