"""Property tests: arbitrary ids, names, values, metadata, headers and bodies never make the broker fail
with a 5xx, and a request the broker rejects leaves the store exactly as it was."""

from __future__ import annotations

import itertools
import string
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_ids = itertools.count()

# identifiers: mostly plausible, often with characters Orion forbids, sometimes too long or empty
FORBIDDEN = "<>\"'=;()&?/# \t\u00e9\u00a0\x7f"
ident = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "_-:.", min_size=1, max_size=12),
    st.text(alphabet=string.ascii_letters + FORBIDDEN, min_size=0, max_size=8),
    st.text(max_size=10),
    st.integers(min_value=250, max_value=260).map(lambda n: "x" * n),
)
json_key = st.text(max_size=6).filter(lambda k: not k.startswith("$"))  # operators may rightly answer 500
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=10),
    st.sampled_from(["2020-01-01T00:00:00Z", "2020-13-01", "<b>", "a=b", "x;y"]),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(json_key, inner, max_size=3)),
    max_leaves=8,
)
attr_type = st.one_of(
    ident, st.sampled_from(["DateTime", "ISO8601", "TextUnrestricted", "Number", "geo:json"]), json_scalar
)
metadata = st.one_of(
    st.dictionaries(ident, st.fixed_dictionaries({}, optional={"value": json_value, "type": attr_type}), max_size=2),
    json_value,
)
attribute = st.one_of(
    st.fixed_dictionaries({}, optional={"value": json_value, "type": attr_type, "metadata": metadata}),
    json_value,
)
attributes = st.dictionaries(ident, attribute, max_size=3)
header_text = st.text(alphabet=string.printable.strip() + " ", max_size=60)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Fiware-Service": st.one_of(header_text, st.sampled_from(["", "a", "MyCity", "x" * 51, "a-b"])),
        "Fiware-ServicePath": st.one_of(
            header_text, st.sampled_from(["/", "/a", "/a/#", "/a,/b", "a", "/" + "c" * 51])
        ),
        "Accept": st.sampled_from(["*/*", "application/json", "text/plain", "text/html", "application/*"]),
    },
)
options = st.one_of(
    st.none(), st.sampled_from(["keyValues", "upsert", "append", "overrideMetadata", "bogus", "keyValues,upsert"])
)


async def snapshot(client: TestClient) -> Any:
    r = await client.get(
        "/v2/entities", params={"attrs": "dateModified,*", "metadata": "dateModified,*", "limit": "1000"}
    )
    assert r.status == 200, await r.text()
    return await r.json()


async def entity_state(client: TestClient, eid: str) -> Any:
    r = await client.get(f"/v2/entities/{eid}", params={"attrs": "dateModified,*", "metadata": "dateModified,*"})
    assert r.status == 200, await r.text()
    return await r.json()


def encode(body: Any) -> bytes:
    return orjson.dumps(body)


@PROPERTY_SETTINGS
@given(eid=st.one_of(ident, json_scalar), etype=st.one_of(st.none(), ident, json_scalar), attrs=attributes, opt=options)
async def test_create_never_fails_with_5xx_and_rejections_change_nothing(
    client: TestClient, eid: Any, etype: Any, attrs: dict[str, Any], opt: str | None
) -> None:
    body: dict[str, Any] = {"id": eid, **attrs}
    if etype is not None:
        body["type"] = etype
    before = await snapshot(client)
    r = await client.post(
        "/v2/entities",
        data=encode(body),
        headers={"Content-Type": "application/json"},
        params={"options": opt} if opt else None,
    )
    assert r.status < 500, await r.text()
    if r.status >= 400:
        err = await r.json()
        assert set(err) == {"error", "description"}
        assert await snapshot(client) == before
    else:
        assert r.status in (201, 204)
        listed = await (await client.get("/v2/entities", params={"id": eid, "limit": "1000"})).json()
        assert any(e["id"] == eid for e in listed)


@PROPERTY_SETTINGS
@given(attrs=st.one_of(attributes, json_value), opt=options, method=st.sampled_from(["PATCH", "POST", "PUT"]))
async def test_attribute_updates_never_fail_with_5xx_and_rejections_change_nothing(
    client: TestClient, attrs: Any, opt: str | None, method: str
) -> None:
    eid = f"P{next(_ids)}"
    seed = {"id": eid, "type": "T", "a": {"value": 1, "metadata": {"m": {"value": "x"}}}, "b": {"value": [1, 2]}}
    assert (await client.post("/v2/entities", json=seed)).status == 201
    before = await entity_state(client, eid)
    everything = await snapshot(client)
    r = await client.request(
        method,
        f"/v2/entities/{eid}/attrs",
        data=encode(attrs),
        headers={"Content-Type": "application/json"},
        params={"options": opt} if opt else None,
    )
    assert r.status < 500, await r.text()
    if r.status >= 400:
        err = await r.json()
        assert set(err) == {"error", "description"}
        if err["error"] != "PartialUpdate":  # a partial update applied some of the request, by definition
            assert await entity_state(client, eid) == before
            assert await snapshot(client) == everything
    else:
        assert r.status == 204


@PROPERTY_SETTINGS
@given(hdrs=headers, eid=ident)
async def test_random_headers_never_fail_with_5xx(client: TestClient, hdrs: dict[str, str], eid: str) -> None:
    before = await snapshot(client)
    r = await client.post(
        "/v2/entities",
        data=encode({"id": eid, "a": {"value": 1}}),
        headers={
            "Content-Type": "application/json",
            **hdrs,
        },
    )
    assert r.status < 500, await r.text()
    assert r.headers["Fiware-Correlator"]
    assert "Server" not in r.headers
    if r.status >= 400:
        assert await snapshot(client) == before
    r = await client.get("/v2/entities", headers=hdrs)
    assert r.status < 500, await r.text()


@PROPERTY_SETTINGS
@given(
    raw_body=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode)),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/xml", "application/json; charset=utf-8"]
    ),
    path=st.sampled_from(
        ["/v2/entities", "/v2/entities/{eid}/attrs", "/v2/entities/{eid}/attrs/a", "/v2/entities/{eid}/attrs/a/value"]
    ),
    method=st.sampled_from(["POST", "PATCH", "PUT"]),
)
async def test_arbitrary_bodies_never_fail_with_5xx_and_rejections_change_nothing(
    client: TestClient, raw_body: bytes, content_type: str, path: str, method: str
) -> None:
    eid = f"B{next(_ids)}"
    assert (await client.post("/v2/entities", json={"id": eid, "a": {"value": 1}})).status == 201
    before = await snapshot(client)
    r = await client.request(method, path.format(eid=eid), data=raw_body, headers={"Content-Type": content_type})
    assert r.status < 500, await r.text()
    if r.status >= 400:
        err = await r.json()
        assert set(err) == {"error", "description"}
        assert await snapshot(client) == before


@PROPERTY_SETTINGS
@given(segment=st.text(min_size=1, max_size=12), name=st.text(min_size=1, max_size=12))
async def test_arbitrary_path_segments_never_fail_with_5xx(client: TestClient, segment: str, name: str) -> None:
    path = f"/v2/entities/{quote(segment, safe='')}/attrs/{quote(name, safe='')}"
    for method in ("GET", "DELETE"):
        r = await client.request(method, path)
        assert r.status < 500, await r.text()
        assert r.status in (400, 404, 409) or r.status < 300
