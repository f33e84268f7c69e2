"""The published JSON Schemas (schemas/*.schema.json) are valid and agree with the payload parser.

Agreement is the contract: for any request body, the schema accepts it exactly when
`broker.ngsi.payload` does not raise `NgsiError` (one exception: Orion's nesting limit of 50
levels, which JSON Schema cannot express; the generated values stay well below it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from broker.ngsi.errors import NgsiError
from broker.ngsi.operators import OPERATORS
from broker.ngsi.payload import parse_attribute, parse_attributes, parse_entity, parse_json_value, parse_metadata
from broker.ngsi.validation import FORBIDDEN_CHARS, FORBIDDEN_ID_CHARS, RESERVED_ATTR_NAMES

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
NAMES = ("entity", "attribute", "metadata")
DOCS: dict[str, dict[str, Any]] = {n: json.loads((SCHEMAS / f"{n}.schema.json").read_text()) for n in NAMES}
REGISTRY: Registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in DOCS.values())


def validator(name: str, pointer: str = "") -> Draft202012Validator:
    """A validator for a schema file, or for one of its `$defs` (`pointer` like `/$defs/keyValues`)."""
    uri = DOCS[name]["$id"]
    return Draft202012Validator({"$ref": f"{uri}#{pointer}"} if pointer else DOCS[name], registry=REGISTRY)


ENTITY = validator("entity")
ENTITY_KV = validator("entity", "/$defs/keyValues")
ATTRIBUTE = validator("attribute")
ATTRIBUTES = validator("attribute", "/$defs/attributes")
ATTRIBUTES_KV = validator("attribute", "/$defs/keyValuesAttributes")
JSON_VALUE = validator("attribute", "/$defs/jsonValue")
METADATA = validator("metadata")


def parser_accepts(parse: Callable[[], Any]) -> bool:
    try:
        parse()
    except NgsiError:
        return False
    return True


# ---------------------------------------------------------------- the schemas themselves


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12_with_id_named_after_its_file(name: str) -> None:
    doc = DOCS[name]
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"].endswith(f"/{name}.schema.json")


def test_schema_ids_share_one_base_so_relative_refs_resolve() -> None:
    bases = {d["$id"].rsplit("/", 1)[0] for d in DOCS.values()}
    assert len(bases) == 1


def test_identifier_rules_follow_the_parser_character_sets() -> None:
    """Every printable ASCII character is allowed in identifiers exactly when the parser allows it."""
    ident = validator("metadata", "/$defs/identifier")
    safe = validator("metadata", "/$defs/safeString")
    for code in range(0, 128):
        c = chr(code)
        assert ident.is_valid(c) == ("!" <= c <= "~" and c not in FORBIDDEN_ID_CHARS), repr(c)
        assert safe.is_valid(f"a{c}b") == (c not in FORBIDDEN_CHARS), repr(c)
    assert not ident.is_valid("é")
    assert ident.is_valid("a" * 256) and not ident.is_valid("a" * 257) and not ident.is_valid("")


def test_reserved_attribute_names_match_the_parser() -> None:
    name = validator("metadata", "/$defs/attributeName")
    assert {n for n in RESERVED_ATTR_NAMES if not name.is_valid(n)} == set(RESERVED_ATTR_NAMES)
    assert name.is_valid("geo:location")


def test_operator_names_match_the_parser() -> None:
    assert DOCS["attribute"]["$defs"]["operator"]["propertyNames"]["enum"] == list(OPERATORS)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"id": "Room1"}, True),
        ({"id": "Room1", "type": "Room", "t": {"value": 23, "type": "Float", "metadata": {"u": {"value": "C"}}}}, True),
        ({"type": "Room"}, False),
        ({"id": ""}, False),
        ({"id": "a" * 256, "type": "b" * 256}, True),
        ({"id": "a" * 257}, False),
        ({"id": "Room 1"}, False),
        ({"id": "Room1", "type": "Ro/om"}, False),
        ({"id": "Room1", "geo:distance": {"value": 1}}, False),
        ({"id": "Room1", "*": {"value": 1}}, False),
        ({"id": "Room1", "t": 23}, False),
        ({"id": "Room1", "t": {"value": 23, "unit": "C"}}, False),
        ({"id": "Room1", "t": {"value": "a<b"}}, False),
        ({"id": "Room1", "t": {"value": "a<b", "type": "TextUnrestricted"}}, True),
        ({"id": "Room1", "t": {"value": {"k<": ["ok", 1, None]}}}, True),
        ({"id": "Room1", "t": {"value": ["x", {"y": "(z)"}]}}, False),
        ({"id": "Room1", "t": {"value": 1, "metadata": {"m": {"value": 1, "type": "x", "extra": 1}}}}, False),
        ({"id": "Room1", "t": {"value": 1, "metadata": {"m": {"value": "a;"}}}}, False),
        ({"id": "Room1", "t": {"value": "x", "type": "TextUnrestricted", "metadata": {"m": {"value": "a;"}}}}, False),
        ({"id": "Room1", "t": {"value": "a<b", "metadata": {"TextUnrestricted": {"value": True}}}}, True),
        (
            {"id": "Room1", "t": {"value": ["(x)"], "type": "Html", "metadata": {"TextUnrestricted": {"value": True}}}},
            True,
        ),
        ({"id": "Room1", "t": {"value": "a<b", "metadata": {"TextUnrestricted": {"value": False}}}}, False),
        ({"id": "Room1", "t": {"value": "a<b", "metadata": {"TextUnrestricted": {"value": 1}}}}, False),
        ({"id": "Room1", "t": {"value": "a<b", "metadata": {"TextUnrestricted": {"type": "Boolean"}}}}, False),
        ({"id": "Room1", "t": {"value": 1, "metadata": []}}, False),
        ({"id": "Room1", "d": {"type": "DateTime", "value": "2024-02-29T23:59:60.123456789+23:59"}}, True),
        ({"id": "Room1", "d": {"type": "DateTime", "value": "2023-02-29"}}, False),
        ({"id": "Room1", "d": {"type": "ISO8601", "value": "2000-02-29T10"}}, True),
        ({"id": "Room1", "d": {"type": "ISO8601", "value": "1900-02-29T10"}}, False),
        ({"id": "Room1", "d": {"type": "DateTime", "value": "2024-01-01Z"}}, False),
        ({"id": "Room1", "d": {"type": "DateTime"}}, True),  # null is a DateTime value (Orion accepts it)
        ({"id": "Room1", "d": {"type": "DateTime", "value": None, "metadata": {"m": {"type": "DateTime"}}}}, True),
        ({"id": "Room1", "t": {"value": 1, "metadata": {"m": {"value": {"k": "it's"}}}}}, True),
        ({"id": "Room1", "t": {"value": 1, "metadata": {"m": {"value": "it's"}}}}, False),
        ({"id": "Room1", "d": {"type": "DateTime", "value": {"$inc": 1}}}, True),
        ({"id": "Room1", "d": {"type": "DateTime", "value": {"$inc": 1, "$mul": 2}}}, False),
        ({"id": "Room1", "d": {"type": "DateTime", "value": {"$max": "2024-01-01T1030"}}}, True),
        ({"id": "Room1", "d": {"type": "DateTime", "value": {"$min": "yesterday"}}}, False),
        ({"id": "Room1", "d": {"type": "DateTime", "value": "2024-01-01T103000.5+0100"}}, True),
        ({"id": "Room1", "d": {"type": "DateTime", "value": "2024-01-01T10:3000"}}, False),
        (
            {"id": "Room1", "t": {"value": 1, "metadata": {"m": {"type": "DateTime", "value": "2024-01-01T00:00Z"}}}},
            True,
        ),
        ({"id": "Room1", "t": {"value": 1, "metadata": {"m": {"type": "DateTime", "value": {"$inc": 1}}}}}, False),
        ([{"id": "Room1"}], False),
    ],
)
def test_entity_schema_and_parser_agree_on_landmark_payloads(body: Any, valid: bool) -> None:
    assert ENTITY.is_valid(body) is valid
    assert parser_accepts(lambda: parse_entity(body)) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"id": "Room1", "t": 23, "s": {"value": "nested", "unit": "C"}, "n": None}, True),
        ({"id": "Room1", "t": "a=b"}, False),
        ({"id": "Room1", "t": {"type": "TextUnrestricted", "value": "a=b"}}, False),
        ({"id": "Room1", "d": {"type": "DateTime", "value": "not a date"}}, True),
    ],
)
def test_key_values_entity_schema_and_parser_agree_on_landmark_payloads(body: Any, valid: bool) -> None:
    assert ENTITY_KV.is_valid(body) is valid
    assert parser_accepts(lambda: parse_entity(body, key_values=True)) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [({}, False), ({"id": {"value": 1}}, False), ({"type": {"value": 1}}, False), ({"a": {"value": 1}}, True)],
)
def test_attributes_schema_and_parser_agree_on_landmark_payloads(body: Any, valid: bool) -> None:
    assert ATTRIBUTES.is_valid(body) is valid
    assert parser_accepts(lambda: parse_attributes(body)) is valid


# ---------------------------------------------------------------- generated payloads

ID_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E)  # printable ASCII, some of it forbidden
NASTY = " \t\n\x7f&?/#<>\"'=;()é"
valid_identifiers = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="".join(FORBIDDEN_ID_CHARS)),
    min_size=1,
    max_size=8,
)
identifiers = st.one_of(  # mostly valid, so that whole payloads are valid often enough
    valid_identifiers,
    valid_identifiers,
    valid_identifiers,
    st.text(st.one_of(ID_ALPHABET, st.sampled_from(NASTY)), max_size=6),
    st.sampled_from(["", "id", "type", "geo:distance", "*", "a" * 256, "a" * 257, "DateTime", "TextUnrestricted"]),
)
types = st.one_of(
    st.sampled_from(["Text", "Number", "DateTime", "ISO8601", "TextUnrestricted", "StructuredValue"]),
    identifiers,
    st.sampled_from([None, 1, True, ["Text"]]),
)
strings = st.one_of(
    st.text(st.sampled_from("ab1 .:-T&?#é\n"), max_size=5),
    st.text(st.sampled_from("ab1 .:-T<>\"'=;()&?#é\n"), max_size=5),
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), strings),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(strings, inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def iso_dates(draw: st.DrawFn) -> str:
    """Dates near the edge of Orion's grammar: out-of-range fields, leap days, odd zones and separators."""
    year = draw(
        st.one_of(st.integers(1, 9999).map(lambda y: f"{y:04d}"), st.sampled_from(["2000", "1900", "2024", "99"]))
    )
    month = draw(st.integers(0, 13))
    day = draw(st.one_of(st.integers(0, 32), st.sampled_from([28, 29, 30, 31])))
    text = f"{year}-{month:02d}-{day:02d}"
    if draw(st.booleans()):
        text += "T" + f"{draw(st.integers(0, 25)):02d}"
        for _ in range(draw(st.integers(0, 2))):
            text += draw(st.sampled_from([":", ""])) + f"{draw(st.integers(0, 61)):02d}"
        if draw(st.booleans()):
            text += "." + draw(st.text(st.sampled_from("0123456789"), min_size=0, max_size=10))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["Z", "+01", "-0130", "+05:30", "+24", "-02:60", "+1", "z"]))
    return text


operators = st.builds(lambda op, arg: {op: arg}, st.sampled_from([*OPERATORS, "$bad"]), st.one_of(values, iso_dates()))
attr_values = st.one_of(values, iso_dates(), st.text(st.sampled_from("0123456789-T:.Z+x"), max_size=12), operators)


def objects(
    fields: dict[str, st.SearchStrategy[Any]], extra: st.SearchStrategy[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of `fields`, and now and then an extra key."""
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda d: st.one_of(st.just(d), st.builds(lambda k: {**d, k: 1}, extra))
    )


metadata_objects = st.one_of(
    objects({"value": attr_values, "type": types}, st.sampled_from(["name", "metadata", "unit"])),
    objects({"value": values}, st.sampled_from(["name", "metadata", "unit"])),
    values,
)
metadata_maps = st.one_of(st.dictionaries(identifiers, metadata_objects, max_size=2), values)
attribute_objects = st.one_of(
    objects({"value": attr_values, "type": types, "metadata": metadata_maps}, st.sampled_from(["name", "unit"])),
    objects(
        {"value": values, "metadata": st.dictionaries(valid_identifiers, metadata_objects, max_size=2)}, st.just("unit")
    ),
    values,
)
safe_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(st.sampled_from("ab1 .:-T&?#é"), max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(strings, inner, max_size=2)),
    max_leaves=4,
)
plain_attributes = objects(
    {"value": st.one_of(safe_values, values), "type": st.sampled_from(["Text", "Number", "Room", "TextUnrestricted"])},
    st.just("unit"),
)
attribute_maps = st.one_of(
    st.dictionaries(identifiers, attribute_objects, max_size=3),
    st.dictionaries(valid_identifiers, st.one_of(plain_attributes, attribute_objects), max_size=3),
)
key_value_maps = st.dictionaries(identifiers, values, max_size=3)


def with_id_and_type(attrs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Entity-shaped objects (usually with a valid id and type), and now and then some other JSON value."""
    head = st.fixed_dictionaries({"id": valid_identifiers}, optional={"type": valid_identifiers})
    odd_head = st.fixed_dictionaries({}, optional={"id": st.one_of(identifiers, types), "type": types})

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        kind = draw(st.integers(0, 7))
        if kind == 0:
            return draw(values)
        return {**draw(odd_head if kind == 1 else head), **draw(attrs)}

    return build()


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(with_id_and_type(attribute_maps))
def test_entity_schema_accepts_exactly_what_parse_entity_accepts(body: Any) -> None:
    assert ENTITY.is_valid(body) == parser_accepts(lambda: parse_entity(body))


@PROPERTY
@given(with_id_and_type(key_value_maps))
def test_key_values_entity_schema_accepts_exactly_what_parse_entity_accepts(body: Any) -> None:
    assert ENTITY_KV.is_valid(body) == parser_accepts(lambda: parse_entity(body, key_values=True))


@PROPERTY
@given(attribute_objects)
def test_attribute_schema_accepts_exactly_what_parse_attribute_accepts(body: Any) -> None:
    assert ATTRIBUTE.is_valid(body) == parser_accepts(lambda: parse_attribute("temperature", body))


@PROPERTY
@given(st.one_of(attribute_maps, with_id_and_type(attribute_maps)))
def test_attributes_schema_accepts_exactly_what_parse_attributes_accepts(body: Any) -> None:
    assert ATTRIBUTES.is_valid(body) == parser_accepts(lambda: parse_attributes(body))


@PROPERTY
@given(st.one_of(key_value_maps, with_id_and_type(key_value_maps)))
def test_key_values_attributes_schema_accepts_exactly_what_parse_attributes_accepts(body: Any) -> None:
    assert ATTRIBUTES_KV.is_valid(body) == parser_accepts(lambda: parse_attributes(body, key_values=True))


@PROPERTY
@given(
    st.sampled_from(["DateTime", "ISO8601"]),
    st.one_of(iso_dates(), st.text(st.sampled_from("0123456789-T:.Z+"), max_size=16)),
)
def test_datetime_value_schema_accepts_exactly_what_the_parser_accepts(atype: str, text: str) -> None:
    body = {"type": atype, "value": text}
    assert ATTRIBUTE.is_valid(body) == parser_accepts(lambda: parse_attribute("when", body))
    assert METADATA.is_valid(body) == parser_accepts(lambda: parse_metadata({"when": body}))


@PROPERTY
@given(metadata_objects)
def test_metadata_schema_accepts_exactly_what_parse_metadata_accepts(body: Any) -> None:
    assert METADATA.is_valid(body) == parser_accepts(lambda: parse_metadata({"unit": body}))


@PROPERTY
@given(values)
def test_json_value_schema_accepts_exactly_what_parse_json_value_accepts(body: Any) -> None:
    assert JSON_VALUE.is_valid(body) == parser_accepts(lambda: parse_json_value(body))


# ---------------------------------------------------------------- known disagreements


@pytest.mark.parametrize("text", ["2024-01-01\n", "٢٠٢٤-01-01", "2024-01-01T10:00:00Z\n"])
def test_parser_refuses_datetimes_the_schema_refuses(text: str) -> None:
    body = {"id": "Room1", "d": {"type": "DateTime", "value": text}}
    assert not ENTITY.is_valid(body)
    assert not parser_accepts(lambda: parse_entity(body))
