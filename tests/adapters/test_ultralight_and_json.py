"""Measure payload parsing: UltraLight 2.0 groups and timestamps, JSON objects and arrays, MQTT topics."""

from __future__ import annotations

import pytest

from adapters.iot.json_measures import parse_json_measures, parse_json_single
from adapters.iot.measures import MeasureGroup, MeasureSyntaxError
from adapters.iot.mqtt_southbound import Route, route
from adapters.iot.ultralight import parse_single, parse_ultralight


def test_ultralight_pairs_become_one_group_of_string_values():
    assert parse_ultralight("t|15|h|30") == [MeasureGroup({"t": "15", "h": "30"})]


def test_ultralight_hash_and_newlines_separate_groups():
    assert parse_ultralight("t|15#h|30\nl|2") == [
        MeasureGroup({"t": "15"}),
        MeasureGroup({"h": "30"}),
        MeasureGroup({"l": "2"}),
    ]


def test_ultralight_leading_timestamp_is_the_group_time():
    assert parse_ultralight("2016-06-13T00:35:30Z|lle|100") == [MeasureGroup({"lle": "100"}, "2016-06-13T00:35:30Z")]


@pytest.mark.parametrize("payload", ["", "t|15|h", "|3", "t|1#|2", "dev@ping|ok"])
def test_malformed_ultralight_is_refused_with_a_reason(payload: str):
    with pytest.raises(MeasureSyntaxError):
        parse_ultralight(payload)


def test_ultralight_single_measure_topic_takes_the_plain_value():
    assert parse_single("t", " 21.5 ") == [MeasureGroup({"t": "21.5"})]


def test_json_object_and_array_of_measures():
    assert parse_json_measures(b'{"t": 21.5, "on": true}') == [MeasureGroup({"t": 21.5, "on": True})]
    assert parse_json_measures(b'[{"t": 1}, {"t": 2, "TimeInstant": "2024-01-01T00:00:00Z"}]') == [
        MeasureGroup({"t": 1}),
        MeasureGroup({"t": 2}, "2024-01-01T00:00:00Z"),
    ]


@pytest.mark.parametrize("payload", [b"{", b"[]", b"3", b"{}", b'[{"t": 1}, 2]', b'{"t": 1, "TimeInstant": 5}'])
def test_malformed_json_measures_are_refused(payload: bytes):
    with pytest.raises(MeasureSyntaxError):
        parse_json_measures(payload)


def test_json_single_measure_keeps_json_values_and_falls_back_to_text():
    assert parse_json_single("t", b"21") == [MeasureGroup({"t": 21})]
    assert parse_json_single("s", b"open") == [MeasureGroup({"s": "open"})]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("/k1/dev1/attrs", Route("ul", "k1", "dev1", None)),
        ("k1/dev1/attrs/t", Route("ul", "k1", "dev1", "t")),
        ("/ul/k1/dev1/attrs", Route("ul", "k1", "dev1", None)),
        ("/json/k1/dev1/attrs", Route("json", "k1", "dev1", None)),
        ("json/k1/dev1/attrs/t", Route("json", "k1", "dev1", "t")),
        ("/k1/dev1/cmdexe", None),
        ("/k1//attrs", None),
    ],
)
def test_mqtt_topics_name_protocol_apikey_and_device(topic: str, expected: Route | None):
    assert route(topic) == expected
