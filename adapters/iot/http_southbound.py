"""Southbound HTTP: UltraLight at `/iot/d` (GET with `d`, or POST body) and JSON at `/iot/json`, `?k=<apikey>&i=<device>`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.iot import errors
from adapters.iot.ingest import Ingested, Ingestor
from adapters.iot.json_measures import parse_json_measures
from adapters.iot.measures import MeasureGroup, MeasureSyntaxError
from adapters.iot.ultralight import parse_ultralight
from adapters.iot.web import MAX_PAYLOAD, make_app, read_body
from adapters.ngsi_client import BrokerError

log = logging.getLogger("adapters.iot.http")
INGESTOR = web.AppKey("ingestor", Ingestor)
RESOURCE = web.AppKey("resource", str)
JSON_RESOURCE = web.AppKey("json_resource", str)
HTTP_WAIT = web.AppKey("http_wait", float)


def _keys(request: web.Request) -> tuple[str, str]:
    missing = [p for p in ("i", "k") if not request.query.get(p)]
    if missing:
        raise errors.mandatory_params(missing)
    return request.query["k"], request.query["i"]


def _with_timestamp(groups: list[MeasureGroup], t: str | None) -> list[MeasureGroup]:
    return groups if not t else [MeasureGroup(g.values, g.timestamp or t) for g in groups]


def _parse(parser: Callable[[Any], list[MeasureGroup]], payload: str | bytes, device_id: str) -> list[MeasureGroup]:
    try:
        return parser(payload)
    except MeasureSyntaxError as e:
        log.warning("device %s: malformed measure: %s", device_id, e)
        raise errors.parse_error(str(e)) from None


async def _answer(request: web.Request, result: Ingested) -> web.Response:
    """200 once the broker accepted every update; the IoT Agent error shape otherwise."""
    if not result.updates:
        detail = "; ".join(result.problems) or "no measure to send"
        raise errors.IotError(400, "WRONG_MEASURE", f"No measure of device {result.device_id} could be used: {detail}")
    done, not_done = await asyncio.wait(result.updates, timeout=request.app[HTTP_WAIT])
    if not_done:
        raise errors.broker_unavailable(
            f"{len(not_done)} update(s) of device {result.device_id} still queued, not lost"
        )
    for f in done:
        exc = f.exception()
        if isinstance(exc, BrokerError):
            raise errors.bad_request(exc.body)
    return web.Response(status=200, text="")


async def ultralight(request: web.Request) -> web.Response:
    apikey, device_id = _keys(request)
    if request.method == "GET":
        payload = request.query.get("d")
        if payload is None:
            raise errors.mandatory_params(["d"])
        if len(payload.encode()) > request.app[MAX_PAYLOAD]:
            raise errors.payload_too_large(request.app[MAX_PAYLOAD])
    else:
        try:
            payload = (await read_body(request)).decode("utf-8")
        except UnicodeDecodeError:
            raise errors.parse_error("payload is not UTF-8") from None
    groups = _with_timestamp(_parse(parse_ultralight, payload, device_id), request.query.get("t"))
    result = await request.app[INGESTOR].ingest(apikey, device_id, request.app[RESOURCE], "HTTP", groups)
    return await _answer(request, result)


async def json_measures(request: web.Request) -> web.Response:
    apikey, device_id = _keys(request)
    body = await read_body(request)
    groups = _with_timestamp(_parse(parse_json_measures, body, device_id), request.query.get("t"))
    result = await request.app[INGESTOR].ingest(apikey, device_id, request.app[JSON_RESOURCE], "HTTP", groups)
    return await _answer(request, result)


def build_southbound_app(
    ingestor: Ingestor,
    resource: str = "/iot/d",
    json_resource: str = "/iot/json",
    max_payload: int = 1024 * 1024,
    http_wait: float = 30.0,
) -> web.Application:
    app = make_app(max_payload)
    app[INGESTOR] = ingestor
    app[RESOURCE] = resource
    app[JSON_RESOURCE] = json_resource
    app[HTTP_WAIT] = http_wait
    app.router.add_route("GET", resource, ultralight)
    app.router.add_route("POST", resource, ultralight)
    app.router.add_route("POST", json_resource, json_measures)
    return app
