"""`/version`, the `/v2` entry point and `/openapi.json`."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from broker.http.responses import json_response
from broker.http.services import services
from broker.version import render_version

SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas"

ENTRY_POINT = {
    "entities_url": "/v2/entities",
    "types_url": "/v2/types",
    "subscriptions_url": "/v2/subscriptions",
    "registrations_url": "/v2/registrations",
}


async def get_version(request: web.Request) -> web.Response:
    """Orion writes this one by hand, indented; clients that compare it byte for byte get the same."""
    body = render_version(services(request).started_at).encode()
    return web.Response(body=body, content_type="application/json")


async def get_entry_point(request: web.Request) -> web.Response:
    return json_response(ENTRY_POINT)


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(body=(SCHEMAS_DIR / "openapi.json").read_bytes(), content_type="application/json")


async def options_placeholder(request: web.Request) -> web.Response:  # pragma: no cover
    """Never reached: the pipeline answers OPTIONS itself; the route only makes the path known."""
    raise web.HTTPMethodNotAllowed("OPTIONS", [])
