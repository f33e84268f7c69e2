"""One process's observability: the statistics and the metrics, fed by the HTTP layer and the
notification hook."""

from __future__ import annotations

from dataclasses import dataclass

from broker.observability.metrics import (
    TOTAL_SERVICE_TIME,
    TRANS_IN,
    TRANS_IN_ERRORS,
    TRANS_IN_REQ_SIZE,
    TRANS_IN_RESP_SIZE,
    TRANS_OUT,
    TRANS_OUT_ERRORS,
    TRANS_OUT_REQ_SIZE,
    Metrics,
    service_key,
    subservice_key,
)
from broker.observability.statistics import Statistics, StatSettings


@dataclass(frozen=True)
class ObservabilitySettings:
    stats: StatSettings = StatSettings()
    metrics: bool = True  # False: -disableMetrics


@dataclass(frozen=True)
class RequestDone:
    """What one answered request adds to the metrics."""

    service: str | None  # `Fiware-Service` as sent (None: absent)
    service_path: str | None  # `Fiware-ServicePath` as sent
    request_bytes: int
    response_bytes: int
    status: int
    seconds: float


class Recorder:
    def __init__(self, settings: ObservabilitySettings | None = None, *, multiservice: bool = True) -> None:
        self.settings = settings or ObservabilitySettings()
        self.multiservice = multiservice  # without -multiservice every request is the default service's
        self.statistics = Statistics(self.settings.stats)
        self.metrics = Metrics(enabled=self.settings.metrics)

    def request_started(self, route: str | None, allowed: frozenset[str], verb: str, media: str | None) -> None:
        """Counted before the request is served, as Orion does (a `GET /statistics` counts itself,
        a `DELETE /statistics` is wiped by its own reset)."""
        self.statistics.request(route, allowed, verb, media)

    def request_done(self, r: RequestDone) -> None:
        self.statistics.timed(r.seconds)
        if not self.metrics.enabled:
            return
        values = {
            TRANS_IN: 1,
            TRANS_IN_REQ_SIZE: r.request_bytes,
            TRANS_IN_RESP_SIZE: r.response_bytes,
            TOTAL_SERVICE_TIME: int(r.seconds * 1_000_000),
        }
        if r.status >= 400:
            values[TRANS_IN_ERRORS] = 1
        service = service_key(r.service) if self.multiservice else ""
        self.metrics.add(service, subservice_key(r.service_path), values)

    def notification(self, tenant: str, service_path: str, sent_bytes: int, ok: bool, waited: float) -> None:
        self.statistics.notification(ok, waited)
        values = {TRANS_OUT: 1, TRANS_OUT_REQ_SIZE: sent_bytes}
        if not ok:
            values[TRANS_OUT_ERRORS] = 1
        self.metrics.add(tenant, subservice_key(service_path), values)
