"""Forwarding as Orion's functional cases on context providers exercise it (0787_cprs_full_functional_v2,
3068_ngsi_v2_based_forwarding), replayed in our own words: brokers of ours as providers, or the
scripted provider of tests/providers.py, and what the client and the provider see."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.providers import Provider
from tests.registrations import test_forwarding as fwd
from tests.registrations.test_forwarding import Factory, create, register

make_broker = fwd.make_broker  # the fixtures of the forwarding tests: brokers of ours on each backend
broker = fwd.broker

NOT_UPDATED = "Some of the following attributes were not updated: "


def text(name: str, value: str) -> dict[str, dict[str, str]]:
    return {name: {"type": "Text", "value": value}}


async def test_attributes_registered_apart_for_one_provider_are_asked_in_one_request(
    broker: TestClient,
    provider: Provider,
) -> None:
    await create(broker, {"id": "E1", "type": "T", **text("A3", "here")})
    provider.add("E1", "T", **text("A1", "one"), **text("A2", "two"))
    await register(broker, provider.url(), [{"id": "E1", "type": "T"}], ["A1"])
    await register(broker, provider.url(), [{"id": "E1", "type": "T"}], ["A2"])

    by_id = await broker.get("/v2/entities/E1?type=T&options=keyValues")
    listed = await broker.post("/v2/op/query?options=keyValues", json={"entities": [{"id": "E1", "type": "T"}]})

    expected = {"id": "E1", "type": "T", "A1": "one", "A2": "two", "A3": "here"}
    assert (by_id.status, await by_id.json()) == (200, expected)
    assert (listed.status, await listed.json()) == (200, [expected])
    # one request per read, not one per registration; the page left for it is 20 less E1 found here
    assert [(q.path_qs, q.body) for q in provider.queries] == [
        ("/v2/op/query?limit=19&offset=0&options=count", b'{"entities":[{"id":"E1","type":"T"}],"attrs":["A1","A2"]}')
    ] * 2


async def test_updates_for_one_provider_leave_in_one_request(broker: TestClient, provider: Provider) -> None:
    await register(broker, provider.url(), [{"id": "E1", "type": "T"}], ["A1"])
    await register(broker, provider.url(), [{"id": "E1", "type": "T"}], ["A2"])
    await register(broker, provider.url(), [{"id": "E2", "type": "T"}], ["A1"])

    r = await broker.post(
        "/v2/op/update",
        json={
            "actionType": "update",
            "entities": [
                {"id": "E1", "type": "T", **text("A1", "a"), **text("A2", "b")},
                {"id": "E2", "type": "T", **text("A1", "c")},
            ],
        },
    )

    assert r.status == 204
    (sent,) = provider.updates
    meta = {"metadata": {}}
    assert sent.json() == {
        "actionType": "update",
        "entities": [
            {"id": "E1", "type": "T", "A1": {**text("A1", "a")["A1"], **meta}, "A2": {**text("A2", "b")["A2"], **meta}},
            {"id": "E2", "type": "T", "A1": {**text("A1", "c")["A1"], **meta}},
        ],
    }


async def test_provider_that_updates_part_is_reported_only_for_what_it_refused(make_broker: Factory) -> None:
    cb, cp = await make_broker("cb"), await make_broker("cp")
    await create(cp, {"id": "E1", "type": "T", **text("A1", "at the provider")})
    await register(cb, str(cp.make_url("/v2")), [{"id": "E1", "type": "T"}], ["A1", "A2"])

    r = await cb.patch("/v2/entities/E1/attrs?type=T", json={**text("A1", "new"), **text("A2", "new")})

    # the provider answers 422 "do not exist: E1/T - [ A2 ]": A1 was updated there, A2 was not
    assert (r.status, await r.json()) == (
        404,
        {"error": "PartialUpdate", "description": NOT_UPDATED + "{ E1-T : [A2] }"},
    )
    at_provider = await cp.get("/v2/entities/E1?type=T&options=keyValues")
    assert await at_provider.json() == {"id": "E1", "type": "T", "A1": "new"}


async def test_update_lists_what_nobody_holds_before_what_providers_refused(make_broker: Factory) -> None:
    cb, cp = await make_broker("cb"), await make_broker("cp")
    for entity_id in ("E1", "E2"):
        await create(cp, {"id": entity_id, "type": "T", **text("A1", "at the provider")})
        await register(cb, str(cp.make_url("/v2")), [{"id": entity_id, "type": "T"}], ["A1"])
    await register(cb, str(cp.make_url("/v2")), [{"id": "E2", "type": "T"}], ["A4"])  # the provider lacks it
    await create(cb, {"id": "E1", "type": "T", **text("A4", "here")})
    attrs = {**text("A1", "new"), **text("A4", "new"), **text("A5", "new")}

    r = await cb.post(
        "/v2/op/update",
        json={"actionType": "update", "entities": [{"id": e, "type": "T", **attrs} for e in ("E1", "E2")]},
    )

    # A5 is neither here nor registered; E2's A4 is registered but its provider refuses it
    assert (r.status, await r.json()) == (
        404,
        {"error": "PartialUpdate", "description": NOT_UPDATED + "{ E1-T : [A5], E2-T : [A5, A4] }"},
    )
    here = await cb.get("/v2/entities/E1?type=T&options=keyValues,skipForwarding")
    assert await here.json() == {"id": "E1", "type": "T", "A4": "new"}
    there = await cp.post("/v2/op/query?options=keyValues", json={"entities": [{"idPattern": ".*", "type": "T"}]})
    assert await there.json() == [{"id": "E1", "type": "T", "A1": "new"}, {"id": "E2", "type": "T", "A1": "new"}]


async def test_forwarded_update_with_an_attribute_nobody_holds_is_a_404_partial_update(
    broker: TestClient,
    provider: Provider,
) -> None:
    await create(broker, {"id": "E1", "type": "T", **text("A1", "here")})
    await register(broker, provider.url(), [{"id": "E1", "type": "T"}], ["A2"])

    patched = await broker.patch("/v2/entities/E1/attrs?type=T", json={**text("A2", "x"), **text("A9", "x")})
    batched = await broker.post(
        "/v2/op/update",
        json={
            "actionType": "update",
            "entities": [{"id": "E1", "type": "T", **text("A1", "y"), **text("A2", "y"), **text("A9", "y")}],
        },
    )
    unforwarded = await broker.post(
        "/v2/op/update",
        json={"actionType": "update", "entities": [{"id": "E1", "type": "T", **text("A1", "z"), **text("A9", "z")}]},
    )

    # Orion answers so an update it forwarded, not with the 422 "do not exist" of a local one
    partial = {"error": "PartialUpdate", "description": NOT_UPDATED + "{ E1-T : [A9] }"}
    assert (patched.status, await patched.json()) == (404, partial)
    assert (batched.status, await batched.json()) == (404, partial)
    assert (unforwarded.status, await unforwarded.json()) == (
        422,
        {"error": "PartialUpdate", "description": "do not exist: E1/T - [ A9 ]"},
    )
    assert [u.json()["entities"][0]["A2"]["value"] for u in provider.updates] == ["x", "y"]
    here = await broker.get("/v2/entities/E1?type=T&options=keyValues,skipForwarding")
    assert await here.json() == {"id": "E1", "type": "T", "A1": "z"}


async def test_list_projected_on_an_attribute_still_shows_every_providers_entity(make_broker: Factory) -> None:
    cb = await make_broker("cb")
    providers = [await make_broker(f"cp{i}") for i in (1, 2)]
    for i, cp in enumerate(providers, 1):
        await create(cp, {"id": f"E{i}", "type": "T", f"A{i}": {"value": i}})
        await register(cb, str(cp.make_url("/v2")), [{"idPattern": ".*", "type": "T"}], [f"A{i}"])

    projected = await cb.get("/v2/entities?type=T&attrs=A1&options=keyValues")
    filtered = await cb.post(
        "/v2/op/query?options=keyValues", json={"entities": [{"idPattern": ".*", "type": "T"}], "attributes": ["A1"]}
    )

    # `attrs` projects: E2 is listed without attributes, as it would be if it were held here
    assert (projected.status, await projected.json()) == (
        200,
        [{"id": "E1", "type": "T", "A1": 1}, {"id": "E2", "type": "T"}],
    )
    # the deprecated `attributes` filters: only entities with one of them
    assert (filtered.status, await filtered.json()) == (200, [{"id": "E1", "type": "T", "A1": 1}])
