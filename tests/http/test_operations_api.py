"""Orion's operations API over HTTP: /version, /statistics, /cache/statistics, /admin/log,
/log/trace, /admin/sem and /admin/metrics; bodies, statuses and headers as Orion's."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.http.observe import OBSERVABILITY
from broker.http.routes import admin
from broker.http.settings import HttpSettings
from broker.observability.recorder import ObservabilitySettings
from broker.observability.statistics import StatSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage
from tests.http.test_subscriptions_api import create, subscription
from tests.receivers import drained

ALL_STATS = ObservabilitySettings(StatSettings(counters=True, timing=True, notif_queue=True))


async def _client(tmp_path: Path, observability: ObservabilitySettings) -> AsyncIterator[TestClient]:
    app = build_app(SqliteStorage(str(tmp_path / "broker.db")), HttpSettings(), observability=observability)
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
async def stats_client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async for c in _client(tmp_path, ALL_STATS):
        yield c


@pytest.fixture
async def no_metrics_client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async for c in _client(tmp_path, ObservabilitySettings(metrics=False)):
        yield c


@pytest.fixture
def broker_log_level() -> Any:
    """Put the broker logger's level back after a test changes it."""
    logger = logging.getLogger("broker")
    before = logger.level
    yield
    logger.setLevel(before)


async def get_json(client: TestClient, url: str, status: int = 200, **kw: Any) -> Any:
    r = await client.get(url, **kw)
    assert r.status == status, await r.text()
    assert r.headers["Content-Type"] == "application/json"
    return json.loads(await r.text())


# ---------------------------------------------------------------------------------------- /version
async def test_version_is_written_line_by_line_as_orion_writes_it(client):
    r = await client.get("/version")
    assert r.status == 200
    assert list(r.headers)[:2] == ["Date", "Fiware-Correlator"]
    assert r.headers["Content-Type"] == "application/json"
    text = await r.text()
    assert int(r.headers["Content-Length"]) == len(text.encode())
    lines = text.split("\n")
    assert lines[:3] == ["{", '"orion" : {', '  "version" : "4.7.0",']
    keys = [line.split(" : ")[0].strip().strip('"') for line in lines[2:11]]
    assert keys == [
        "version",
        "uptime",
        "git_hash",
        "compile_time",
        "compiled_by",
        "compiled_in",
        "release_date",
        "machine",
        "doc",
    ]
    assert lines[11] == '  "libversions": {'
    assert lines[-5:] == [lines[-5], "  }", "}", "}", ""]  # the last library line has no comma
    assert not lines[-5].endswith(",") and lines[-6].endswith(",")
    body = json.loads(text)
    assert body["orion"]["doc"] == "https://fiware-orion.rtfd.io/en/4.7.0/"
    assert all(isinstance(v, str) for v in body["orion"]["libversions"].values())


async def test_version_uptime_counts_from_the_start(client):
    body = json.loads(await (await client.get("/version")).text())
    days, hours, minutes, seconds = (int(part.split()[0]) for part in body["orion"]["uptime"].split(", "))
    assert (days, hours, minutes) == (0, 0, 0) and 0 <= seconds < 60


async def test_version_with_another_method_is_405_with_allow(client):
    r = await client.post("/version", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 405
    assert r.headers["Allow"] == "GET"
    assert json.loads(await r.text()) == {"error": "MethodNotAllowed", "description": "method not allowed"}


# ---------------------------------------------------------------------------------------- /statistics
async def test_statistics_without_stat_flags_has_only_the_unconditional_fields(client):
    body = await get_json(client, "/statistics")
    assert list(body) == ["uptime_in_secs", "measuring_interval_in_secs"]
    assert all(isinstance(v, int) for v in body.values())


async def test_statistics_counters_count_requests_by_orion_url_kind_and_verb(stats_client):
    c = stats_client
    assert (await c.post("/v2/entities", json={"id": "E1", "type": "T", "a": {"value": 1}})).status == 201
    assert (await c.get("/v2/entities/E1")).status == 200
    assert (await c.get("/v2/entities/E1/attrs")).status == 200
    assert (await c.get("/v2/entities/E1/attrs/a/value")).status == 200
    assert (await c.get("/no/such/url")).status == 400
    assert (await c.put("/version", data=b"{}", headers={"Content-Type": "application/json"})).status == 405
    body = await get_json(c, "/statistics")
    assert list(body) == ["counters", "timing", "notifQueue", "uptime_in_secs", "measuring_interval_in_secs"]
    assert body["counters"] == {
        "jsonRequests": 2,
        "noPayloadRequests": 5,
        "requests": {
            "/v2/entities": {"POST": 1},
            "/v2/entities/{id}[/attrs]": {"GET": 2},
            "/v2/entities/{id}/attrs/{name}/value": {"GET": 1},
            "/statistics": {"GET": 1},  # the request that reads them counts itself, as in Orion
        },
        "missedVerb": 1,
        "invalidRequests": 1,
    }
    assert set(body["timing"]) == {"accumulated", "last"}
    assert body["timing"]["accumulated"]["total"] >= body["timing"]["last"]["total"] > 0


async def test_full_counters_show_every_orion_counter_in_orions_order(stats_client):
    body = await get_json(stats_client, "/statistics?options=fullCounters")
    counters = body["counters"]
    assert list(counters) == [
        "jsonRequests",
        "textRequests",
        "noPayloadRequests",
        "requests",
        "requestsLegacy",
        "missedVerb",
        "invalidRequests",
        "registrationUpdateErrors",
        "discoveryErrors",
        "notificationsSent",
        "deprecatedFeatures",
    ]
    assert list(counters["requests"])[:3] == ["/v2", "/v2/entities", "/v2/entities/{id}[/attrs]"]
    assert counters["requests"]["/v2/entities/{id}[/attrs]"] == {
        "GET": 0,
        "POST": 0,
        "PATCH": 0,
        "PUT": 0,
        "DELETE": 0,
        "OPTIONS": 0,
    }
    assert counters["requests"]["/statistics"] == {"GET": 1, "DELETE": 0}
    assert counters["requests"]["/log/trace[/{level}]"] == {"GET": 0, "PUT": 0, "DELETE": 0}
    assert body["simulatedNotifications"] == 0
    assert list(body)[-1] == "simulatedNotifications"


async def test_full_counters_show_the_kinds_never_served_at_zero_as_orion_does(stats_client):
    """Orion's debug-only URLs and its NGSIv1 URLs (`requestsLegacy`) are listed, at 0: this broker
    serves none of them (they count as invalid requests)."""
    assert (await stats_client.post("/v1/queryContext", json={"entities": []})).status == 400
    counters = (await get_json(stats_client, "/statistics?options=fullCounters"))["counters"]
    assert list(counters["requests"])[-2:] == ["/exit[/*]", "/leak[/*]"]
    assert counters["requests"]["/exit[/*]"] == counters["requests"]["/leak[/*]"] == {"GET": 0}
    assert counters["requestsLegacy"] == {
        "/v1/contextEntities/{id}": {"PUT": 0, "DELETE": 0},
        "/v1/contextEntities/{id}/attributes/{name}": {"GET": 0},
        "/v1/queryContext": {"POST": 0},
        "/v1/updateContext": {"POST": 0},
        "/ngsi10/queryContext": {"POST": 0},
        "/ngsi10/updateContext": {"POST": 0},
    }
    assert counters["deprecatedFeatures"] == {"ngsiv1Requests": 0, "ngsiv1Forwarding": 0, "geoFormat": 0}
    assert counters["invalidRequests"] == 1


async def test_deprecated_location_types_count_as_geo_format_uses_once_written(stats_client):
    c = stats_client
    point = {"type": "geo:point", "value": "40.4, -3.7"}
    box = {"type": "geo:box", "value": ["40.4, -3.7", "40.5, -3.6"]}
    geojson = {"type": "geo:json", "value": {"type": "Point", "coordinates": [-3.7, 40.4]}}
    assert (await c.post("/v2/entities", json={"id": "E1", "type": "T", "where": point})).status == 201
    assert (await c.post("/v2/entities", json={"id": "E2", "type": "T", "where": geojson})).status == 201
    assert (await c.put("/v2/entities/E1/attrs/where", json=box)).status == 204
    update = {"actionType": "append", "entities": [{"id": "E3", "type": "T", "l": point}, {"id": "E4", "type": "T"}]}
    assert (await c.post("/v2/op/update", json=update)).status == 204
    refused = {"id": "E5", "type": "T", "where": {"type": "geo:point", "value": "not a point"}}
    assert (await c.post("/v2/entities", json=refused)).status == 400  # nothing written, nothing counted
    counters = (await get_json(c, "/statistics"))["counters"]
    assert counters["deprecatedFeatures"] == {"geoFormat": 3}


async def test_statistics_show_orions_semaphore_waits_in_seconds_with_stat_sem_wait(tmp_path):
    settings = ObservabilitySettings(StatSettings(counters=True, sem_wait=True, timing=True))
    async for c in _client(tmp_path, settings):
        assert (await c.post("/v2/entities", json={"id": "E1", "type": "T"})).status == 201
        body = await get_json(c, "/statistics")
        assert list(body) == ["counters", "semWait", "timing", "uptime_in_secs", "measuring_interval_in_secs"]
        assert list(body["semWait"]) == [
            "request",
            "dbConnectionPool",
            "transaction",
            "subCache",
            "connectionContext",
            "timeStat",
            "metrics",
        ]
        assert all(isinstance(v, (int, float)) and v >= 0 for v in body["semWait"].values())


async def test_notification_queue_size_is_what_the_outbox_still_owes(stats_client, receiver):
    receiver.up = False  # answered 503: kept in the outbox and tried again later
    await create(stats_client, subscription(receiver.url))
    for n in (1, 2):
        r = await stats_client.post("/v2/entities", json={"id": f"R{n}", "type": "Room", "temp": {"value": n}})
        assert r.status == 201
    await receiver.wait_refused(1)
    queue = (await get_json(stats_client, "/statistics"))["notifQueue"]
    assert list(queue)[-1] == "size"
    assert queue["size"] == 2


async def test_timing_shows_the_time_spent_parsing_in_the_store_and_rendering_under_orions_names(stats_client):
    c = stats_client
    assert (await c.post("/v2/entities", json={"id": "E1", "type": "T", "a": {"value": 1}})).status == 201
    timing = (await get_json(c, "/statistics"))["timing"]  # the last request is the POST
    assert list(timing["last"]) == ["jsonV2Parse", "mongoReadWait", "mongoWriteWait", "total"]
    assert (await c.get("/v2/entities?type=T")).status == 200
    timing = (await get_json(c, "/statistics"))["timing"]
    assert list(timing["last"]) == ["mongoReadWait", "render", "total"]  # a GET parses nothing
    assert list(timing["accumulated"]) == ["jsonV2Parse", "mongoReadWait", "mongoWriteWait", "render", "total"]
    accumulated, last = timing["accumulated"], timing["last"]
    assert accumulated["total"] >= last["total"] >= last["mongoReadWait"] + last["render"] > 0
    assert (await c.delete("/statistics")).status == 200
    timing = (await get_json(c, "/statistics"))["timing"]
    assert list(timing["accumulated"]) == list(timing["last"]) == ["render", "total"]  # the reset answer only


async def test_statistics_have_no_sem_wait_block_without_the_flag(stats_client):
    assert "semWait" not in await get_json(stats_client, "/statistics")


async def test_delete_statistics_resets_the_counters_and_the_measuring_interval(stats_client):
    await stats_client.get("/v2/entities")
    r = await stats_client.delete("/statistics")
    assert r.status == 200
    assert json.loads(await r.text()) == {"message": "All statistics counter reset"}
    body = await get_json(stats_client, "/statistics")
    assert body["counters"] == {"noPayloadRequests": 1, "requests": {"/statistics": {"GET": 1}}}
    assert body["measuring_interval_in_secs"] <= body["uptime_in_secs"]


async def test_statistics_with_other_methods_is_405_get_delete(client):
    r = await client.put("/statistics", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 405
    assert r.headers["Allow"] == "GET, DELETE"


async def test_notification_attempts_count_in_statistics_and_metrics(stats_client, receiver):
    receiver.answer = b'{"received":true}'
    await create(stats_client, subscription(receiver.url), **{"Fiware-Service": "city"})
    r = await stats_client.post(
        "/v2/entities",
        json={"id": "R1", "type": "Room", "temp": {"value": 21}},
        headers={"Fiware-Service": "city", "Fiware-ServicePath": "/north"},
    )
    assert r.status == 201
    await receiver.wait_for(1)
    await drained(stats_client)  # the attempt is counted once its answer is read
    body = await get_json(stats_client, "/statistics")
    assert body["counters"].get("notificationsSent") == 1
    queue = body["notifQueue"]
    assert (queue["in"], queue["out"], queue["sentOk"], queue["sentError"], queue["reject"]) == (1, 1, 1, 0, 0)
    assert queue["timeInQueue"] >= 0 and queue["avgTimeInQueue"] == queue["timeInQueue"]
    assert queue["size"] == 0  # nothing is owed any more
    metrics = await get_json(stats_client, "/admin/metrics")
    sent = metrics["services"]["city"]["subservs"]["root-subserv"]  # the subscription's path: /#
    assert sent["outgoingTransactions"] == 1
    assert sent["outgoingTransactionRequestSize"] == len(receiver.requests[0].body)
    assert sent["outgoingTransactionResponseSize"] == len(b'{"received":true}')  # the answer's Content-Length
    assert "outgoingTransactionErrors" not in sent


# ---------------------------------------------------------------------------------------- /cache/statistics
async def test_cache_statistics_follow_subscription_creation_update_and_removal(client):
    body = await get_json(client, "/cache/statistics")
    assert body == {"ids": "", "refresh": 1, "inserts": 0, "removes": 0, "updates": 0, "items": 0}
    sub_id = await create(client, subscription("http://127.0.0.1:9/notify"))
    await create(client, subscription("http://127.0.0.1:9/other"))
    r = await client.patch(f"/v2/subscriptions/{sub_id}", json={"description": "changed"})
    assert r.status == 204
    assert (await client.delete(f"/v2/subscriptions/{sub_id}")).status == 204
    body = await get_json(client, "/cache/statistics")
    assert body == {"ids": "", "refresh": 1, "inserts": 2, "removes": 1, "updates": 1, "items": 1}
    r = await client.delete("/cache/statistics")
    assert r.status == 200 and json.loads(await r.text()) == {"message": "All statistics counter reset"}
    body = await get_json(client, "/cache/statistics")
    assert body == {"ids": "", "refresh": 0, "inserts": 0, "removes": 0, "updates": 0, "items": 1}


# ---------------------------------------------------------------------------------------- /admin/log
async def test_put_admin_log_changes_the_broker_logger_level_at_once(client, broker_log_level):
    r = await client.put("/admin/log?level=debug")  # no body, no Content-Length: as ngsi-go and curl -X PUT send it
    assert r.status == 200
    assert await r.read() == b""
    assert "Content-Type" not in r.headers
    assert logging.getLogger("broker").isEnabledFor(logging.DEBUG)
    assert await get_json(client, "/admin/log") == {"level": "DEBUG"}
    assert (await client.put("/admin/log?level=Warning")).status == 200
    assert await get_json(client, "/admin/log") == {"level": "WARN"}
    assert not logging.getLogger("broker").isEnabledFor(logging.INFO)


@pytest.mark.parametrize(
    ("url", "body"),
    [("/admin/log", {"error": "log level missing"}), ("/admin/log?level=verbose", {"error": "invalid log level"})],
)
async def test_put_admin_log_without_a_valid_level_is_orions_400_and_changes_nothing(
    client, broker_log_level, url, body
):
    logging.getLogger("broker").setLevel(logging.ERROR)
    r = await client.put(url)
    assert r.status == 400
    assert json.loads(await r.text()) == body
    assert logging.getLogger("broker").level == logging.ERROR


async def test_admin_log_with_post_is_405_get_put(client):
    r = await client.post("/admin/log", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 405
    assert r.headers["Allow"] == "GET, PUT"


# ---------------------------------------------------------------------------------------- /log/trace
async def test_trace_levels_are_set_read_removed_and_cleared(client):
    assert await get_json(client, "/log/trace") == {"tracelevels": ""}
    r = await client.put("/log/trace/5-7,1")
    assert r.status == 200 and json.loads(await r.text()) == {"tracelevels": "5-7,1"}
    assert await get_json(client, "/log/trace") == {"tracelevels": "1,5-7"}
    r = await client.delete("/log/trace/6")
    assert json.loads(await r.text()) == {"tracelevels_removed": "6"}
    assert await get_json(client, "/log/trace") == {"tracelevels": "1,5,7"}
    r = await client.delete("/log/trace")
    assert json.loads(await r.text()) == {"tracelevels": "all trace levels off"}
    assert await get_json(client, "/log/trace") == {"tracelevels": ""}


async def test_badly_formed_trace_levels_answer_orions_message_and_change_nothing(client):
    await client.put("/log/trace/3")
    r = await client.put("/log/trace/3;x")
    assert r.status == 400  # `;` never reaches the handler: forbidden in a URL
    r = await client.put("/log/trace/abc")
    assert r.status == 200
    assert json.loads(await r.text()) == {"tracelevels": "poorly formatted trace level string"}
    assert await get_json(client, "/log/trace") == {"tracelevels": "3"}


@pytest.mark.parametrize(
    ("method", "url", "text"), [("GET", "/log/trace/1", "GET log/trace/1"), ("PUT", "/log/trace", "PUT log/trace")]
)
async def test_trace_verb_and_url_combinations_orion_refuses_are_400(client, method, url, text):
    r = await client.request(method, url)
    assert r.status == 400
    assert json.loads(await r.text()) == {"error": "BadRequest", "description": f"bad URL/Verb: {text}"}


# ---------------------------------------------------------------------------------------- /admin/sem
async def test_admin_sem_lists_the_locks_and_their_state(client):
    body = await get_json(client, "/admin/sem")
    assert body == {"logMsg": {"status": "free"}, "metrics": {"status": "free"}, "timeStat": {"status": "free"}}


def test_a_lock_held_elsewhere_is_reported_taken() -> None:
    lock = threading.Lock()
    assert admin.lock_state(lock) == "free"
    lock.acquire()
    try:
        assert admin.lock_state(lock) == "taken"
    finally:
        lock.release()
    reentrant = threading.RLock()
    held = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with reentrant:
            held.set()
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        assert admin.lock_state(reentrant) == "taken"
    finally:
        done.set()
        holder.join()
    assert admin.lock_state(reentrant) == "free"


# ---------------------------------------------------------------------------------------- /admin/metrics
async def test_metrics_tree_is_orions_per_service_and_subservice(client):
    city = {"Fiware-Service": "City", "Fiware-ServicePath": "/north/#"}
    body = b'{"id":"E","type":"T"}'
    headers = {"Fiware-Service": "city", "Fiware-ServicePath": "/north", "Content-Type": "application/json"}
    assert (await client.post("/v2/entities", data=body, headers=headers)).status == 201
    assert (await client.get("/v2/entities/nope", headers=city)).status == 404
    assert (await client.get("/v2/entities", headers={"Fiware-ServicePath": "/a, /b"})).status == 200
    assert (await client.get("/v2/entities", headers={"Fiware-Service": "bad-name"})).status == 400  # not counted
    tree = await get_json(client, "/admin/metrics")
    assert list(tree) == ["services", "sum"]
    assert list(tree["services"]) == ["default-service", "city"]
    north = tree["services"]["city"]["subservs"]["north"]
    assert list(north) == [
        "incomingTransactionErrors",
        "incomingTransactionRequestSize",
        "incomingTransactionResponseSize",
        "serviceTime",
        "incomingTransactions",
    ]
    assert north["incomingTransactions"] == 2 and north["incomingTransactionErrors"] == 1
    assert north["incomingTransactionRequestSize"] == len(body)
    tree = await get_json(client, "/admin/metrics")
    default = tree["services"]["default-service"]
    assert list(default["subservs"]) == ["root-subserv", "a"]  # the root (the first GET /admin/metrics) sorts first
    assert default["subservs"]["a"]["incomingTransactions"] == 1
    assert tree["sum"]["sum"]["incomingTransactions"] == 4
    assert list(tree["sum"]["subservs"]) == ["root-subserv", "a", "north"]


async def test_metrics_reset_by_delete_and_by_get_with_reset(client):
    await client.get("/v2/entities")
    r = await client.get("/admin/metrics?reset=true")
    assert json.loads(await r.text())["sum"]["sum"]["incomingTransactions"] == 1
    after = await get_json(client, "/admin/metrics")
    assert after["sum"]["sum"]["incomingTransactions"] == 1  # only the reset request itself
    r = await client.delete("/admin/metrics")
    assert r.status == 204 and await r.read() == b""
    body = await get_json(client, "/admin/metrics")
    assert body["sum"]["sum"] == {
        "serviceTime": pytest.approx(body["sum"]["sum"]["serviceTime"]),
        "incomingTransactions": 1,
    }


async def test_disabled_metrics_answer_400_and_count_nothing(no_metrics_client):
    for method in ("GET", "DELETE"):
        r = await no_metrics_client.request(method, "/admin/metrics")
        assert r.status == 400
        assert json.loads(await r.text()) == {"error": "BadRequest", "description": "metrics desactivated"}
    assert no_metrics_client.server.app[OBSERVABILITY].metrics.snapshot() == {}


async def test_metrics_with_post_is_405_get_delete(client):
    r = await client.post("/admin/metrics", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 405
    assert r.headers["Allow"] == "GET, DELETE"


async def test_unknown_admin_paths_stay_service_not_found(client):
    r = await client.get("/admin/nothing")
    assert r.status == 400
    assert json.loads(await r.text())["description"] == "Service not found. Check your URL as probably it is wrong."


async def test_seconds_are_written_with_at_most_nine_decimals(stats_client):
    await stats_client.get("/v2/entities")
    text = await (await stats_client.get("/statistics")).text()
    seconds = json.loads(text)["timing"]["accumulated"]["total"]
    assert seconds > 0 and seconds == round(seconds, 9)
    metrics = json.loads(await (await stats_client.get("/admin/metrics")).text())
    service_time = metrics["sum"]["sum"]["serviceTime"]
    assert service_time > 0 and service_time == round(service_time, 9)
