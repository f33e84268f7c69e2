"""The outermost middleware: counts every request for `/statistics` and `/admin/metrics`.

It wraps the pipeline, which turns every failure into a response, so each request is counted
once, with the status the client gets.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource

from broker.observability import timing
from broker.observability.recorder import Recorder, RequestDone
from broker.observability.trace import TraceLevels

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OBSERVABILITY = web.AppKey("observability", Recorder)
TRACE_LEVELS = web.AppKey("trace_levels", TraceLevels)

_SKIP = ("HEAD", "OPTIONS", "*")
_WRITES = frozenset({"POST", "PUT", "PATCH"})


def _template(resource: AbstractResource) -> str:
    canonical = resource.canonical
    return canonical.rstrip("/") if len(canonical) > 1 else canonical


def _verbs(resource: AbstractResource) -> frozenset[str]:
    return frozenset(route.method for route in resource if route.method not in _SKIP)


@functools.lru_cache(maxsize=1024)  # resources are fixed once the application runs
def _route_of(resource: AbstractResource) -> tuple[str, frozenset[str]]:
    return _template(resource), _verbs(resource)


async def matched_route(request: web.Request) -> tuple[str | None, frozenset[str]]:
    """The route template the URL matched (whatever the method) and the verbs it serves; None when
    no route has this URL."""
    resource = request.match_info.route.resource
    if resource is not None:
        return _route_of(resource)
    if isinstance(request.match_info.http_exception, web.HTTPMethodNotAllowed):
        for candidate in request.app.router.resources():
            match, allowed = await candidate.resolve(request)
            if match is None and allowed:
                return _template(candidate), _verbs(candidate)
    return None, frozenset()


def _media(request: web.Request) -> str | None:
    return request.content_type.lower() if request.content_length else None


def _body_length(response: web.StreamResponse) -> int:
    if isinstance(response, web.Response) and isinstance(response.body, (bytes, bytearray)):
        return len(response.body)
    return response.content_length or 0


async def _written(recorder: Recorder, route: str | None, request: web.Request) -> None:
    """A successful write's body (already read: aiohttp keeps it) to the deprecated-feature counters;
    only bodies that name a `geo:` type are parsed again."""
    body = await request.read()
    if b'"geo:' in body:
        try:
            recorder.deprecated_geo(route, orjson.loads(body))
        except orjson.JSONDecodeError:
            pass


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    recorder = request.app[OBSERVABILITY]
    started = time.perf_counter()
    route, allowed = await matched_route(request)
    recorder.request_started(route, allowed, request.method, _media(request))
    token = timing.begin() if recorder.wants_module_times() else None
    try:
        response = await handler(request)
    finally:
        modules = timing.end(token) if token is not None else None
    if response.status < 400 and request.method in _WRITES and recorder.wants_written_body():
        await _written(recorder, route, request)
    recorder.request_done(
        RequestDone(
            service=request.headers.get("Fiware-Service"),
            service_path=request.headers.get("Fiware-ServicePath"),
            request_bytes=request.content_length or 0,
            response_bytes=_body_length(response),
            status=response.status,
            seconds=time.perf_counter() - started,
            modules=modules,
        )
    )
    return response
