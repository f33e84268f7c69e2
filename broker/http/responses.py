"""Success responses with Orion's shapes: JSON bodies, 201 with Location, 204."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from broker.observability.timing import measuring


def json_response(data: Any, *, status: int = 200, total: int | None = None) -> web.Response:
    headers = {"Fiware-Total-Count": str(total)} if total is not None else None
    with measuring("render"):
        body = orjson.dumps(data)
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def text_response(text: str) -> web.Response:
    return web.Response(status=200, body=text.encode(), content_type="text/plain")


def created(location: str) -> web.Response:
    return web.Response(status=201, headers={"Location": location, "Content-Length": "0"})


def no_content() -> web.Response:
    return web.Response(status=204)


def entity_location(entity_id: str, entity_type: str) -> str:
    """Ids and types cannot hold URL delimiters, so Orion writes them as they are."""
    return f"/v2/entities/{entity_id}?type={entity_type}"
