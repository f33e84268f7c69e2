"""Orion's metrics (`GET /admin/metrics`): counters per service and subservice, rendered as Orion's
JSON tree, and the same numbers as a Prometheus collector.

Keys follow Orion: `default-service` for the default tenant, `root-subserv` for `/`, a subservice
without its first `/` and without a trailing `/#`; for a list of service paths the first one counts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from broker.ngsi.errors import NgsiError
from broker.ngsi.tenancy import parse_read_scopes, parse_tenant
from broker.observability.semwait import SEM_WAIT

TRANS_IN = "incomingTransactions"
TRANS_IN_REQ_SIZE = "incomingTransactionRequestSize"
TRANS_IN_RESP_SIZE = "incomingTransactionResponseSize"
TRANS_IN_ERRORS = "incomingTransactionErrors"
SERVICE_TIME = "serviceTime"
TOTAL_SERVICE_TIME = "_totalServiceTime"  # microseconds; shown only as the average `serviceTime`
TRANS_OUT = "outgoingTransactions"
TRANS_OUT_REQ_SIZE = "outgoingTransactionRequestSize"
TRANS_OUT_RESP_SIZE = "outgoingTransactionResponseSize"
TRANS_OUT_ERRORS = "outgoingTransactionErrors"

DEFAULT_SERVICE_KEY = "default-service"
ROOT_SUBSERV_KEY = "root-subserv"

COUNTERS = (
    (TRANS_IN, "Requests received (successful or not)"),
    (TRANS_IN_REQ_SIZE, "Bytes of the bodies of the requests received"),
    (TRANS_IN_RESP_SIZE, "Bytes of the bodies of the responses to them"),
    (TRANS_IN_ERRORS, "Requests received that were answered with an error"),
    (TRANS_OUT, "Requests sent: notification attempts"),
    (TRANS_OUT_REQ_SIZE, "Bytes of the bodies of the requests sent"),
    (TRANS_OUT_RESP_SIZE, "Bytes of the bodies of the responses to them"),
    (TRANS_OUT_ERRORS, "Requests sent that failed"),
)

Counts = dict[str, int]


def service_key(header: str | None) -> str | None:
    """The tenant a request counts under, or None when the header is not a valid service name."""
    try:
        return parse_tenant(header)
    except NgsiError:
        return None


def subservice_key(header: str | None) -> str | None:
    """The subservice a request counts under ("" for the root), or None for an invalid header."""
    try:
        scopes = parse_read_scopes(header)
    except NgsiError:
        return None
    if header is None or header.strip() == "":
        return ""
    return scopes[0].path[1:]


def render_counts(counts: Counts) -> dict[str, Any]:
    """One subservice's (or sum's) metrics in Orion's order: names sorted, zeros left out, the
    average `serviceTime` (seconds) written just before `incomingTransactions`."""
    out: dict[str, Any] = {}
    total_time = transactions = 0
    for name in sorted(counts):
        value = counts[name]
        if name == TOTAL_SERVICE_TIME:
            total_time = value
        elif name == TRANS_IN:
            transactions = value
        if total_time and transactions:
            out[SERVICE_TIME] = total_time / (transactions * 1_000_000)
            total_time = transactions = 0
        if name != TOTAL_SERVICE_TIME and value:
            out[name] = value
    return out


def _add(target: Counts, source: Counts) -> None:
    for name, value in source.items():
        if value:
            target[name] = target.get(name, 0) + value


class Metrics:
    """The counters of one process; thread-safe (the lock also serves `/admin/sem`'s `metrics`)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.lock = threading.Lock()
        self._data: dict[str, dict[str, Counts]] = {}  # service -> subservice -> metric -> value

    def add(self, service: str | None, subservice: str | None, values: Counts) -> None:
        if not self.enabled or service is None or subservice is None:
            return
        with SEM_WAIT.holding("metrics", self.lock):
            counts = self._data.setdefault(service, {}).setdefault(subservice, {})
            for name, value in values.items():
                counts[name] = counts.get(name, 0) + value

    def reset(self) -> None:
        with SEM_WAIT.holding("metrics", self.lock):
            self._reset()

    def _reset(self) -> None:
        for subservices in self._data.values():
            for counts in subservices.values():
                for name in counts:
                    counts[name] = 0

    def snapshot(self, reset: bool = False) -> dict[str, dict[str, Counts]]:
        """A copy of the counters, reset at the same time when asked (`?reset=true`)."""
        with SEM_WAIT.holding("metrics", self.lock):
            copy = {s: {ss: dict(c) for ss, c in subs.items()} for s, subs in self._data.items()}
            if reset:
                self._reset()
        return copy

    def to_json(self, reset: bool = False) -> dict[str, Any]:
        """Orion's tree: `services` -> service -> `subservs`/`sum`, and a grand `sum` whose
        `subservs` adds up each subservice across services."""
        return render_tree(self.snapshot(reset))


def render_tree(data: dict[str, dict[str, Counts]]) -> dict[str, Any]:
    services: dict[str, Any] = {}
    grand: Counts = {}
    across: dict[str, Counts] = {}
    for service in sorted(data):
        subservs: dict[str, Any] = {}
        service_sum: Counts = {}
        for subservice in sorted(data[service]):
            counts = data[service][subservice]
            _add(service_sum, counts)
            _add(grand, counts)
            _add(across.setdefault(subservice, {}), counts)
            rendered = render_counts(counts)
            if rendered:
                subservs[subservice or ROOT_SUBSERV_KEY] = rendered
        service_rendered = render_counts(service_sum)
        if not subservs and not service_rendered:
            continue  # emptied by a reset: not shown
        services[service or DEFAULT_SERVICE_KEY] = {"subservs": subservs, "sum": service_rendered}
    return {
        "services": services,
        "sum": {
            "subservs": {(s or ROOT_SUBSERV_KEY): render_counts(across[s]) for s in sorted(across) if across[s]},
            "sum": render_counts(grand),
        },
    }


class PrometheusCollector(Collector):
    """The same counters for a Prometheus scrape: one family per Orion metric, labelled by
    `service` and `subservice` (Orion's keys); `serviceTime` is a gauge (average seconds)."""

    def __init__(self, source: Callable[[], dict[str, dict[str, Counts]]]) -> None:
        self.source = source  # the counters at scrape time (and a reset, for `?reset=true`)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        data = self.source()
        labels = ["service", "subservice"]
        families = {name: CounterMetricFamily(name, text, labels=labels) for name, text in COUNTERS}
        service_time = GaugeMetricFamily(SERVICE_TIME, "Average seconds to serve a request", labels=labels)
        for service in sorted(data):
            for subservice in sorted(data[service]):
                counts = data[service][subservice]
                label_values = [service or DEFAULT_SERVICE_KEY, subservice or ROOT_SUBSERV_KEY]
                for name, family in families.items():
                    family.add_metric(label_values, counts.get(name, 0))
                if counts.get(TRANS_IN):
                    service_time.add_metric(
                        label_values, counts.get(TOTAL_SERVICE_TIME, 0) / (counts[TRANS_IN] * 1_000_000)
                    )
        yield from families.values()
        yield service_time
