"""Orion's validation of a registration body, check by check and in its order (pure: no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from broker.ngsi.errors import NgsiError
from broker.ngsi.registration import ProvidedEntity
from broker.registrations.parse import parse_registration

GOOD: dict[str, Any] = {
    "dataProvided": {"entities": [{"id": "room2", "type": "Room"}], "attrs": ["relativeHumidity"]},
    "provider": {"http": {"url": "http://localhost:1234"}},
}


def _parse(body: Any):
    return parse_registration(body, new_id="5f1a2b3c4d5e6f7a8b9c0d01", tenant="t", service_path="/a")


def _with(**fields: Any) -> dict[str, Any]:
    return {**GOOD, **fields}


def _entity(**item: Any) -> dict[str, Any]:
    return _with(dataProvided={"entities": [item]})


CASES = [
    ([], "not a JSON object"),
    ({}, "empty payload"),
    (_with(description=1), "invalid description"),
    (_with(description="x" * 1025), "max description length exceeded"),
    (_with(description="a<b"), "forbidden characters in description"),
    ({"provider": GOOD["provider"]}, "the field /dataProvided/ is missing in payload"),
    (_with(dataProvided=[]), "/dataProvided/ must be a JSON object"),
    (_with(dataProvided={}), "/dataProvided/ is empty"),
    (_with(dataProvided={"entities": {}}), "/entities/ is not an array"),
    (_with(dataProvided={"entities": ["E"]}), "/entities/ vector item is not an object"),
    (_entity(type="T"), "/entities/ vector item does not have /id/ nor /idPattern/"),
    (_entity(id="E", idPattern=".*"), "/entities/ vector item has both /id/ and /idPattern/"),
    (_entity(id="E", type="T", typePattern="T.*"), "/entities/ element has both /type/ and /typePattern/"),
    (_entity(id=1), "/entities/ vector item /id/ is not a string"),
    (_entity(id=""), "/entities/ element id is empty"),
    (_entity(id="a/b"), "forbidden characters in /entities/ vector item /id/"),
    (_entity(id="x" * 257), "max id length exceeded in /entities/ vector item /id/"),
    (_entity(idPattern=1), "/entities/ vector item /idPattern/ is not a string"),
    (_entity(idPattern=""), "/entities/ vector item /idPattern/ is empty"),
    (_entity(idPattern="("), "Invalid regex for entity idPattern"),
    (_entity(id="E", type=1), "/entities/ vector item type is not a string"),
    (_entity(id="E", type="a#b"), "forbidden characters in /entities/ vector item /type/"),
    (_entity(id="E", type="x" * 257), "max type length exceeded in /entities/ vector item /type/"),
    (_entity(id="E", type=""), "entity type length: 0, min length supported: 1"),
    (_entity(id="E", typePattern=1), "/entities/ vector item /typePattern/ is not a string"),
    (_entity(id="E", typePattern=""), "/entities/ vector item /typePattern/ is empty"),
    (_entity(id="E", typePattern="("), "Invalid regex for entity typePattern"),
    (_with(dataProvided={"attrs": "A"}), "the field /attrs/ must be a JSON array"),
    (_with(dataProvided={"attrs": [1]}), "only JSON Strings allowed in string vector /attrs/"),
    (_with(dataProvided={"attrs": [""]}), "empty string found in string vector /attrs/"),
    ({"dataProvided": GOOD["dataProvided"]}, "the field /provider/ is missing in payload"),
    (_with(provider="http://x"), "/provider/ must be a JSON object"),
    (_with(provider={}), "/provider/ empty"),
    (_with(provider={"supportedForwardingMode": "all"}), "/provider/ must contain a field /http/"),
    (_with(provider={"http": "http://x"}), "/http/ must be a JSON object"),
    (_with(provider={"http": {}}), "/http/ must contain a field /url/"),
    (_with(provider={"http": {"url": 1}}), "/url/ field of /http/ must be a JSON string"),
    (_with(provider={"http": {"url": ""}}), "/url/ field of /http/ cannot be the empty string"),
    (_with(provider={"http": {"url": "ftp://host"}}), "/url/ field of /http/ is invalid"),
    (_with(provider={"http": {"url": "http://host:99999"}}), "/url/ field of /http/ is invalid"),
    (
        _with(provider={"http": {"url": "http://h"}, "supportedForwardingMode": 1}),
        "/supportedForwardingMode/ must be a JSON string",
    ),
    (
        _with(provider={"http": {"url": "http://h"}, "supportedForwardingMode": "some"}),
        "invalid value of /supportedForwardingMode/",
    ),
    (
        _with(provider={"http": {"url": "http://h"}, "legacyForwarding": "yes"}),
        "the field /legacyForwarding/ must be a boolean",
    ),
    (_with(expires=1), "expires is not a string"),
    (_with(expires="tomorrow"), "the field /expires/ has an invalid format"),
    (_with(status=1), "/status/ must be a string"),
    (_with(status="expired"), "invalid value for /status/"),
]


@pytest.mark.parametrize(("body", "description"), CASES, ids=[c[1] for c in CASES])
def test_a_malformed_registration_is_orions_400_with_its_description(body: Any, description: str) -> None:
    with pytest.raises(NgsiError) as caught:
        _parse(body)
    assert (caught.value.status, caught.value.error, caught.value.description) == (400, "BadRequest", description)


def test_the_first_failing_check_wins_in_orions_order() -> None:
    body = {"description": 1, "provider": {}, "status": "x"}  # description, then dataProvided, provider, status
    with pytest.raises(NgsiError) as caught:
        _parse(body)
    assert caught.value.description == "invalid description"
    with pytest.raises(NgsiError) as caught:
        _parse({"provider": {}, "status": "x", "dataProvided": {"attrs": [1]}})
    assert caught.value.description == "only JSON Strings allowed in string vector /attrs/"


@pytest.mark.parametrize(
    ("item", "description"),
    [
        ({"idPattern": "Room.*"}, "Unsupported idPattern"),
        ({"id": "E", "typePattern": "T.*"}, "Unsupported typePattern"),
    ],
)
def test_patterns_orion_does_not_implement_are_501(item: dict[str, Any], description: str) -> None:
    with pytest.raises(NgsiError) as caught:
        _parse(_entity(**item))
    assert (caught.value.status, caught.value.error, caught.value.description) == (501, "NotImplemented", description)


def test_a_good_registration_keeps_what_was_given_and_orions_defaults() -> None:
    reg = _parse(GOOD)
    assert reg.entities == (ProvidedEntity(id="room2", type="Room"),) and reg.attrs == ("relativeHumidity",)
    assert (reg.url, reg.forwarding_mode, reg.legacy_forwarding) == ("http://localhost:1234", "all", False)
    assert (reg.expires, reg.status, reg.description, reg.service_path) == (None, None, None, "/a")


def test_duplicates_are_dropped_unknown_fields_ignored_and_empty_entities_accepted() -> None:
    reg = _parse(
        {
            "dataProvided": {
                "entities": [{"id": "E"}, {"id": "E"}, {"idPattern": ".*", "type": "T"}],
                "attrs": ["A", "A"],
                "expression": {"q": "x>1"},
            },
            "provider": {
                "http": {"url": "https://p.example:8443/v2"},
                "supportedForwardingMode": "query",
                "legacyForwarding": True,
            },
            "forwardingInformation": {"timesSent": 3},
            "expires": "2030-01-01T00:00:00Z",
            "status": "inactive",
            "description": "",
        }
    )
    assert reg.entities == (ProvidedEntity(id="E"), ProvidedEntity(id_pattern=".*", type="T"))
    assert reg.attrs == ("A",) and reg.forwarding_mode == "query" and reg.legacy_forwarding is True
    assert (reg.expires, reg.status, reg.description) == (1893456000.0, "inactive", None)
    assert _parse(_with(dataProvided={"attrs": ["A"]})).entities == ()
    assert _parse(_with(expires="")).expires is None  # empty: permanent


def test_the_501_checks_run_after_every_item_is_parsed_idpattern_first() -> None:
    with pytest.raises(NgsiError) as caught:
        _parse(_with(dataProvided={"entities": [{"id": "E", "typePattern": "T"}, {"id": 5}]}))
    assert (caught.value.status, caught.value.description) == (400, "/entities/ vector item /id/ is not a string")
    with pytest.raises(NgsiError) as caught:
        _parse(_with(dataProvided={"entities": [{"id": "E", "typePattern": "T"}, {"idPattern": "E.*"}]}))
    assert (caught.value.status, caught.value.description) == (501, "Unsupported idPattern")
