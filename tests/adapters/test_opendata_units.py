"""Open-data building blocks without I/O: encodings, CSV rows, GeoJSON features, ids, mapping, typing, diff."""

from __future__ import annotations

import codecs

import pytest

from adapters.opendata.csv_reader import detect_encoding, read_csv
from adapters.opendata.diff import changed_attrs
from adapters.opendata.geojson_reader import NotGeoJson, read_geojson
from adapters.opendata.ids import is_valid_name, sanitize_id
from adapters.opendata.mapping import MappingError, column_types, infer_type, parse_datetime, parse_mapping, to_entity
from adapters.opendata.records import Record

CSV_TEXT = "No,名称,緯度,経度\r\n1,羽咋市役所,36.893,136.779\r\n2,加賀市役所,36.3027,136.3148\r\n"
MAPPING = {
    "type": "AED",
    "id": "AED-{No}",
    "attrs": {"名称": {"name": "name", "type": "Text"}},
    "location": {"lat": "緯度", "lon": "経度"},
}


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (CSV_TEXT.encode("cp932"), "cp932"),
        (CSV_TEXT.encode("shift_jis"), "cp932"),
        (codecs.BOM_UTF8 + CSV_TEXT.encode("utf-8"), "utf-8-sig"),
        (CSV_TEXT.encode("utf-8"), "utf-8"),
        (CSV_TEXT.encode("euc_jp"), "euc_jp"),
    ],
)
def test_japanese_encodings_are_detected(encoded: bytes, expected: str):
    assert detect_encoding(encoded) == expected
    dataset = read_csv("f.csv", encoded)
    assert [r.fields["名称"] for r in dataset.records] == ["羽咋市役所", "加賀市役所"]
    assert list(dataset.records[0].fields) == ["No", "名称", "緯度", "経度"]


def test_rows_are_labelled_with_their_line_and_bad_rows_keep_a_problem():
    data = (
        'No,名称\r\n1,羽咋\r\n\r\n2,"加賀\r\n市"\r\n3,能美,余分\r\n'.encode("cp932")
        + b"4,\x82\r\n5,\x8b\xe0\x91\xf2\r\n"
    )
    records = read_csv("f.csv", data).records
    assert [r.label for r in records] == ["row 2", "row 4", "row 6", "row 7", "row 8"]
    assert records[1].fields["名称"] == "加賀\r\n市"
    assert records[2].problem == "has 3 fields, the header has 2"
    assert records[3].problem == "holds bytes that are not valid cp932 (the file's encoding)"
    assert records[4].fields["名称"] == "金沢" and records[4].problem is None


def test_geojson_features_and_bad_geometries():
    data = (
        b'{"type":"FeatureCollection","features":['
        b'{"type":"Feature","properties":{"a":1},"geometry":{"type":"Point","coordinates":[136.3,36.3]}},'
        b'{"type":"Feature","properties":{"a":2},"geometry":{"type":"Point","coordinates":[36.3,136.3]}},'
        b'{"type":"Feature","properties":{"a":3},"geometry":null}, 5]}'
    )
    records = read_geojson("s.geojson", data).records
    assert records[0] == Record("feature 1", {"a": 1}, {"type": "Point", "coordinates": [136.3, 36.3]})
    assert (
        records[1].problem == "geometry has position (36.3, 136.3) outside longitude [-180, 180] / latitude [-90, 90]"
    )
    assert records[2].geometry is None and records[2].problem is None
    assert records[3].problem == "is not a GeoJSON Feature"
    with pytest.raises(NotGeoJson):
        read_geojson("x", b'{"type": "Topology"}')


def test_ids_keep_valid_text_and_sanitise_the_rest_deterministically():
    assert sanitize_id("AED-001") == "AED-001"
    a, b = sanitize_id("AED-金沢駅"), sanitize_id("AED-金沢港")
    assert a.startswith("AED-___~") and is_valid_name(a) and a != b and a == sanitize_id("AED-金沢駅")
    assert is_valid_name(sanitize_id("a b/c#d(e)"))
    assert len(sanitize_id("長" * 400)) <= 256


def test_column_types_are_inferred_over_the_whole_column():
    assert infer_type(["1", "2.5", ""], "UTC") == "Number"
    assert infer_type(["0761-72-1111", "1"], "UTC") == "Text"
    assert infer_type(["0123"], "UTC") == "Text"  # a leading zero is a code, not a number
    assert infer_type(["TRUE", "false"], "UTC") == "Boolean"
    assert infer_type(["2024/04/01", "2024-05-10T09:00:00"], "UTC") == "DateTime"
    assert infer_type([1, 2.5], "UTC") == "Number"
    assert infer_type(["1", "x"], "UTC") == "Text"


def test_naive_dates_are_read_in_the_mapping_time_zone():
    assert parse_datetime("2024/04/01", "Asia/Tokyo") == "2024-03-31T15:00:00.000Z"
    assert parse_datetime("2024-04-01T09:30:00Z", "Asia/Tokyo") == "2024-04-01T09:30:00.000Z"


def test_record_becomes_an_entity_with_a_point_longitude_first():
    mapping = parse_mapping(MAPPING)
    record = Record("row 2", {"No": "1", "名称": "羽咋市役所", "緯度": "36.893", "経度": "136.779", "other": "x"})
    assert to_entity(mapping, record, column_types(mapping, [record])) == {
        "id": "AED-1",
        "type": "AED",
        "name": {"type": "Text", "value": "羽咋市役所"},
        "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [136.779, 36.893]}},
    }


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"No": "1", "名称": "x", "緯度": "95", "経度": "136"}, "latitude 95.0 is outside [-90, 90]"),
        ({"No": "1", "名称": "x", "緯度": "36", "経度": "-181"}, "longitude -181.0 is outside [-180, 180]"),
        ({"No": "1", "名称": "x", "緯度": "北緯36", "経度": "136"}, "coordinates '北緯36', '136' are not numbers"),
        ({"No": "1", "名称": "x", "緯度": "", "経度": "136"}, "latitude (緯度) or longitude (経度) is empty"),
        (
            {"No": "", "名称": "x", "緯度": "36", "経度": "136"},
            "id template 'AED-{No}' needs column 'No', which is missing or empty",
        ),
        (
            {"No": "1", "名称": "a(b)", "緯度": "36", "経度": "136"},
            "column '名称': 'a(b)' holds characters NGSI-v2 forbids",
        ),
    ],
)
def test_records_that_cannot_be_imported_say_why(fields: dict[str, str], reason: str):
    mapping = parse_mapping(MAPPING)
    with pytest.raises(ValueError) as e:
        to_entity(mapping, Record("row 2", fields), {"名称": "Text"})
    assert str(e.value).startswith(reason)


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"id": "A-{x}"},
        {"type": "A B", "id": "A-{x}"},
        {"type": "A", "id": "fixed"},
        {"type": "A", "id": "A-{x}", "attrs": {"c": "id"}},
        {"type": "A", "id": "A-{x}", "attrs": {"c": {"name": "n", "type": "T T"}}},
        {"type": "A", "id": "A-{x}", "location": {"lat": "y"}},
        {"type": "A", "id": "A-{x}", "timezone": "Mars/Base"},
        {"type": "A", "id": "A-{x}", "attrs": {"c": "n", "d": "n"}},
    ],
)
def test_invalid_mappings_are_refused(doc: object):
    with pytest.raises(MappingError):
        parse_mapping(doc)


def test_diff_compares_as_the_broker_renders():
    desired = {
        "id": "a",
        "type": "T",
        "n": {"type": "Number", "value": 2.0},
        "t": {"type": "Text", "value": "x"},
        "b": {"type": "Boolean", "value": True},
        "g": {"type": "geo:json", "value": {"type": "Point", "coordinates": [1.0, 2]}},
    }
    held = {
        "id": "a",
        "type": "T",
        "n": {"type": "Number", "value": 2, "metadata": {}},
        "t": {"type": "Text", "value": "x"},
        "b": {"type": "Boolean", "value": 1},
        "g": {"type": "geo:json", "value": {"type": "Point", "coordinates": [1, 2]}},
    }
    assert changed_attrs(desired, held) == ["b"]
    assert changed_attrs({"id": "a", "type": "T", "n": {"type": "Text", "value": "2"}}, held) == ["n"]
