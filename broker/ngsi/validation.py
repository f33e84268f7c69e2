"""Orion's syntax rules for ids, types, names and values, as pure checks that raise `NgsiError`."""

from __future__ import annotations

from typing import Any

from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.query.evaluate import compile_pattern

MAX_ID_LEN = 256
MAX_NESTING = 50

# Forbidden everywhere Orion checks (ids, names, types and string values)
FORBIDDEN_CHARS = frozenset('<>"\'=;()')
# Also forbidden in identifiers (they would break URLs): whitespace, & ? / #
FORBIDDEN_ID_CHARS = FORBIDDEN_CHARS | frozenset("&?/#")

RESERVED_ATTR_NAMES = frozenset({"id", "type", "geo:distance", "*"})
BUILTIN_ATTRS = ("dateCreated", "dateModified", "dateExpires")
BUILTIN_METADATA = ("dateCreated", "dateModified", "previousValue", "actionType")


def has_forbidden_id_chars(text: str) -> bool:
    return any(c in FORBIDDEN_ID_CHARS or not ("!" <= c <= "~") for c in text)


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
    """An id, type or name taken from the URL path or query string."""
    if len(text) > MAX_ID_LEN or has_forbidden_id_chars(text):
        raise bad_request("invalid character in URI")
    return text


def has_forbidden_chars(text: str) -> bool:
    return any(c in FORBIDDEN_CHARS for c in text)


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
