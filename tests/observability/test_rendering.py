"""Pure rendering and parsing of the operations API's numbers."""

from __future__ import annotations

import threading

import pytest

from broker.observability import timing
from broker.observability.metrics import Metrics, render_counts, render_tree, service_key, subservice_key
from broker.observability.semwait import NAMES, SemWait
from broker.observability.statistics import Statistics, StatSettings, geo_format_uses
from broker.observability.timing import TimedStorage
from broker.observability.trace import format_levels, parse_levels, well_formed


def test_service_time_is_the_average_in_seconds_written_before_incoming_transactions() -> None:
    counts = {
        "incomingTransactions": 4,
        "_totalServiceTime": 2_000_000,
        "outgoingTransactions": 0,
        "incomingTransactionErrors": 1,
    }
    assert list(render_counts(counts).items()) == [
        ("incomingTransactionErrors", 1),
        ("serviceTime", 0.5),
        ("incomingTransactions", 4),
    ]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, ""),
        ("", ""),
        ("/", ""),
        ("/#", ""),
        ("/a/b", "a/b"),
        ("/a/b/#", "a/b"),
        ("/x, /y", "x"),
        ("a", None),
        ("/a b", None),
    ],
)
def test_subservice_keys_follow_orions_rules(header: str | None, key: str | None) -> None:
    assert subservice_key(header) == key


def test_service_keys_are_lowercased_and_invalid_ones_skipped() -> None:
    assert service_key("City") == "city"
    assert service_key(None) == ""
    assert service_key("a-b") is None
    assert service_key("x" * 51) is None


def test_a_reset_hides_emptied_services_and_subservices() -> None:
    m = Metrics()
    m.add("s", "a", {"incomingTransactions": 1, "_totalServiceTime": 10})
    m.add(None, "a", {"incomingTransactions": 1})  # an invalid service: not counted
    assert m.to_json(reset=True)["services"]["s"]["sum"]["incomingTransactions"] == 1
    assert m.to_json() == {"services": {}, "sum": {"subservs": {}, "sum": {}}}


def test_grand_sum_adds_each_subservice_across_services() -> None:
    tree = render_tree({"s1": {"": {"incomingTransactions": 1}}, "s2": {"": {"incomingTransactions": 2}}, "": {"": {}}})
    assert tree["sum"]["subservs"] == {"root-subserv": {"incomingTransactions": 3}}
    assert list(tree["services"]) == ["s1", "s2"]  # the default service counted nothing: not shown


def test_statistics_count_nothing_without_the_flags() -> None:
    stats = Statistics(StatSettings(), clock=lambda: 100.0)
    stats.request("/v2/entities", frozenset({"GET"}), "GET", None)
    stats.timed(0.5)
    stats.notification(True, 1.0)
    assert stats.to_json() == {"uptime_in_secs": 0, "measuring_interval_in_secs": 0}


def test_our_own_endpoints_count_under_their_route_after_orions() -> None:
    stats = Statistics(StatSettings(counters=True))
    stats.request("/personal/v1/consents", frozenset({"GET", "POST"}), "POST", "application/json")
    stats.request("/personal/v1/consents", frozenset({"GET", "POST"}), "PATCH", None)
    stats.request("/v2", frozenset({"GET"}), "GET", None)
    counters = stats.to_json()["counters"]
    assert list(counters["requests"]) == ["/v2", "/personal/v1/consents"]
    assert counters["requests"]["/personal/v1/consents"] == {"POST": 1}
    assert counters["missedVerb"] == 1


def test_measuring_interval_restarts_on_reset() -> None:
    now = [1000.0]
    stats = Statistics(StatSettings(), clock=lambda: now[0])
    now[0] = 1010.0
    stats.reset()
    now[0] = 1013.0
    assert stats.to_json() == {"uptime_in_secs": 13, "measuring_interval_in_secs": 3}


@pytest.mark.parametrize(
    ("text", "levels", "rendered"),
    [
        ("1-3,7", {1, 2, 3, 7}, "1-3,7"),
        ("7,1", {1, 7}, "1,7"),
        ("250-300", set(range(250, 256)), "250-255"),
        ("", set(), ""),
        ("5-", set(), ""),
        ("'4'", {4}, "4"),
    ],
)
def test_trace_levels_parse_and_render_as_ranges(text: str, levels: set[int], rendered: str) -> None:
    assert parse_levels(text) == levels
    assert format_levels(levels) == rendered


def test_trace_level_strings_accept_only_orions_characters() -> None:
    assert well_formed("0-9,12'")
    assert not well_formed("1;2") and not well_formed("a")


def test_sem_wait_adds_the_time_taken_to_get_a_lock_under_orions_name() -> None:
    ticks = iter([10.0, 10.25, 20.0, 20.5])
    waits = SemWait(clock=lambda: next(ticks))
    waits.enabled = True
    lock = threading.Lock()
    with waits.holding("timeStat", lock):
        assert lock.locked()
    assert not lock.locked()
    with waits.holding("timeStat", lock):
        pass
    assert waits.to_json() == dict.fromkeys(NAMES, 0.0) | {"timeStat": 0.75}
    waits.reset()
    assert waits.to_json() == dict.fromkeys(NAMES, 0.0)


def test_sem_wait_measures_nothing_unless_enabled() -> None:
    waits = SemWait(clock=lambda: pytest.fail("the clock is read"))
    lock = threading.Lock()
    with waits.holding("metrics", lock):
        assert lock.locked()
    waits.add("request", 1.0)
    assert waits.to_json() == dict.fromkeys(NAMES, 0.0)


def test_geo_format_uses_count_deprecated_location_attributes_by_body_shape() -> None:
    point = {"type": "geo:point", "value": "1, 2"}
    line = {"type": "geo:line", "value": ["1, 2", "3, 4"]}
    assert geo_format_uses("/v2/entities", {"id": "E", "type": "geo:point", "a": point, "b": line, "c": 1}) == 2
    assert geo_format_uses("/v2/entities/{entityId}/attrs", {"a": point, "m": {"type": "geo:json"}}) == 1
    assert geo_format_uses("/v2/entities/{entityId}/attrs/{attrName}", point) == 1
    assert geo_format_uses("/v2/op/update", {"entities": [{"id": "E", "a": point}, "junk", {"b": line}]}) == 2
    assert geo_format_uses("/v2/subscriptions", {"a": point}) == 0
    assert geo_format_uses("/v2/entities", ["not", "an", "entity"]) == 0


def test_timing_renders_accumulated_and_last_with_the_modules_used_in_orions_order() -> None:
    stats = Statistics(StatSettings(timing=True))
    stats.timed(0.5, {"render": 0.125, "jsonV2Parse": 0.25})
    stats.timed(0.25, {"mongoReadWait": 0.125})
    assert stats.to_json()["timing"] == {
        "accumulated": {"jsonV2Parse": 0.25, "mongoReadWait": 0.125, "render": 0.125, "total": 0.75},
        "last": {"mongoReadWait": 0.125, "total": 0.25},
    }
    stats.reset()
    assert stats.to_json()["timing"] == {}


async def test_timed_storage_counts_reads_and_writes_only_within_a_request() -> None:
    class Store:
        async def query_entities(self) -> str:
            return "read"

        async def insert_entity(self) -> str:
            return "written"

        async def start(self) -> None:
            pass

        pool_size = 10

    store = TimedStorage(Store())
    assert await store.query_entities() == "read"  # no request: nothing gathers
    token = timing.begin()
    assert await store.query_entities() == "read" and await store.insert_entity() == "written"
    await store.start()
    times = timing.end(token)
    assert set(times) == {"mongoReadWait", "mongoWriteWait"} and all(v >= 0 for v in times.values())
    assert store.pool_size == 10
    assert [
        timing.storage_module(m) for m in ("write_batch", "delete_expired", "finish_notifications", "get_type")
    ] == [
        "mongoWriteWait",
        "mongoWriteWait",
        "mongoWriteWait",
        "mongoReadWait",
    ]
