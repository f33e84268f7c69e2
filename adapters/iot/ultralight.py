"""UltraLight 2.0 measure payloads: `t|15|h|30`, groups joined by `#` or newlines, optional leading timestamp."""

from __future__ import annotations

from datetime import datetime

from adapters.iot.measures import MeasureGroup, MeasureSyntaxError


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "-" in text and "T" in text


def parse_group(text: str) -> MeasureGroup:
    """One group `[timestamp|]key|value|key|value...`; values stay strings (UltraLight is untyped)."""
    fields = text.split("|")
    timestamp = None
    if len(fields) % 2 == 1 and _is_timestamp(fields[0].strip()):
        timestamp = fields.pop(0).strip()
    if len(fields) % 2 == 1:
        raise MeasureSyntaxError(f"group {text!r} has a key without a value")
    values: dict[str, str] = {}
    for i in range(0, len(fields), 2):
        key = fields[i].strip()
        if not key:
            raise MeasureSyntaxError(f"group {text!r} has an empty measure name")
        if "@" in key:
            raise MeasureSyntaxError(f"group {text!r} looks like a command result, not a measure")
        values[key] = fields[i + 1].strip()
    return MeasureGroup(values, timestamp)


def parse_ultralight(payload: str) -> list[MeasureGroup]:
    """Every non-empty group of the payload, in order; raises MeasureSyntaxError on the first bad one."""
    groups = [g for line in payload.splitlines() for g in line.split("#") if g.strip()]
    if not groups:
        raise MeasureSyntaxError("empty payload")
    return [parse_group(g) for g in groups]


def parse_single(name: str, payload: str) -> list[MeasureGroup]:
    """The MQTT single-measure form: topic `.../attrs/<name>`, payload the plain value."""
    if not name:
        raise MeasureSyntaxError("empty measure name")
    return [MeasureGroup({name: payload.strip()})]
