"""Hypothesis strategies for NGSI bodies, query strings and headers, against the in-process broker:
whatever arrives, the answer is never a 5xx and always an NGSI JSON error when it is not a success.
The examples are derandomized (the same every run); `FUZZ_EXAMPLES=2000` searches longer."""

from __future__ import annotations

import os
import string
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

names = st.text(alphabet=string.printable, min_size=0, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3), max_leaves=8
)
attribute = st.one_of(
    values, st.fixed_dictionaries({}, optional={"type": st.one_of(names, values), "value": values, "metadata": values})
)
entity = st.dictionaries(st.one_of(st.sampled_from(["id", "type"]), names), attribute, max_size=4) | values
query_text = st.text(alphabet=string.printable + "ñ日", max_size=40)
query_params = st.dictionaries(
    st.sampled_from(
        [
            "q",
            "mq",
            "id",
            "idPattern",
            "type",
            "typePattern",
            "attrs",
            "metadata",
            "options",
            "orderBy",
            "limit",
            "offset",
            "georel",
            "geometry",
            "coords",
        ]
    ),
    query_text,
    max_size=5,
)
header_value = st.text(alphabet=string.ascii_letters + string.digits + "/_#,-. ", max_size=60)
headers = st.dictionaries(
    st.sampled_from(["Fiware-Service", "Fiware-ServicePath", "Fiware-Correlator"]), header_value, max_size=3
)
operator = st.sampled_from(
    ["$inc", "$mul", "$min", "$max", "$push", "$addToSet", "$pull", "$pullAll", "$set", "$unset"]
)


async def _checked(response: Any) -> None:
    assert response.status < 500, await response.text()
    if response.status >= 400:
        body = await response.json()
        assert set(body) == {"error", "description"}, body


@FUZZ
@given(body=entity, params=query_params, hdrs=headers)
async def test_random_entities_and_queries_never_get_a_5xx(
    client: TestClient, body: Any, params: dict, hdrs: dict
) -> None:
    await _checked(await client.post("/v2/entities", json=body, headers=hdrs))
    await _checked(await client.get("/v2/entities", params=params, headers=hdrs))
    await _checked(await client.post("/v2/op/update", json={"actionType": "append", "entities": [body]}, headers=hdrs))
    await _checked(
        await client.post(
            "/v2/op/query", json={"entities": [{"idPattern": ".*"}], "expression": {"q": params.get("q", "")}}
        )
    )


@FUZZ
@given(old=values, op=operator, operand=values)
async def test_random_update_operators_never_get_a_5xx(client: TestClient, old: Any, op: str, operand: Any) -> None:
    r = await client.put("/v2/entities/E/attrs", json={"A": {"value": old}})
    if r.status == 404:
        await _checked(await client.post("/v2/entities", json={"id": "E", "A": {"value": old}}))
    await _checked(await client.patch("/v2/entities/E/attrs", json={"A": {"value": {op: operand}}}))


@FUZZ
@given(sub=values, notification=values)
async def test_random_subscriptions_never_get_a_5xx(client: TestClient, sub: Any, notification: Any) -> None:
    body = {
        "subject": {"entities": [{"idPattern": ".*"}], "condition": sub},
        "notification": {"http": {"url": "http://localhost:9/n"}, "attrs": notification},
    }
    await _checked(await client.post("/v2/subscriptions", json=body))
    await _checked(await client.post("/v2/subscriptions", json=sub))
