"""`/v2/registrations` and `/v2/registrations/{registrationId}` (GET, POST, DELETE as Orion 4.x; PATCH ours)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker.http.request import context, first_service_path, json_body, options, param
from broker.http.responses import created, json_response, no_content
from broker.http.services import services
from broker.ngsi.errors import NgsiError, bad_request
from broker.ngsi.options import parse_page
from broker.registrations.render import render_registration


async def _body(request: web.Request) -> Any:
    """Orion answers a registration it cannot parse with BadRequest, not ParseError."""
    try:
        return await json_body(request)
    except NgsiError as err:
        if err.error == "ParseError":
            raise bad_request(err.description) from None
        raise


async def list_registrations(request: web.Request) -> web.Response:
    ctx = context(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    path = first_service_path(request)
    regs, total = await services(request).registrations.list(ctx, page, None if path == "/#" else path)
    return json_response([render_registration(r) for r in regs], total=total if "count" in options(request) else None)


async def create_registration(request: web.Request) -> web.Response:
    ctx = context(request)
    reg = await services(request).registrations.create(ctx, await _body(request), first_service_path(request) or "/")
    return created(f"/v2/registrations/{reg.id}")


async def get_registration(request: web.Request) -> web.Response:
    reg = await services(request).registrations.get(context(request), request.match_info["registrationId"])
    return json_response(render_registration(reg))


async def patch_registration(request: web.Request) -> web.Response:
    """Not in Orion 4.x (its answer is 405): the fields given replace the stored ones, 204."""
    await services(request).registrations.update(
        context(request), request.match_info["registrationId"], await _body(request)
    )
    return no_content()


async def delete_registration(request: web.Request) -> web.Response:
    await services(request).registrations.delete(context(request), request.match_info["registrationId"])
    return no_content()
