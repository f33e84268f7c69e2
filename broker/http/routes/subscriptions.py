"""`/v2/subscriptions` and `/v2/subscriptions/{subscriptionId}`."""

from __future__ import annotations

from aiohttp import web

from broker.http.request import context, first_service_path, json_body, options, param
from broker.http.responses import created, json_response, no_content
from broker.http.services import services
from broker.ngsi.errors import bad_request
from broker.ngsi.options import parse_page
from broker.ngsi.tenancy import parse_read_scopes
from broker.subscriptions.render import render_subscription


async def list_subscriptions(request: web.Request) -> web.Response:
    ctx = context(request)
    opts = options(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    path = first_service_path(request)  # Orion: only the subscriptions of that exact service path
    subs, total = await services(request).subscriptions.list(ctx, page, None if path == "/#" else path)
    now = services(request).subscriptions.clock()
    body = [render_subscription(s, now=now) for s in subs]
    return json_response(body, total=total if "count" in opts else None)


async def create_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await json_body(request)
    if len(parse_read_scopes(request.headers.get("Fiware-ServicePath"))) > 1:
        raise bad_request("max one service-path allowed for subscriptions")
    sub = await services(request).subscriptions.create(ctx, body, first_service_path(request) or "/#")
    return created(f"/v2/subscriptions/{sub.id}")


async def get_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    svc = services(request).subscriptions
    sub = await svc.get(ctx, request.match_info["subscriptionId"])
    return json_response(render_subscription(sub, now=svc.clock()))


async def patch_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await json_body(request)
    await services(request).subscriptions.update(ctx, request.match_info["subscriptionId"], body)
    return no_content()


async def delete_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    await services(request).subscriptions.delete(ctx, request.match_info["subscriptionId"])
    return no_content()
