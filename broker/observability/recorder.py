"""One process's observability: the statistics and the metrics, fed by the HTTP layer and the
notification hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.observability import relay
from broker.observability.metrics import (
    TOTAL_SERVICE_TIME,
    TRANS_IN,
    TRANS_IN_ERRORS,
    TRANS_IN_REQ_SIZE,
    TRANS_IN_RESP_SIZE,
    TRANS_OUT,
    TRANS_OUT_ERRORS,
    TRANS_OUT_REQ_SIZE,
    TRANS_OUT_RESP_SIZE,
    Counts,
    Metrics,
    render_tree,
    service_key,
    subservice_key,
)
from broker.observability.semwait import SEM_WAIT
from broker.observability.statistics import Statistics, StatSettings, geo_format_uses


@dataclass(frozen=True)
class ObservabilitySettings:
    stats: StatSettings = StatSettings()
    metrics: bool = True  # False: -disableMetrics
    delivery_file: str = ""  # the delivery worker process's counters (relay.relay_path), when it sends them


@dataclass(frozen=True)
class RequestDone:
    """What one answered request adds to the metrics."""

    service: str | None  # `Fiware-Service` as sent (None: absent)
    service_path: str | None  # `Fiware-ServicePath` as sent
    request_bytes: int
    response_bytes: int
    status: int
    seconds: float
    modules: dict[str, float] | None = None  # the part of `seconds` spent in Orion's modules (timing.py)


class Recorder:
    def __init__(self, settings: ObservabilitySettings | None = None, *, multiservice: bool = True) -> None:
        self.settings = settings or ObservabilitySettings()
        self.multiservice = multiservice  # without -multiservice every request is the default service's
        self.statistics = Statistics(self.settings.stats)
        SEM_WAIT.enabled = self.settings.stats.sem_wait  # one process, one broker: its flag decides
        self.metrics = Metrics(enabled=self.settings.metrics)
        self._stats_base = relay.Delivered()  # the worker's counts at the last reset of each
        self._metrics_base = relay.Delivered()

    # -- rendering, with the delivery worker's notifications ---------------------------------------
    def _delivered(self) -> relay.Delivered | None:
        return relay.read(self.settings.delivery_file) if self.settings.delivery_file else None

    def wants_queue_size(self) -> bool:
        """Whether `statistics_json` shows the notification queue (then give it its size)."""
        return self.statistics.settings.notif_queue

    def statistics_json(self, full: bool = False, queue_size: int = 0) -> dict[str, Any]:
        delivered = self._delivered()
        since = delivered.minus(self._stats_base) if delivered else None
        extra = (since.sent, since.ok, since.error, since.waited) if since else None
        return self.statistics.to_json(full=full, extra=extra, queue_size=queue_size)

    def reset_statistics(self) -> None:
        self.statistics.reset()
        self._stats_base = self._delivered() or relay.Delivered()

    def metrics_data(self, reset: bool = False) -> dict[str, dict[str, Counts]]:
        """This process's counters plus the delivery worker's since the last reset."""
        data = self.metrics.snapshot(reset)
        delivered = self._delivered()
        if delivered is not None:
            for service, subs in delivered.minus(self._metrics_base).metrics.items():
                for sub, counts in subs.items():
                    mine = data.setdefault(service, {}).setdefault(sub, {})
                    for name, value in counts.items():
                        mine[name] = mine.get(name, 0) + value
            if reset:
                self._metrics_base = delivered
        return data

    def metrics_json(self, reset: bool = False) -> dict[str, Any]:
        return render_tree(self.metrics_data(reset))

    def reset_metrics(self) -> None:
        self.metrics_data(reset=True)

    def request_started(self, route: str | None, allowed: frozenset[str], verb: str, media: str | None) -> None:
        """Counted before the request is served, as Orion does (a `GET /statistics` counts itself,
        a `DELETE /statistics` is wiped by its own reset)."""
        self.statistics.request(route, allowed, verb, media)

    def wants_module_times(self) -> bool:
        """Whether requests are to be timed module by module (`-statTiming`)."""
        return self.statistics.settings.timing

    def wants_written_body(self) -> bool:
        """Whether successful writes' bodies are to be looked at (`deprecated_geo`)."""
        return self.statistics.settings.counters

    def deprecated_geo(self, route: str | None, body: Any) -> None:
        """A successful write's body, for the `deprecatedFeatures.geoFormat` counter."""
        self.statistics.deprecated_geo(geo_format_uses(route, body))

    def request_done(self, r: RequestDone) -> None:
        self.statistics.timed(r.seconds, r.modules)
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

    def notification(
        self, tenant: str, service_path: str, sent_bytes: int, ok: bool, waited: float, received_bytes: int = 0
    ) -> None:
        self.statistics.notification(ok, waited)
        values = {TRANS_OUT: 1, TRANS_OUT_REQ_SIZE: sent_bytes, TRANS_OUT_RESP_SIZE: received_bytes}
        if not ok:
            values[TRANS_OUT_ERRORS] = 1
        self.metrics.add(tenant, subservice_key(service_path), values)
