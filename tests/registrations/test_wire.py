"""Forwarded requests on the wire as Orion builds them, and providers' answers read back."""

from __future__ import annotations

import pytest

from broker.ngsi.model import Attribute
from broker.registrations.wire import (
    ForwardedEntity,
    ProviderAnswerError,
    forwarded_headers,
    hops,
    parse_query_answer,
    parse_total,
    parse_update_failures,
    passed_through,
    provider_url,
    query_body,
    update_body,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://cp:1234/v2", "http://cp:1234/v2/op/query"),
        ("http://cp:1234", "http://cp:1234//op/query"),  # IoT Agents listen on //op/query for this
        ("http://cp:1234/", "http://cp:1234//op/query"),
        ("https://cp/a/", "https://cp/a//op/query"),
    ],
)
def test_provider_url_is_orions_concatenation(url: str, expected: str) -> None:
    assert provider_url(url, "query") == expected


def test_query_body_is_compact_with_attrs_always_present() -> None:
    body = query_body([ForwardedEntity("E1", None, "T"), ForwardedEntity(None, ".*", None)], [])
    assert body == b'{"entities":[{"id":"E1","type":"T"},{"idPattern":".*"}],"attrs":[]}'


def test_update_body_is_an_update_of_normalized_attributes() -> None:
    body = update_body([("E1", "T", {"on": Attribute("Boolean", True, {})})])
    assert (
        body
        == b'{"actionType":"update","entities":[{"id":"E1","type":"T","on":{"type":"Boolean","value":true,"metadata":{}}}]}'
    )


def test_headers_pass_tenant_path_token_and_mark_the_correlator() -> None:
    headers = forwarded_headers(
        tenant="city", service_path="", auth_token="tok", correlator="c1", index=2, via="1.1 proxy", instance="me"
    )
    assert headers["Fiware-Service"] == "city"
    assert headers["Fiware-ServicePath"] == "/"
    assert headers["X-Auth-Token"] == "tok"
    assert headers["Fiware-Correlator"] == "c1; cbfwd=2"
    assert headers["Via"] == "1.1 proxy, 1.1 me"
    assert "Fiware-Service" not in forwarded_headers(
        tenant="", service_path="/a", auth_token="", correlator="c", index=1, via="", instance="me"
    )


def test_loop_marks_count_hops_and_recognise_this_broker() -> None:
    assert hops("c1") == 0
    assert hops("c1; cbfwd=1; cbfwd=3") == 2
    assert passed_through("1.1 proxy, 1.1 me", "me")
    assert not passed_through("1.1 proxy, 1.1 meme", "me")


def test_query_answer_is_an_array_of_normalized_entities() -> None:
    (entity,) = parse_query_answer(b'[{"id":"E1","type":"T","a":{"type":"Number","value":3}}]')
    assert (entity.id, entity.type, entity.attrs["a"].value) == ("E1", "T", 3)


@pytest.mark.parametrize("body", [b"", b"<html/>", b'{"error":"NotFound"}', b'[{"type":"T"}]', b"[1]"])
def test_anything_else_from_a_provider_fails_as_a_whole(body: bytes) -> None:
    with pytest.raises(ProviderAnswerError):
        parse_query_answer(body)


def test_total_count_header_is_read_leniently() -> None:
    assert (parse_total("12"), parse_total(None), parse_total("many")) == (12, 0, 0)


def test_provider_refusal_names_the_attributes_it_did_not_update() -> None:
    sent = [("E1", "T", ["A1", "A2"]), ("E2", "T", ["A3"]), ("E3", "T", ["A4"])]
    answer = b'{"error":"PartialUpdate","description":"do not exist: E1/T - [ A2 ], E2/T [entity itself]"}'

    assert parse_update_failures(answer, sent) == {("E1", "T"): ["A2"], ("E2", "T"): ["A3"]}
    untyped = b'{"error":"PartialUpdate","description":"do not exist: E1 - [ A1, A2 ]"}'
    assert parse_update_failures(untyped, sent) == {("E1", "T"): ["A1", "A2"]}


def test_provider_refusal_that_names_nothing_sent_leaves_everything_not_updated() -> None:
    sent = [("E1", "T", ["A1"])]
    not_found = b'{"error":"NotFound","description":"The requested entity has not been found. Check type and id"}'
    assert parse_update_failures(not_found, sent) is None
    assert parse_update_failures(b"<html>no</html>", sent) is None
    assert parse_update_failures(b'{"description":"do not exist: E9/T - [ A1 ]"}', sent) is None


def test_provider_refusal_too_long_to_be_orions_is_not_read() -> None:
    sent = [("E1", "T", ["A1", "A2"])]
    huge = b'{"description":"do not exist: E1/T - [ A2 ]' + b", x/T - [ y ]" * 10_000 + b'"}'
    assert parse_update_failures(huge, sent) is None
