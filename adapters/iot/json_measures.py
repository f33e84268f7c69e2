"""JSON measure payloads: one object of measures, or an array of them (one group each); `TimeInstant` is the timestamp."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.iot.measures import MeasureGroup, MeasureSyntaxError

TIMESTAMP_KEY = "TimeInstant"


def _group(obj: Any, where: str) -> MeasureGroup:
    if not isinstance(obj, dict):
        raise MeasureSyntaxError(f"{where} is not a JSON object of measures")
    if not obj:
        raise MeasureSyntaxError(f"{where} holds no measure")
    values = dict(obj)
    ts = values.pop(TIMESTAMP_KEY, None)
    if ts is not None and not isinstance(ts, str):
        raise MeasureSyntaxError(f"{where}: {TIMESTAMP_KEY} must be a string")
    if any(not k for k in values):
        raise MeasureSyntaxError(f"{where} has an empty measure name")
    return MeasureGroup(values, ts)


def parse_json_measures(payload: bytes | str) -> list[MeasureGroup]:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise MeasureSyntaxError(f"invalid JSON: {e}") from None
    if isinstance(data, list):
        if not data:
            raise MeasureSyntaxError("empty array")
        return [_group(item, f"element {i}") for i, item in enumerate(data)]
    return [_group(data, "payload")]


def parse_json_single(name: str, payload: bytes | str) -> list[MeasureGroup]:
    """MQTT `/json/<k>/<i>/attrs/<name>`: the payload is one JSON value (or plain text)."""
    if not name:
        raise MeasureSyntaxError("empty measure name")
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        value = payload.decode() if isinstance(payload, bytes) else payload
    return [MeasureGroup({name: value})]
