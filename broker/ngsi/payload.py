"""Request bodies -> domain objects, with Orion's validation (normalized and keyValues forms).

Dates are parsed here (DateTime values become epoch seconds) so everything below sees one form.
Timestamps (creation, modification) are set by the use cases, not here.
"""

from __future__ import annotations

import re
from typing import Any

from broker.ngsi.datetimes import parse_iso8601
from broker.ngsi.errors import bad_request, parse_error
from broker.ngsi.model import DATETIME_TYPES, DEFAULT_ENTITY_TYPE, Attribute, Entity, Metadata, default_type
from broker.ngsi.operators import is_operator_value
from broker.ngsi.validation import RESERVED_ATTR_NAMES, check_identifier, check_value, has_forbidden_id_chars

UNRESTRICTED_TYPE = "TextUnrestricted"


def require_object(body: Any) -> dict[str, Any]:
    """Orion answers a top-level non-object as a parse error."""
    if not isinstance(body, dict):
        raise parse_error()
    return body


def as_datetime(value: Any) -> float | None:
    """A DateTime value as epoch seconds (null stays null); Orion's error when it is not ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        epoch = parse_iso8601(value)
        if epoch is not None:
            return epoch
    raise bad_request("date has invalid format")


def _datetime_value(value: Any) -> Any:
    """A DateTime attribute's value as epoch seconds; `$min`/`$max` operands are dates too."""
    if is_operator_value(value):
        if len(value) == 1:
            ((op, operand),) = value.items()
            if op in ("$min", "$max") and isinstance(operand, str):
                return {op: as_datetime(operand)}
        return value
    return as_datetime(value)


def _default_type(value: Any) -> str:
    """The type of an attribute given without one; for `{"$inc": 2}` that of the result, not of the object."""
    if is_operator_value(value) and len(value) == 1:
        ((op, operand),) = value.items()
        if op in ("$inc", "$mul", "$min", "$max"):
            return default_type(operand)
    return default_type(value)


def _metadata_objects(raw: Any) -> dict[str, Metadata]:
    """The `metadata` member as Orion's parseMetadataVector reads it, metadata by metadata in
    document order: JSON shape, the type's JSON type, unknown members, then a DateTime's date."""
    if not isinstance(raw, dict):
        raise bad_request("metadata not a JSON object")
    out: dict[str, Metadata] = {}
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise bad_request("metadata must be a JSON object")
        for key, member in body.items():
            if key == "type":
                if not isinstance(member, str):
                    check_identifier(member, "metadata type")
            elif key != "value":
                raise bad_request("invalid JSON field for attribute metadata")
        value = body.get("value")
        mtype = body["type"] if "type" in body else default_type(value)
        if mtype in DATETIME_TYPES:
            value = as_datetime(value)
        out[name] = Metadata(mtype, value)
    return out


def check_metadata(metadata: dict[str, Metadata]) -> None:
    """Orion's `Metadata::check`, for each metadata: name, type, then a plain string value
    (whatever the metadata type; compound metadata values keep any text)."""
    for name, m in metadata.items():
        check_identifier(name, "metadata name")
        check_identifier(m.type, "metadata type")
        check_value(m.value, "metadata value", unrestricted=not isinstance(m.value, str))


def parse_metadata(raw: Any) -> dict[str, Metadata]:
    """A `metadata` member, read and checked."""
    metadata = _metadata_objects(raw)
    check_metadata(metadata)
    return metadata


def parse_attribute(name: str, raw: Any, *, key_values: bool = False) -> Attribute:
    """One attribute: `{"value", "type", "metadata"}`, or any JSON value in keyValues mode.

    In Orion's order: the members in document order (type's JSON type, metadata shapes,
    unknown members), then a DateTime value's date, then `ContextAttribute::check` (name,
    type, value) and last the metadata checks.
    """
    if key_values:
        attr = Attribute(type=default_type(raw), value=raw)
        check_attribute(name, attr)
        return attr
    if not isinstance(raw, dict):
        raise bad_request("attribute must be a JSON object, unless keyValues option is used")
    metadata: dict[str, Metadata] = {}
    for key, member in raw.items():
        if key == "type":
            if not isinstance(member, str):
                check_identifier(member, "attribute type")
        elif key == "metadata":
            metadata = _metadata_objects(member)
        elif key != "value":
            raise bad_request("unrecognized property for context attribute")
    value = raw.get("value")
    atype = raw["type"] if "type" in raw else _default_type(value)
    if atype in DATETIME_TYPES:
        value = _datetime_value(value)
    attr = Attribute(type=atype, value=value, metadata=metadata)
    check_attribute(name, attr)
    check_metadata(metadata)
    return attr


def check_attribute(name: str, attr: Attribute) -> None:
    """Orion's `ContextAttribute::check`: name, type, then value."""
    check_identifier(name, "attribute name")
    if name in RESERVED_ATTR_NAMES:
        raise bad_request(
            f"attribute name is reserved: {name}" if name not in ("id", "type") else "invalid input, 'id' as attribute"
        )
    check_identifier(attr.type, "attribute type")
    check_value(attr.value, unrestricted=is_unrestricted(attr))


def is_unrestricted(attr: Attribute) -> bool:
    """Orion skips the forbidden-character check of a value typed `TextUnrestricted`, and (Orion
    4.7) of one whose request carries a metadata `TextUnrestricted` with the value `true`, whatever
    that metadata's type; the attribute keeps its own type."""
    marker = attr.metadata.get(UNRESTRICTED_TYPE)
    return attr.type == UNRESTRICTED_TYPE or (marker is not None and marker.value is True)


def parse_attributes(body: Any, *, key_values: bool = False) -> dict[str, Attribute]:
    """The body of `POST|PATCH|PUT /v2/entities/{id}/attrs`: attributes only."""
    body = require_object(body)
    if "id" in body:
        raise bad_request("entity id specified in payload")
    if "type" in body:
        raise bad_request("entity type specified in payload")
    if not body:
        raise bad_request("empty payload")
    return {name: parse_attribute(name, raw, key_values=key_values) for name, raw in body.items()}


def check_entity_member(name: str, raw: Any) -> None:
    """What Orion checks of `id`/`type` while it walks an entity's members: the JSON type,
    forbidden characters, an empty type (`parseEntity`, `parseEntityObject`)."""
    what = "entity id" if name == "id" else "entity type"
    if not isinstance(raw, str) or (name == "type" and raw == ""):
        check_identifier(raw, what)
    if has_forbidden_id_chars(raw):
        raise bad_request(f"Invalid characters in {what}")


def check_entity_key(entity_id: Any, entity_type: Any | None) -> None:
    """What `Entity::check` finds after the members: an empty or too long id, a too long type."""
    check_identifier(entity_id, "entity id")
    if entity_type is not None:
        check_identifier(entity_type, "entity type")


def parse_entity(body: Any, *, key_values: bool = False) -> Entity:
    """The body of `POST /v2/entities`, checked in Orion's order (`parseEntity`, then
    `Entity::check`): member by member the JSON types, forbidden characters, an empty type and
    the attributes; then an empty id; then the id's and the type's lengths."""
    body = require_object(body)
    if "id" not in body:
        raise bad_request("entity id length: 0, min length supported: 1")
    attrs: dict[str, Attribute] = {}
    for name, raw in body.items():  # Orion reports the first bad member in document order
        if name in ("id", "type"):
            check_entity_member(name, raw)
        else:
            attrs[name] = parse_attribute(name, raw, key_values=key_values)
    check_entity_key(body["id"], body.get("type"))
    return Entity(id=body["id"], type=body.get("type", DEFAULT_ENTITY_TYPE), attrs=attrs)


def parse_json_value(body: Any) -> Any:
    """A JSON body of `PUT .../value`: Orion takes only objects and arrays this way."""
    if not isinstance(body, (dict, list)):
        raise bad_request("Neither JSON Object nor JSON Array for attribute::value")
    check_value(body)
    return body


_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # what strtod reads, in ASCII
_TEXT_LITERALS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    "null": None,
    "Null": None,
    "NULL": None,
}


def parse_text_value(text: str) -> Any:
    """A `text/plain` body of `PUT .../value`: a quoted string, true, false, null or a number."""
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise bad_request("Missing citation-mark at end of string")
        value: Any = text[1:-1]
    elif text in _TEXT_LITERALS:
        value = _TEXT_LITERALS[text]
    else:
        if not _NUMBER.fullmatch(text):
            raise bad_request("attribute value type not recognized")
        number = float(text)
        if number in (float("inf"), float("-inf")):
            raise bad_request("attribute value type not recognized")
        value = int(number) if number.is_integer() and abs(number) < 2**63 else number
    check_value(value)
    return value
