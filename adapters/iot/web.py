"""aiohttp glue shared by the agent's two HTTP servers: IoT Agent error bodies, bounded body reads."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.iot import errors

log = logging.getLogger("adapters.iot.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_PAYLOAD = web.AppKey("max_payload", int)


def error_response(e: errors.IotError) -> web.Response:
    return web.json_response(e.body(), status=e.status)


@web.middleware
async def iot_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """IotError -> its status and `{name, message}`; anything unexpected -> 500 in the same shape, logged."""
    try:
        return await handler(request)
    except errors.IotError as e:
        return error_response(e)
    except web.HTTPRequestEntityTooLarge:
        return error_response(errors.payload_too_large(request.app[MAX_PAYLOAD]))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(errors.IotError(500, "INTERNAL_ERROR", "An internal error happened"))


async def read_body(request: web.Request) -> bytes:
    limit = request.app[MAX_PAYLOAD]
    if request.content_length is not None and request.content_length > limit:
        raise errors.payload_too_large(limit)
    return await request.read()


def make_app(max_payload: int) -> web.Application:
    app = web.Application(middlewares=[iot_errors], client_max_size=max_payload)
    app[MAX_PAYLOAD] = max_payload
    return app
