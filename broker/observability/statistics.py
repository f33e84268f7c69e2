"""Orion's statistics (`GET /statistics`): request counters by URL kind and verb (`-statCounters`),
lock waiting times (`-statSemWait`, see semwait.py), request timing (`-statTiming`) and
notification-queue counters (`-statNotifQueue`).

A counter appears once it has counted something (all of them with `?options=fullCounters`), as in
Orion. Thread-safe; the lock also serves `/admin/sem`'s `timeStat`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from broker.ngsi.geo import SIMPLE_TYPES
from broker.observability.semwait import SEM_WAIT
from broker.observability.timing import MODULES as TIMED_MODULES

VERBS = ("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")  # Orion's rendering order

# Orion's URL kinds and the verbs each counts (any other verb counts in `missedVerb`), in Orion's order
ORION_KINDS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (kind, frozenset(verbs.split()))
    for kind, verbs in (
        ("/v2", "GET OPTIONS"),
        ("/v2/entities", "GET POST OPTIONS"),
        ("/v2/entities/{id}[/attrs]", "GET POST PATCH PUT DELETE OPTIONS"),
        ("/v2/entities/{id}/attrs/{name}", "GET PUT DELETE OPTIONS"),
        ("/v2/entities/{id}/attrs/{name}/value", "GET PUT OPTIONS"),
        ("/v2/types", "GET OPTIONS"),
        ("/v2/types/{type}", "GET OPTIONS"),
        ("/v2/subscriptions", "GET POST OPTIONS"),
        ("/v2/subscriptions/{id}", "GET PATCH DELETE OPTIONS"),
        ("/v2/registrations", "GET POST OPTIONS"),
        ("/v2/registrations/{id}", "GET PATCH DELETE OPTIONS"),
        ("/v2/op/query", "POST OPTIONS"),
        ("/v2/op/update", "POST OPTIONS"),
        ("/v2/op/notify", "POST"),
        ("/log/trace[/{level}]", "GET PUT DELETE"),
        ("/statistics", "GET DELETE"),
        ("/cache/statistics", "GET DELETE"),
        ("/admin/log", "GET PUT"),
        ("/admin/sem", "GET"),
        ("/version", "GET"),
        ("/admin/metrics", "GET DELETE"),
    )
)

# our route templates (broker.http.app.ROUTES) -> Orion's kind; routes Orion lacks count under their own template
ROUTE_KINDS = {
    "/v2": "/v2",
    "/v2/entities": "/v2/entities",
    "/v2/entities/{entityId}": "/v2/entities/{id}[/attrs]",
    "/v2/entities/{entityId}/attrs": "/v2/entities/{id}[/attrs]",
    "/v2/entities/{entityId}/attrs/{attrName}": "/v2/entities/{id}/attrs/{name}",
    "/v2/entities/{entityId}/attrs/{attrName}/value": "/v2/entities/{id}/attrs/{name}/value",
    "/v2/types": "/v2/types",
    "/v2/types/{entityType}": "/v2/types/{type}",
    "/v2/subscriptions": "/v2/subscriptions",
    "/v2/subscriptions/{subscriptionId}": "/v2/subscriptions/{id}",
    "/v2/registrations": "/v2/registrations",
    "/v2/registrations/{registrationId}": "/v2/registrations/{id}",
    "/v2/op/query": "/v2/op/query",
    "/v2/op/update": "/v2/op/update",
    "/v2/op/notify": "/v2/op/notify",
    "/log/trace": "/log/trace[/{level}]",
    "/log/trace/{levels}": "/log/trace[/{level}]",
    "/statistics": "/statistics",
    "/cache/statistics": "/cache/statistics",
    "/admin/log": "/admin/log",
    "/admin/sem": "/admin/sem",
    "/version": "/version",
    "/admin/metrics": "/admin/metrics",
}

# Orion's URL kinds this broker never serves, shown (at 0) with `fullCounters` as Orion shows them:
# its debug-build-only kinds, and its NGSIv1 kinds (`requestsLegacy`), since NGSIv1 is not offered
DEBUG_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (("/exit[/*]", ("GET",)), ("/leak[/*]", ("GET",)))
LEGACY_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/v1/contextEntities/{id}", ("PUT", "DELETE")),
    ("/v1/contextEntities/{id}/attributes/{name}", ("GET",)),
    ("/v1/queryContext", ("POST",)),
    ("/v1/updateContext", ("POST",)),
    ("/ngsi10/queryContext", ("POST",)),
    ("/ngsi10/updateContext", ("POST",)),
)

RESET_MESSAGE = {"message": "All statistics counter reset"}

# writes whose body may carry attributes: route template -> where the attributes are
_ENTITY_BODY = {"/v2/entities", "/v2/entities/{entityId}/attrs"}
_ATTRIBUTE_BODY = {"/v2/entities/{entityId}/attrs/{attrName}"}
_BATCH_BODY = {"/v2/op/update"}
_NOT_ATTRIBUTES = frozenset({"id", "type", "idPattern", "typePattern"})


def geo_format_uses(route: str | None, body: Any) -> int:
    """How many attributes of a write use a deprecated location type (`geo:point`, `geo:line`,
    `geo:box`, `geo:polygon`): Orion's `deprecatedFeatures.geoFormat` counter."""

    def in_entity(entity: Any) -> int:
        if not isinstance(entity, dict):
            return 0
        return sum(
            1
            for name, attr in entity.items()
            if name not in _NOT_ATTRIBUTES and isinstance(attr, dict) and attr.get("type") in SIMPLE_TYPES
        )

    if route in _ENTITY_BODY:
        return in_entity(body)
    if route in _ATTRIBUTE_BODY:
        return int(isinstance(body, dict) and body.get("type") in SIMPLE_TYPES)
    if route in _BATCH_BODY and isinstance(body, dict) and isinstance(body.get("entities"), list):
        return sum(in_entity(entity) for entity in body["entities"])
    return 0


@dataclass(frozen=True)
class StatSettings:
    counters: bool = False  # -statCounters
    timing: bool = False  # -statTiming
    notif_queue: bool = False  # -statNotifQueue
    sem_wait: bool = False  # -statSemWait


@dataclass
class _Queue:
    """Notification attempts taken from the outbox: sent, failed, and their time waiting in it."""

    attempts: int = 0
    sent_ok: int = 0
    sent_error: int = 0
    time_in_queue: float = 0.0


@dataclass
class _Counters:
    json: int = 0
    text: int = 0
    no_payload: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    missed_verb: int = 0
    invalid: int = 0
    notifications_sent: int = 0
    geo_format: int = 0


class Statistics:
    def __init__(self, settings: StatSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or StatSettings()
        self.clock = clock
        self.lock = threading.Lock()
        self.started = self.since = clock()
        self._counters = _Counters()
        self._extra_kinds: dict[str, frozenset[str]] = {}  # our own endpoints, in first-seen order
        self._timing_total: dict[str, float] = {}  # module (and "total") -> seconds, all requests
        self._timing_last: dict[str, float] = {}  # the same for the last request
        self._queue = _Queue()

    # -- counting -----------------------------------------------------------------------------
    def request(self, route: str | None, allowed: frozenset[str], verb: str, media: str | None) -> None:
        """One request: `route` is the matched route template (None: no such URL), `allowed` the
        verbs it serves, `media` the body's type (None: no body)."""
        if self.settings.counters:
            with SEM_WAIT.holding("timeStat", self.lock):
                self._count(route, allowed, verb, media)

    def timed(self, seconds: float, modules: dict[str, float] | None = None) -> None:
        """The time one request took, from its arrival to its response, and the part of it spent
        in each of Orion's modules (timing.py)."""
        if self.settings.timing:
            last = {**(modules or {}), "total": seconds}
            with SEM_WAIT.holding("timeStat", self.lock):
                for name, value in last.items():
                    self._timing_total[name] = self._timing_total.get(name, 0.0) + value
                self._timing_last = last

    def _count(self, route: str | None, allowed: frozenset[str], verb: str, media: str | None) -> None:
        c = self._counters
        if media == "application/json":
            c.json += 1
        elif media == "text/plain":
            c.text += 1
        else:
            c.no_payload += 1
        if route is None:
            c.invalid += 1
            return
        kind = ROUTE_KINDS.get(route)
        if kind is None:
            kind = route
            self._extra_kinds.setdefault(kind, allowed)
        verbs = dict(ORION_KINDS).get(kind) or self._extra_kinds[kind]
        if verb not in verbs:
            c.missed_verb += 1
            return
        per_verb = c.by_kind.setdefault(kind, {})
        per_verb[verb] = per_verb.get(verb, 0) + 1

    def deprecated_geo(self, uses: int) -> None:
        """`uses` attributes written with a deprecated location type (`geo_format_uses`)."""
        if self.settings.counters and uses:
            with SEM_WAIT.holding("timeStat", self.lock):
                self._counters.geo_format += uses

    def notification(self, ok: bool, waited: float) -> None:
        """One notification attempt, `waited` seconds after its change was written to the outbox."""
        with SEM_WAIT.holding("timeStat", self.lock):
            if self.settings.counters:
                self._counters.notifications_sent += 1
            if self.settings.notif_queue:
                q = self._queue
                q.attempts += 1
                q.time_in_queue += max(0.0, waited)
                if ok:
                    q.sent_ok += 1
                else:
                    q.sent_error += 1

    def reset(self) -> None:
        with SEM_WAIT.holding("timeStat", self.lock):
            self._counters = _Counters()
            self._queue = _Queue()
            self._timing_total = {}
            self._timing_last = {}
            self.since = self.clock()
        SEM_WAIT.reset()

    # -- rendering ----------------------------------------------------------------------------
    def to_json(
        self, full: bool = False, extra: tuple[int, int, int, float] | None = None, queue_size: int = 0
    ) -> dict[str, Any]:
        """Orion's `GET /statistics` body; `full` is `?options=fullCounters`; `extra`: notification
        attempts another process made for this one (all, delivered, failed, seconds waited);
        `queue_size`: the notifications owed right now (the outbox)."""
        out: dict[str, Any] = {}
        with SEM_WAIT.holding("timeStat", self.lock):
            counters, queue = self._counters, self._queue
            if extra is not None:
                sent, ok, error, waited = extra
                counters = replace(counters, notifications_sent=counters.notifications_sent + sent)
                queue = _Queue(
                    queue.attempts + sent, queue.sent_ok + ok, queue.sent_error + error, queue.time_in_queue + waited
                )
            if self.settings.counters:
                out["counters"] = self._render_counters(counters, full)
            if self.settings.sem_wait:
                out["semWait"] = SEM_WAIT.to_json()
            if self.settings.timing:
                out["timing"] = self._render_timing()
            if self.settings.notif_queue:
                out["notifQueue"] = self._render_queue(queue, queue_size)
            now = self.clock()
            out["uptime_in_secs"] = int(now - self.started)
            out["measuring_interval_in_secs"] = int(now - self.since)
        if full:
            out["simulatedNotifications"] = 0  # -simulatedNotification is not offered: never any
        return out

    def _render_counters(self, c: _Counters, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}

        def used(name: str, value: int) -> None:
            if full or value:
                out[name] = value

        used("jsonRequests", c.json)
        used("textRequests", c.text)
        used("noPayloadRequests", c.no_payload)
        requests: dict[str, dict[str, int]] = {}
        for kind, verbs in (*ORION_KINDS, *self._extra_kinds.items()):
            counted = c.by_kind.get(kind, {})
            if full or counted:
                requests[kind] = {v: counted.get(v, 0) for v in VERBS if v in verbs and (full or v in counted)}
        if full:
            for kind, never in DEBUG_KINDS:
                requests[kind] = dict.fromkeys(never, 0)
        if requests:
            out["requests"] = requests
        if full:
            out["requestsLegacy"] = {kind: {v: 0 for v in VERBS if v in never} for kind, never in LEGACY_KINDS}
        used("missedVerb", c.missed_verb)
        used("invalidRequests", c.invalid)
        used("registrationUpdateErrors", 0)  # NGSIv1 registration updates and discoveries: not offered
        used("discoveryErrors", 0)
        used("notificationsSent", c.notifications_sent)
        deprecated = {"ngsiv1Requests": 0, "ngsiv1Forwarding": 0, "geoFormat": c.geo_format}  # no NGSIv1 here
        deprecated = {name: value for name, value in deprecated.items() if full or value}
        if deprecated:
            out["deprecatedFeatures"] = deprecated
        return out

    def _render_timing(self) -> dict[str, Any]:
        """Orion's `accumulated` and `last`, each showing the modules with some time, in Orion's order."""
        out: dict[str, Any] = {}
        for key, times in (("accumulated", self._timing_total), ("last", self._timing_last)):
            shown = {name: times[name] for name in (*TIMED_MODULES, "total") if times.get(name)}
            if shown:
                out[key] = shown
        return out

    def _render_queue(self, q: _Queue, size: int) -> dict[str, Any]:
        return {
            "in": q.attempts,
            "out": q.attempts,
            "reject": 0,  # the outbox is persistent and unbounded: nothing is ever turned away
            "sentOk": q.sent_ok,
            "sentError": q.sent_error,
            "timeInQueue": q.time_in_queue,
            "avgTimeInQueue": q.time_in_queue / q.attempts if q.attempts else 0,
            "size": size,
        }


@dataclass
class CacheCounters:
    """The subscription cache's counters (`GET /cache/statistics`), kept by the notifier."""

    refresh: int = 0
    inserts: int = 0
    removes: int = 0
    updates: int = 0

    def reset(self) -> None:
        self.refresh = self.inserts = self.removes = self.updates = 0

    def to_json(self, items: int) -> dict[str, Any]:
        return {
            "ids": "",  # Orion renders an empty string here
            "refresh": self.refresh,
            "inserts": self.inserts,
            "removes": self.removes,
            "updates": self.updates,
            "items": items,
        }
