"""Measure group -> NGSI-v2 entity update, typed per the device's and group's attribute mappings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.iot.measures import MeasureGroup
from adapters.iot.model import AttrMapping, Device, ServiceGroup

NUMBER_TYPES = {"Number", "Float", "Integer", "Double", "Int", "float", "integer", "number"}
BOOLEAN_TYPES = {"Boolean", "boolean", "Bool"}
IGNORED_NAMES = {"id", "type"}
TIME_INSTANT = "TimeInstant"


@dataclass
class Translation:
    entity: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    measured: int = 0


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> str:
    """A device timestamp in ISO 8601 as UTC `...sssZ`; naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_utc(moment)


def cast(value: Any, type_: str) -> Any:
    """The value as the mapping's type asks; raises ValueError when it cannot be one."""
    if type_ in NUMBER_TYPES:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        if isinstance(value, (int, float)):
            return int(value) if type_ in ("Integer", "Int", "integer") else value
        text = str(value).strip()
        number = float(text)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        if type_ in ("Integer", "Int", "integer"):
            if not number.is_integer():
                raise ValueError("not an integer")
            return int(number)
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if type_ in BOOLEAN_TYPES:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValueError("not a boolean")
    return value


def _inferred_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, (dict, list)):
        return "StructuredValue"
    return "Text"


def _mappings(device: Device, group: ServiceGroup | None) -> dict[str, AttrMapping]:
    """Device mappings win over the group's; keyed by the device's measure name."""
    out: dict[str, AttrMapping] = {}
    for m in (group.attributes if group else ()) + device.attributes:
        out[m.object_id or m.name] = m
    return out


def translate(
    device: Device, group: ServiceGroup | None, measures: MeasureGroup, now: datetime, add_timestamp: bool
) -> Translation:
    """The entity update for one measure group; bad values are left out and reported, the rest goes on."""
    mappings = _mappings(device, group)
    explicit = device.explicit_attrs if device.explicit_attrs is not None else bool(group and group.explicit_attrs)
    entity: dict[str, Any] = {"id": device.entity_name, "type": device.entity_type}
    errors: list[str] = []
    measured = 0
    stamp = iso_utc(now)
    if measures.timestamp is not None:
        try:
            stamp = parse_timestamp(measures.timestamp)
        except ValueError:
            errors.append(f"invalid timestamp {measures.timestamp!r}, the agent's time is used")
    timestamp = add_timestamp if device.timestamp is None else device.timestamp
    if group is not None and group.timestamp is not None and device.timestamp is None:
        timestamp = group.timestamp
    for key, raw in measures.values.items():
        mapping = mappings.get(key)
        if mapping is None:
            if explicit:
                continue
            mapping = AttrMapping(name=key, type=_inferred_type(raw))
        if mapping.name in IGNORED_NAMES:
            continue
        try:
            value = cast(raw, mapping.type)
        except ValueError as e:
            errors.append(f"measure {key}={raw!r} is not a valid {mapping.type}: {e}")
            continue
        attr: dict[str, Any] = {"type": mapping.type, "value": value}
        metadata = dict(mapping.metadata or {})
        if timestamp:
            metadata[TIME_INSTANT] = {"type": "DateTime", "value": stamp}
        if metadata:
            attr["metadata"] = metadata
        entity[mapping.name] = attr
        measured += 1
    for static in (group.static_attributes if group else ()) + device.static_attributes:
        attr = {"type": static.get("type") or "Text", "value": static["value"]}
        if static.get("metadata"):
            attr["metadata"] = static["metadata"]
        entity[static["name"]] = attr
    if timestamp:
        entity[TIME_INSTANT] = {"type": "DateTime", "value": stamp}
    return Translation(entity, errors, measured)
