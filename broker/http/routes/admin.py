"""Orion's operations API: `/statistics`, `/cache/statistics`, `/admin/log`, `/log/trace`,
`/admin/sem` and `/admin/metrics`, with Orion's bodies (some of them not NGSI error bodies) and
Orion's numbers (seconds with at most 9 decimals)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from broker.http.observe import OBSERVABILITY, TRACE_LEVELS
from broker.http.responses import json_response
from broker.http.services import services
from broker.logs import ORION_LEVELS
from broker.ngsi.errors import bad_request
from broker.ngsi.render import render_json
from broker.observability.metrics import PrometheusCollector
from broker.observability.statistics import RESET_MESSAGE
from broker.observability.trace import well_formed

# PUT /admin/log?level= : Orion's accepted words (any case) -> our level names
LEVEL_WORDS = {
    "none": "NONE",
    "fatal": "FATAL",
    "error": "ERROR",
    "warning": "WARN",
    "warn": "WARN",
    "info": "INFO",
    "debug": "DEBUG",
}
_NAME_OF_LEVEL = {number: name for name, number in ORION_LEVELS.items()}


def _plain(status: int, body: dict[str, Any] | None) -> web.Response:
    """Orion's own-format answers (`{"error": "..."}` without a description, or no body at all)."""
    if body is None:
        return web.Response(status=status)
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


# ------------------------------------------------------------------------------------- statistics
async def get_statistics(request: web.Request) -> web.Response:
    full = "fullCounters" in request.query.get("options", "").split(",")
    recorder = request.app[OBSERVABILITY]
    size = await services(request).subscriptions.outbox_size() if recorder.wants_queue_size() else 0
    return json_response(render_json(recorder.statistics_json(full=full, queue_size=size)))


async def delete_statistics(request: web.Request) -> web.Response:
    request.app[OBSERVABILITY].reset_statistics()
    return json_response(RESET_MESSAGE)


async def get_cache_statistics(request: web.Request) -> web.Response:
    notifier = services(request).subscriptions.notifier
    return json_response(notifier.cache_stats.to_json(items=notifier.cached_count()))


async def delete_cache_statistics(request: web.Request) -> web.Response:
    services(request).subscriptions.notifier.cache_stats.reset()
    return json_response(RESET_MESSAGE)


# ------------------------------------------------------------------------------------- log level
async def get_log_level(request: web.Request) -> web.Response:
    level = logging.getLogger("broker").getEffectiveLevel()
    return json_response({"level": _NAME_OF_LEVEL.get(level, logging.getLevelName(level))})


async def put_log_level(request: web.Request) -> web.Response:
    """Changes this process's log level at once (with `-workers N`, the process that answered)."""
    word = request.query.get("level")
    if word is None:
        return _plain(400, {"error": "log level missing"})
    name = LEVEL_WORDS.get(word.lower())
    if name is None:
        return _plain(400, {"error": "invalid log level"})
    logging.getLogger("broker").setLevel(ORION_LEVELS[name])
    return _plain(200, None)


# ------------------------------------------------------------------------------------- trace levels
async def log_trace(request: web.Request) -> web.Response:
    """`/log/trace[/{levels}]`: GET reads, PUT sets, DELETE clears all or some; any other
    combination is Orion's 400 "bad URL/Verb"."""
    trace = request.app[TRACE_LEVELS]
    levels = request.match_info.get("levels")
    method = request.method
    if levels is None and method == "GET":
        return json_response({"tracelevels": trace.render()})
    if levels is None and method == "DELETE":
        trace.clear()
        return json_response({"tracelevels": "all trace levels off"})
    if levels is not None and method in ("PUT", "DELETE"):
        if not well_formed(levels):
            return json_response({"tracelevels": "poorly formatted trace level string"})
        if method == "PUT":
            trace.set(levels)
            return json_response({"tracelevels": levels})
        trace.remove(levels)
        return json_response({"tracelevels_removed": levels})
    path = request.path.strip("/")
    raise bad_request(f"bad URL/Verb: {method} {path}")


# ------------------------------------------------------------------------------------- semaphores
def lock_state(lock: Any) -> str:
    """ "taken" or "free", without waiting for the lock."""
    if hasattr(lock, "locked"):
        return "taken" if lock.locked() else "free"
    if lock.acquire(blocking=False):
        lock.release()
        return "free"
    return "taken"


async def get_semaphores(request: web.Request) -> web.Response:
    """The state of the locks this process takes: the metrics', the statistics' and the log's."""
    recorder = request.app[OBSERVABILITY]
    log_locks = [h.lock for h in logging.getLogger("broker").handlers if h.lock is not None]
    locks: dict[str, Any] = {"metrics": recorder.metrics.lock, "timeStat": recorder.statistics.lock}
    states = {name: lock_state(lock) for name, lock in locks.items()}
    states["logMsg"] = "taken" if any(lock_state(lock) == "taken" for lock in log_locks) else "free"
    return json_response({name: {"status": states[name]} for name in sorted(states)})


# ------------------------------------------------------------------------------------- metrics
def _wants_prometheus(request: web.Request) -> bool:
    """A Prometheus scrape (it asks for text/plain or OpenMetrics, not JSON) gets the exposition
    format; anything else, Orion's JSON."""
    ranges = [part.split(";")[0].strip().lower() for part in request.headers.get("Accept", "").split(",")]
    textual = any(r in ("text/plain", "application/openmetrics-text") for r in ranges)
    return textual and "application/json" not in ranges


def _metrics_off() -> web.Response:
    raise bad_request("metrics desactivated")


async def get_metrics(request: web.Request) -> web.Response:
    recorder = request.app[OBSERVABILITY]
    if not recorder.metrics.enabled:
        return _metrics_off()
    reset = request.query.get("reset") == "true"
    if _wants_prometheus(request):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(PrometheusCollector(lambda: recorder.metrics_data(reset)))
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(registry)
        return web.Response(body=body, headers={"Content-Type": content_type})
    return json_response(render_json(recorder.metrics_json(reset=reset)))


async def delete_metrics(request: web.Request) -> web.Response:
    recorder = request.app[OBSERVABILITY]
    if not recorder.metrics.enabled:
        return _metrics_off()
    recorder.reset_metrics()
    return web.Response(status=204)
