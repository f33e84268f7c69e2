"""Forwarding to context providers over HTTP: a broker of ours in front of a scripted provider
(tests/providers.py), asserting what the client gets and what the provider was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker import __version__ as ORION_API_VERSION
from broker.http.settings import HttpSettings
from broker.registrations.forwarder import ForwardingSettings
from broker.runtime.app import build_app
from broker.storage.mongo import MongoStorage
from broker.storage.port import Storage
from broker.storage.sqlite import SqliteStorage
from tests.providers import Provider

Factory = Callable[..., Awaitable[TestClient]]


@pytest.fixture(params=["sqlite", "mongo"])
async def make_broker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    """Brokers of ours on fresh stores of each backend, `ForwardingSettings` as given (a short
    timeout by default)."""
    clients: list[TestClient] = []

    def store(name: str) -> Storage:
        if request.param == "sqlite":
            return SqliteStorage(str(tmp_path / f"{name}.db"))
        uri, prefix = request.getfixturevalue("mongo_db")
        return MongoStorage(uri, db=f"{prefix}{name}")

    async def make(name: str = "a", multiservice: bool = False, **settings: Any) -> TestClient:
        forwarding = ForwardingSettings(**{"timeout": 2.0, "instance": f"broker-{name}", **settings})
        app = build_app(store(name), HttpSettings(multiservice=multiservice), forwarding=forwarding)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def broker(make_broker: Factory) -> TestClient:
    return await make_broker()


async def register(
    client: TestClient, url: str, entities: list[dict[str, str]], attrs: list[str] | None = None, **provider: Any
) -> str:
    data: dict[str, Any] = {"entities": entities}
    if attrs is not None:
        data["attrs"] = attrs
    body = {"dataProvided": data, "provider": {"http": {"url": url}, **provider}}
    r = await client.post("/v2/registrations", json=body)
    assert r.status == 201, await r.text()
    return r.headers["Location"].rsplit("/", 1)[1]


async def create(client: TestClient, entity: dict[str, Any]) -> None:
    r = await client.post("/v2/entities", json=entity)
    assert r.status == 201, await r.text()


ROOM1 = {"id": "Room1", "type": "Room", "temperature": {"type": "Number", "value": 23}}


# -- queries -------------------------------------------------------------------------------------


async def test_lazy_attribute_is_asked_of_the_provider_and_merged(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    provider.add("Room1", "Room", pressure={"type": "Number", "value": 720})
    await register(broker, provider.url("/v2"), [{"id": "Room1", "type": "Room"}], ["pressure"])

    r = await broker.get("/v2/entities/Room1?type=Room", headers={"Fiware-Correlator": "corr-1"})

    assert r.status == 200
    assert await r.json() == {
        "id": "Room1",
        "type": "Room",
        "pressure": {"type": "Number", "value": 720, "metadata": {}},
        "temperature": {"type": "Number", "value": 23, "metadata": {}},
    }
    (sent,) = provider.queries
    # Orion's default page of 20 less the entity found here, which the provider only completes
    assert sent.path_qs == "/v2/op/query?limit=19&offset=0&options=count"
    assert sent.body == b'{"entities":[{"id":"Room1","type":"Room"}],"attrs":["pressure"]}'
    assert sent.headers["Fiware-ServicePath"] == "/"
    assert sent.headers["Fiware-Correlator"] == "corr-1; cbfwd=1"
    assert sent.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"] == f"orion/{ORION_API_VERSION}"
    assert "Fiware-Service" not in sent.headers


async def test_attribute_held_here_is_not_asked_of_the_provider(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    await register(broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["temperature"])

    r = await broker.get("/v2/entities/Room1/attrs/temperature/value?type=Room", headers={"Accept": "text/plain"})

    assert (r.status, await r.text()) == (200, "23")
    assert provider.requests == []


async def test_only_the_attributes_asked_for_are_forwarded(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    provider.add("Room1", "Room", pressure={"type": "Number", "value": 720}, humidity={"type": "Number", "value": 40})
    await register(broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["pressure", "humidity"])

    r = await broker.get("/v2/entities/Room1?type=Room&attrs=humidity&options=keyValues")

    assert (r.status, await r.json()) == (200, {"id": "Room1", "type": "Room", "humidity": 40})
    assert [q.json()["attrs"] for q in provider.queries] == [["humidity"]]


async def test_entity_held_only_by_the_provider_is_answered_by_every_read(
    broker: TestClient, provider: Provider
) -> None:
    provider.add("Lamp1", "Lamp", luminosity={"type": "Number", "value": 9})
    await register(broker, provider.url(), [{"id": "Lamp1", "type": "Lamp"}], ["luminosity"])

    whole = await broker.get("/v2/entities/Lamp1")
    attrs = await broker.get("/v2/entities/Lamp1/attrs?type=Lamp&options=keyValues")
    attr = await broker.get("/v2/entities/Lamp1/attrs/luminosity")
    value = await broker.get("/v2/entities/Lamp1/attrs/luminosity/value", headers={"Accept": "text/plain"})
    other = await broker.get("/v2/entities/Lamp1/attrs/colour")

    assert (whole.status, await whole.json()) == (
        200,
        {"id": "Lamp1", "type": "Lamp", "luminosity": {"type": "Number", "value": 9, "metadata": {}}},
    )
    assert (attrs.status, await attrs.json()) == (200, {"luminosity": 9})
    assert (attr.status, await attr.json()) == (200, {"type": "Number", "value": 9, "metadata": {}})
    assert (value.status, await value.text()) == (200, "9")
    assert other.status == 404
    # an untyped request is sent with the registration's type
    assert provider.queries[0].json() == {"entities": [{"id": "Lamp1", "type": "Lamp"}], "attrs": ["luminosity"]}


async def test_failing_provider_leaves_an_entity_held_only_there_not_found_and_is_counted(
    broker: TestClient, provider: Provider
) -> None:
    provider.mode = "error"
    reg_id = await register(broker, provider.url(), [{"id": "Lamp1", "type": "Lamp"}], ["luminosity"])

    r = await broker.get("/v2/entities/Lamp1?type=Lamp")

    assert (r.status, await r.json()) == (
        404,
        {"error": "NotFound", "description": "The requested entity has not been found. Check type and id"},
    )
    info = (await (await broker.get(f"/v2/registrations/{reg_id}")).json())["forwardingInformation"]
    assert info["timesSent"] == 1 and "lastFailure" in info and "lastSuccess" not in info


async def test_garbage_from_a_provider_leaves_local_data_answered(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    provider.mode = "garbage"
    await register(broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["pressure"])

    r = await broker.get("/v2/entities/Room1?type=Room&options=keyValues")

    assert (r.status, await r.json()) == (200, {"id": "Room1", "type": "Room", "temperature": 23})
    assert len(provider.queries) == 1


async def test_list_by_type_adds_the_providers_entities_after_local_ones(
    broker: TestClient, provider: Provider
) -> None:
    await create(broker, ROOM1)
    provider.add("Room7", "Room", temperature={"type": "Number", "value": 19})
    provider.add("Room8", "Room", temperature={"type": "Number", "value": 31})
    await register(broker, provider.url(), [{"idPattern": ".*", "type": "Room"}])

    r = await broker.get("/v2/entities?type=Room&options=keyValues,count")

    assert r.status == 200
    assert await r.json() == [
        {"id": "Room1", "type": "Room", "temperature": 23},
        {"id": "Room7", "type": "Room", "temperature": 19},
        {"id": "Room8", "type": "Room", "temperature": 31},
    ]
    assert r.headers["Fiware-Total-Count"] == "3"
    (sent,) = provider.queries
    assert sent.json() == {"entities": [{"idPattern": ".*", "type": "Room"}], "attrs": []}
    assert sent.query == {"limit": "19", "offset": "0", "options": "count"}


async def test_total_count_does_not_count_twice_a_provider_entity_held_here(
    broker: TestClient, provider: Provider
) -> None:
    # a provider completing local entities with its attributes (the usual context-provider set-up):
    # clients that page until Fiware-Total-Count (FiLiP) must not be sent for a page of duplicates
    await create(broker, ROOM1)
    provider.add("Room1", "Room", pressure={"type": "Number", "value": 1010})
    provider.add("Room7", "Room", temperature={"type": "Number", "value": 19})
    await register(broker, provider.url(), [{"idPattern": ".*", "type": "Room"}], ["pressure", "temperature"])

    r = await broker.get("/v2/entities?type=Room&options=keyValues,count")

    assert r.status == 200
    assert await r.json() == [
        {"id": "Room1", "type": "Room", "temperature": 23, "pressure": 1010},
        {"id": "Room7", "type": "Room", "temperature": 19},
    ]
    assert r.headers["Fiware-Total-Count"] == "2"


async def test_list_keeps_only_provider_entities_that_satisfy_q(broker: TestClient, provider: Provider) -> None:
    provider.add("Room7", "Room", temperature={"type": "Number", "value": 19})
    provider.add("Room8", "Room", temperature={"type": "Number", "value": 31})
    await register(broker, provider.url(), [{"idPattern": ".*", "type": "Room"}])

    r = await broker.post(
        "/v2/op/query?options=keyValues",
        json={"entities": [{"idPattern": ".*", "type": "Room"}], "expression": {"q": "temperature>30"}},
    )

    assert (r.status, await r.json()) == (200, [{"id": "Room8", "type": "Room", "temperature": 31}])


async def test_skip_forwarding_answers_local_data_only(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    provider.add("Room7", "Room", temperature={"type": "Number", "value": 19})
    await register(broker, provider.url(), [{"idPattern": ".*", "type": "Room"}])

    listed = await broker.get("/v2/entities?type=Room&options=skipForwarding,keyValues")
    alone = await broker.get("/v2/entities/Room7?type=Room&options=skipForwarding")
    queried = await broker.post("/v2/op/query?options=skipForwarding", json={"entities": [{"id": "Room7"}]})

    assert (listed.status, await listed.json()) == (200, [{"id": "Room1", "type": "Room", "temperature": 23}])
    assert alone.status == 404
    assert (queried.status, await queried.json()) == (200, [])
    assert provider.requests == []


@pytest.mark.parametrize(
    ("mode", "queried", "updated"), [("all", 1, 1), ("query", 1, 0), ("update", 0, 1), ("none", 0, 0)]
)
async def test_supported_forwarding_mode_decides_what_is_forwarded(
    broker: TestClient, provider: Provider, mode: str, queried: int, updated: int
) -> None:
    await create(broker, ROOM1)
    provider.add("Room1", "Room", pressure={"type": "Number", "value": 720})
    await register(
        broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["pressure"], supportedForwardingMode=mode
    )

    read = await broker.get("/v2/entities/Room1?type=Room&attrs=pressure")
    write = await broker.patch("/v2/entities/Room1/attrs?type=Room", json={"pressure": {"value": 700}})

    assert len(provider.queries) == queried and len(provider.updates) == updated
    assert read.status == 200
    assert (await read.json()).get("pressure") == (
        {"type": "Number", "value": 720, "metadata": {}} if queried else None
    )
    assert write.status == (204 if updated else 422)


async def test_cpr_forward_limit_zero_forwards_nothing(make_broker: Factory, provider: Provider) -> None:
    broker = await make_broker(limit=0)
    provider.add("Lamp1", "Lamp", luminosity={"type": "Number", "value": 9})
    await register(broker, provider.url(), [{"id": "Lamp1", "type": "Lamp"}], ["luminosity"])

    assert (await broker.get("/v2/entities/Lamp1")).status == 404
    assert provider.requests == []


async def test_providers_are_asked_at_once_and_a_hanging_one_is_left_out(
    make_broker: Factory, provider: Provider
) -> None:
    broker = await make_broker(timeout=0.5)
    hanging = Provider(mode="hang")
    await hanging.start()
    try:
        provider.add("Room7", "Room", temperature={"type": "Number", "value": 19})
        await register(broker, hanging.url(), [{"idPattern": ".*", "type": "Room"}])
        await register(broker, provider.url(), [{"idPattern": ".*", "type": "Room"}])

        r = await broker.get("/v2/entities?type=Room&options=keyValues")

        assert (r.status, await r.json()) == (200, [{"id": "Room7", "type": "Room", "temperature": 19}])
        assert (await broker.get("/version")).status == 200  # the broker serves on meanwhile
    finally:
        await hanging.close()


# -- updates -------------------------------------------------------------------------------------


async def test_command_is_forwarded_as_an_update_and_answers_204(broker: TestClient, provider: Provider) -> None:
    await create(broker, {"id": "bell1", "type": "Bell", "ring_status": {"type": "commandStatus", "value": "UNKNOWN"}})
    # an IoT Agent registers its bare URL: Orion then posts to `//op/update`, which agents listen on
    await register(broker, provider.url(""), [{"id": "bell1", "type": "Bell"}], ["ring"])

    r = await broker.patch(
        "/v2/entities/bell1/attrs?type=Bell",
        json={"ring": {"type": "command", "value": ""}},
        headers={"Fiware-ServicePath": "/", "X-Auth-Token": "tok"},
    )

    assert r.status == 204
    (sent,) = provider.updates
    assert sent.path_qs == "//op/update"
    assert sent.json() == {
        "actionType": "update",
        "entities": [{"id": "bell1", "type": "Bell", "ring": {"type": "command", "value": "", "metadata": {}}}],
    }
    assert sent.headers["X-Auth-Token"] == "tok"
    local = await (await broker.get("/v2/entities/bell1?options=skipForwarding")).json()
    assert "ring" not in local  # the command is the provider's, not stored here


async def test_update_split_between_local_and_provider_attributes(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    await register(broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["pressure"])

    r = await broker.patch(
        "/v2/entities/Room1/attrs", json={"temperature": {"value": 25}, "pressure": {"type": "Number", "value": 700}}
    )

    assert r.status == 204
    assert [u.json()["entities"] for u in provider.updates] == [
        [{"id": "Room1", "type": "Room", "pressure": {"type": "Number", "value": 700, "metadata": {}}}]
    ]
    local = await (await broker.get("/v2/entities/Room1?options=skipForwarding,keyValues")).json()
    assert local == {"id": "Room1", "type": "Room", "temperature": 25}


async def test_update_only_for_a_failing_provider_is_not_found(broker: TestClient, provider: Provider) -> None:
    provider.mode = "error"
    await register(broker, provider.url(), [{"id": "Lamp1", "type": "Lamp"}], ["on"])

    r = await broker.put(
        "/v2/entities/Lamp1/attrs/on/value?type=Lamp", data="true", headers={"Content-Type": "text/plain"}
    )

    assert (r.status, await r.json()) == (
        404,
        {"error": "NotFound", "description": "The requested entity has not been found. Check type and id"},
    )
    assert provider.requests[0].json()["entities"] == [
        {"id": "Lamp1", "type": "Lamp", "on": {"type": "Boolean", "value": True, "metadata": {}}}
    ]


async def test_update_partly_failing_names_what_was_not_updated(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    provider.mode = "error"
    await register(broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["pressure"])

    r = await broker.patch(
        "/v2/entities/Room1/attrs?type=Room", json={"temperature": {"value": 25}, "pressure": {"value": 700}}
    )

    assert (r.status, await r.json()) == (
        404,
        {
            "error": "PartialUpdate",
            "description": "Some of the following attributes were not updated: { Room1-Room : [pressure] }",
        },
    )
    local = await (await broker.get("/v2/entities/Room1/attrs/temperature/value?type=Room")).text()
    assert local == "25"


async def test_append_is_never_forwarded(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    await register(broker, provider.url(), [{"id": "Room1", "type": "Room"}], ["pressure"])

    r = await broker.post("/v2/entities/Room1/attrs", json={"pressure": {"value": 700}})

    assert r.status == 204
    assert provider.requests == []


async def test_batch_update_sends_registered_attributes_to_their_provider(
    broker: TestClient, provider: Provider
) -> None:
    await create(broker, ROOM1)
    await register(
        broker, provider.url(), [{"id": "Room1", "type": "Room"}, {"id": "Lamp1", "type": "Lamp"}], ["pressure", "on"]
    )

    r = await broker.post(
        "/v2/op/update",
        json={
            "actionType": "update",
            "entities": [
                {"id": "Room1", "type": "Room", "temperature": {"value": 21}, "pressure": {"value": 710}},
                {"id": "Lamp1", "type": "Lamp", "on": {"value": False}},
            ],
        },
    )

    assert r.status == 204
    (sent,) = provider.updates
    assert sent.json() == {
        "actionType": "update",
        "entities": [
            {"id": "Room1", "type": "Room", "pressure": {"type": "Number", "value": 710, "metadata": {}}},
            {"id": "Lamp1", "type": "Lamp", "on": {"type": "Boolean", "value": False, "metadata": {}}},
        ],
    }
    local = await (await broker.get("/v2/entities/Room1/attrs/temperature/value")).text()
    assert local == "21"


async def test_counters_count_each_forwarded_request(broker: TestClient, provider: Provider) -> None:
    provider.add("Lamp1", "Lamp", luminosity={"type": "Number", "value": 9})
    reg_id = await register(broker, provider.url(), [{"id": "Lamp1", "type": "Lamp"}], ["luminosity"])

    for _ in range(3):
        assert (await broker.get("/v2/entities/Lamp1")).status == 200

    info = (await (await broker.get(f"/v2/registrations/{reg_id}")).json())["forwardingInformation"]
    assert info["timesSent"] == 3 and "lastSuccess" in info and "lastFailure" not in info


async def test_legacy_forwarding_registration_is_asked_in_ngsiv1(broker: TestClient, provider: Provider) -> None:
    await create(broker, ROOM1)
    provider.add("Room1", "Room", pressure={"type": "Number", "value": 720})
    await register(broker, provider.url("/v1"), [{"id": "Room1", "type": "Room"}], ["pressure"], legacyForwarding=True)

    read = await broker.get("/v2/entities/Room1?type=Room&options=keyValues")
    write = await broker.patch("/v2/entities/Room1/attrs?type=Room", json={"pressure": {"value": 700}})

    assert (read.status, await read.json()) == (
        200,
        {"id": "Room1", "type": "Room", "pressure": 720, "temperature": 23},
    )
    assert write.status == 204
    query, update = provider.requests
    assert (query.path_qs, query.json()) == (
        "/v1/queryContext",
        {"entities": [{"type": "Room", "isPattern": "false", "id": "Room1"}], "attributes": ["pressure"]},
    )
    assert (update.path_qs, update.json()) == (
        "/v1/updateContext",
        {
            "contextElements": [
                {
                    "type": "Room",
                    "isPattern": "false",
                    "id": "Room1",
                    "attributes": [{"name": "pressure", "type": "Number", "value": 700}],
                }
            ],
            "updateAction": "UPDATE",
        },
    )


# -- federation ----------------------------------------------------------------------------------


async def test_a_broker_reads_another_brokers_entities_through_a_registration(make_broker: Factory) -> None:
    town, prefecture = await make_broker("town"), await make_broker("prefecture")
    await create(town, {"id": "Snow1", "type": "SnowDepth", "depth": {"type": "Number", "value": 42}})
    await register(prefecture, str(town.make_url("/v2")), [{"idPattern": ".*", "type": "SnowDepth"}])

    r = await prefecture.get("/v2/entities?type=SnowDepth&options=keyValues")

    assert (r.status, await r.json()) == (200, [{"id": "Snow1", "type": "SnowDepth", "depth": 42}])


async def test_brokers_registered_on_each_other_do_not_loop(make_broker: Factory) -> None:
    a, b = await make_broker("a"), await make_broker("b")
    await create(a, {"id": "RoomA", "type": "Room"})
    await create(b, {"id": "RoomB", "type": "Room"})
    await register(a, str(b.make_url("/v2")), [{"idPattern": ".*", "type": "Room"}])
    await register(b, str(a.make_url("/v2")), [{"idPattern": ".*", "type": "Room"}])

    r = await a.get("/v2/entities?type=Room&options=keyValues")

    assert (r.status, await r.json()) == (200, [{"id": "RoomA", "type": "Room"}, {"id": "RoomB", "type": "Room"}])


async def test_request_forwarded_through_three_brokers_is_answered_locally(
    broker: TestClient, provider: Provider
) -> None:
    await create(broker, ROOM1)
    provider.add("Room7", "Room")
    await register(broker, provider.url(), [{"idPattern": ".*", "type": "Room"}])
    marked = {"Fiware-Correlator": "c; cbfwd=1; cbfwd=2; cbfwd=1"}  # Orion's marks of three forwards

    deep = await broker.get("/v2/entities?type=Room", headers=marked)
    shallow = await broker.get("/v2/entities?type=Room", headers={"Fiware-Correlator": "c; cbfwd=1"})

    assert [e["id"] for e in await deep.json()] == ["Room1"]
    assert [e["id"] for e in await shallow.json()] == ["Room1", "Room7"]
    assert [q.headers["Fiware-Correlator"] for q in provider.queries] == ["c; cbfwd=1; cbfwd=1"]


async def test_tenant_and_service_path_go_with_the_forwarded_request(make_broker: Factory, provider: Provider) -> None:
    broker = await make_broker("mt", multiservice=True)
    headers = {"Fiware-Service": "city", "Fiware-ServicePath": "/park"}
    provider.add("Lamp1", "Lamp", luminosity={"type": "Number", "value": 9})
    body = {
        "dataProvided": {"entities": [{"id": "Lamp1", "type": "Lamp"}], "attrs": ["luminosity"]},
        "provider": {"http": {"url": provider.url()}},
    }
    assert (await broker.post("/v2/registrations", json=body, headers=headers)).status == 201

    r = await broker.get("/v2/entities/Lamp1", headers=headers)
    elsewhere = await broker.get("/v2/entities/Lamp1", headers={**headers, "Fiware-ServicePath": "/other"})

    assert r.status == 200 and elsewhere.status == 404
    (sent,) = provider.queries
    assert (sent.headers["Fiware-Service"], sent.headers["Fiware-ServicePath"]) == ("city", "/park")
