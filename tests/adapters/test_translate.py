"""Measures become typed NGSI-v2 attributes per the mappings, with TimeInstant; bad values are reported, not sent."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.iot.measures import MeasureGroup
from adapters.iot.model import Device, ServiceGroup
from adapters.iot.translate import translate

NOW = datetime(2026, 1, 15, 9, 30, 0, 123000, tzinfo=UTC)
GROUP = ServiceGroup.from_api(
    "hakui",
    "/snow",
    {
        "apikey": "k1",
        "entity_type": "SnowDepthSensor",
        "attributes": [{"object_id": "d", "name": "depth", "type": "Number"}],
        "static_attributes": [{"name": "city", "type": "Text", "value": "Hakui"}],
    },
    "/iot/d",
)
DEVICE = Device.from_api(
    "hakui",
    "/snow",
    {
        "device_id": "s1",
        "entity_name": "urn:SnowDepth:s1",
        "entity_type": "SnowDepthSensor",
        "attributes": [
            {"object_id": "b", "name": "battery", "type": "Integer"},
            {"object_id": "ok", "name": "healthy", "type": "Boolean"},
        ],
    },
)
STAMP = {"TimeInstant": {"type": "DateTime", "value": "2026-01-15T09:30:00.123Z"}}


def test_mapped_measures_are_cast_to_their_types_and_stamped():
    t = translate(DEVICE, GROUP, MeasureGroup({"d": "31.5", "b": "87", "ok": "true", "x": "7"}), NOW, True)
    assert t.errors == []
    assert t.entity == {
        "id": "urn:SnowDepth:s1",
        "type": "SnowDepthSensor",
        "depth": {"type": "Number", "value": 31.5, "metadata": STAMP},
        "battery": {"type": "Integer", "value": 87, "metadata": STAMP},
        "healthy": {"type": "Boolean", "value": True, "metadata": STAMP},
        "x": {"type": "Text", "value": "7", "metadata": STAMP},
        "city": {"type": "Text", "value": "Hakui"},
        "TimeInstant": {"type": "DateTime", "value": "2026-01-15T09:30:00.123Z"},
    }
    assert t.measured == 4


def test_a_value_that_is_not_its_type_is_reported_and_the_rest_goes_on():
    t = translate(DEVICE, GROUP, MeasureGroup({"d": "deep", "b": "80"}), NOW, False)
    assert t.errors == ["measure d='deep' is not a valid Number: could not convert string to float: 'deep'"]
    assert set(t.entity) == {"id", "type", "battery", "city"}
    assert t.entity["battery"] == {"type": "Integer", "value": 80}


def test_explicit_attrs_keeps_only_mapped_measures():
    group = ServiceGroup.from_api(
        "",
        "/",
        {
            "apikey": "k",
            "explicitAttrs": True,
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        },
        "/iot/d",
    )
    device = Device.from_api("", "/", {"device_id": "d1"})
    t = translate(device, group, MeasureGroup({"t": "4", "junk": "1"}), NOW, False)
    assert set(t.entity) == {"id", "type", "temperature"}


def test_device_timestamp_wins_and_is_normalised_to_utc():
    t = translate(DEVICE, None, MeasureGroup({"b": "1"}, "2026-01-15T18:00:00+09:00"), NOW, True)
    assert t.entity["TimeInstant"] == {"type": "DateTime", "value": "2026-01-15T09:00:00.000Z"}


def test_json_values_of_unmapped_measures_get_inferred_types_and_id_type_are_ignored():
    device = Device.from_api("", "/", {"device_id": "d1", "entity_type": "Home"})
    t = translate(device, None, MeasureGroup({"on": True, "w": 3, "pos": {"a": 1}, "id": "x", "type": "y"}), NOW, False)
    assert t.entity == {
        "id": "Home:d1",
        "type": "Home",
        "on": {"type": "Boolean", "value": True},
        "w": {"type": "Number", "value": 3},
        "pos": {"type": "StructuredValue", "value": {"a": 1}},
    }
