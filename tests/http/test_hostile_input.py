"""Hostile or careless input: answered with a 400 (or a correct 200), never a 500 or a stall."""

from __future__ import annotations

import asyncio
import time

import jwt
from aiohttp.test_utils import TestClient

from broker.ngsi.errors import NgsiError
from broker.personal.auth import Authenticator, AuthSettings

STALL_BOUND = 10.0  # seconds; a backtracking engine needs hours on these inputs, RE2 microseconds


async def _within_bound(coro):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(coro, STALL_BOUND)


async def test_catastrophic_id_pattern_answers_at_once_and_other_requests_are_served(client: TestClient) -> None:
    r = await client.post("/v2/entities", json={"id": "a" * 40 + "!", "type": "T"})
    assert r.status == 201
    slow = asyncio.ensure_future(_within_bound(client.get("/v2/entities", params={"idPattern": "^(a+)+$"})))
    other = await _within_bound(client.get("/v2/entities/" + "a" * 40 + "!"))
    assert other.status == 200
    r = await slow
    assert r.status == 200 and await r.json() == []


async def test_catastrophic_type_pattern_and_op_query_pattern_answer(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E1", "type": "a" * 40 + "!"})).status == 201
    r = await _within_bound(client.get("/v2/entities", params={"typePattern": "^(a|aa)+$"}))
    assert r.status == 200 and await r.json() == []
    body = {"entities": [{"idPattern": "^(a+)+$"}, {"id": "E1", "typePattern": "^(a|a)+$"}]}
    r = await _within_bound(client.post("/v2/op/query", json=body))
    assert r.status == 200 and await r.json() == []


async def test_catastrophic_match_pattern_on_a_long_value_answers(client: TestClient) -> None:
    body = {"id": "E1", "type": "T", "text": {"value": "c" * 2000}}
    assert (await client.post("/v2/entities", json=body)).status == 201
    r = await _within_bound(client.get("/v2/entities", params={"q": "text~=c*c*c*c*c*c*c*d"}))
    assert r.status == 200 and await r.json() == []
    r = await _within_bound(client.get("/v2/entities", params={"q": "text~=^c+$", "attrs": "id"}))
    assert r.status == 200 and [e["id"] for e in await r.json()] == ["E1"]


async def test_catastrophic_subscription_pattern_does_not_slow_matching_writes(client: TestClient) -> None:
    sub = {
        "subject": {"entities": [{"idPattern": "^(a+)+$"}]},
        "notification": {"http": {"url": "http://localhost:9/x"}},
    }
    assert (await client.post("/v2/subscriptions", json=sub)).status == 201
    r = await _within_bound(client.post("/v2/entities", json={"id": "a" * 40 + "!", "type": "T"}))
    assert r.status == 201


async def test_pattern_with_back_reference_is_refused_with_orion_text(client: TestClient) -> None:
    r = await client.get("/v2/entities", params={"idPattern": "(a)\\1"})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "Invalid regex for entity idPattern"}


async def test_op_query_with_2000_selectors_is_answered(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E1999", "type": "T"})).status == 201
    body = {"entities": [{"id": f"E{i}", "type": "T"} for i in range(2000)]}
    r = await client.post("/v2/op/query", json=body)
    assert r.status == 200 and [e["id"] for e in await r.json()] == ["E1999"]
    body = {"entities": [{"idPattern": f"^E{i}$"} for i in range(2000)]}
    r = await client.post("/v2/op/query", json=body)
    assert r.status == 200 and [e["id"] for e in await r.json()] == ["E1999"]


async def test_q_with_1300_statements_is_answered(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E1", "type": "T", "n": {"value": 5000}})).status == 201
    q = ";".join(f"n>{i}" for i in range(1300))
    r = await client.post("/v2/op/query", json={"entities": [{"idPattern": ".*"}], "expression": {"q": q}})
    assert r.status == 200 and [e["id"] for e in await r.json()] == ["E1"]
    q = ";".join(f"n>{i}" for i in range(1300)) + ";n<0"
    r = await client.post("/v2/op/query", json={"entities": [{"idPattern": ".*"}], "expression": {"q": q}})
    assert r.status == 200 and await r.json() == []


async def test_order_by_beyond_32_keys_is_400(client: TestClient) -> None:
    r = await client.get("/v2/entities", params={"orderBy": ",".join(f"a{i}" for i in range(1000))})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "orderBy: too many keys: 1000, max supported: 32"}
    r = await client.get("/v2/entities", params={"orderBy": ",".join(f"!a{i}" for i in range(32))})
    assert r.status == 200


async def test_mul_beyond_64_bits_stores_a_double(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E1", "type": "T", "n": {"value": 2**62}})).status == 201
    r = await client.patch("/v2/entities/E1/attrs", json={"n": {"value": {"$mul": 1024}}})
    assert r.status == 204
    r = await client.get("/v2/entities/E1/attrs/n")
    assert r.status == 200 and (await r.json())["value"] == float(2**72)
    r = await client.patch("/v2/entities/E1/attrs", json={"n": {"value": {"$inc": 2**63 - 1}}})
    assert r.status == 204


async def test_inc_beyond_a_double_is_400_and_changes_nothing(client: TestClient) -> None:
    assert (await client.post("/v2/entities", json={"id": "E1", "type": "T", "f": {"value": 1.7e308}})).status == 201
    r = await client.patch("/v2/entities/E1/attrs", json={"f": {"value": {"$inc": 1.7e308}}})
    assert r.status == 400
    assert await r.json() == {"error": "BadRequest", "description": "$inc: result out of the range of a number"}
    r = await client.get("/v2/entities/E1/attrs/f")
    assert (await r.json())["value"] == 1.7e308


async def test_unclosed_ipv6_urls_are_400(client: TestClient) -> None:
    for notification in (
        {"http": {"url": "http://[::1"}},
        {"mqtt": {"url": "mqtt://[::1", "topic": "t"}},
        {"httpCustom": {"url": "http://[::1"}},
    ):
        sub = {"subject": {"entities": [{"idPattern": ".*"}]}, "notification": notification}
        r = await client.post("/v2/subscriptions", json=sub)
        assert r.status == 400, notification
        assert (await r.json())["error"] == "BadRequest"
    reg = {"dataProvided": {"entities": [{"id": "E1"}], "attrs": ["n"]}, "provider": {"http": {"url": "http://[::1"}}}
    r = await client.post("/v2/registrations", json=reg)
    assert r.status == 400 and (await r.json())["error"] == "BadRequest"
    assert await (await client.get("/v2/subscriptions")).json() == []
    assert await (await client.get("/v2/registrations")).json() == []


SECRET = "a-shared-secret-that-is-long-enough!!"


async def _verify(settings: AuthSettings, claims: dict) -> str | None:
    try:
        await Authenticator(settings).verify(jwt.encode(claims, SECRET, algorithm="HS256"))
    except NgsiError as exc:
        return exc.description
    return None


async def test_hs256_token_without_exp_is_401() -> None:
    text = await _verify(AuthSettings(secret=SECRET), {"sub": "alice", "roles": ["resident"]})
    assert text is not None and "exp" in text


async def test_token_living_longer_than_the_bound_is_401() -> None:
    now = int(time.time())
    settings = AuthSettings(secret=SECRET, max_lifetime=3600)
    assert await _verify(settings, {"sub": "a", "iat": now, "exp": now + 3600}) is None
    text = await _verify(settings, {"sub": "a", "iat": now, "exp": now + 3601})
    assert text == "invalid token: it lives longer than the 3600 seconds allowed"
    assert await _verify(settings, {"sub": "a", "exp": now + 7200}) is not None  # no iat: from now
    assert await _verify(AuthSettings(secret=SECRET, max_lifetime=0), {"sub": "a", "exp": now + 10**8}) is None
