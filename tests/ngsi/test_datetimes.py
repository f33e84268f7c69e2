from __future__ import annotations

import pytest

from broker.ngsi.datetimes import format_iso8601, parse_iso8601


@pytest.mark.parametrize(
    "text, rendered",
    [
        ("2017-06-17T07:21:24.238Z", "2017-06-17T07:21:24.238Z"),
        ("2017-06-17", "2017-06-17T00:00:00.000Z"),
        ("2017-06-17T07:21", "2017-06-17T07:21:00.000Z"),
        ("2017-06-17T07:21:24+02:00", "2017-06-17T05:21:24.000Z"),
        ("2017-06-17T07:21:24-0130", "2017-06-17T08:51:24.000Z"),
    ],
)
def test_iso8601_forms_are_parsed_and_rendered_in_utc(text, rendered):
    epoch = parse_iso8601(text)
    assert epoch is not None
    assert format_iso8601(epoch) == rendered


@pytest.mark.parametrize(
    "text", ["", "2017", "2017-13-01", "2017-02-30", "2017-06-17Z", "yesterday", "2017-06-17T25:00"]
)
def test_non_dates_are_refused(text):
    assert parse_iso8601(text) is None
