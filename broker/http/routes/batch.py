"""`POST /v2/op/update` and `POST /v2/op/query`."""

from __future__ import annotations

from aiohttp import web

from broker.http.request import context, json_body, options, param
from broker.http.responses import json_response, no_content
from broker.http.routes.entities import unique_rows
from broker.http.services import services
from broker.ngsi.batch import parse_batch_query, parse_batch_update, parse_notify
from broker.ngsi.options import parse_page
from broker.ngsi.ordering import parse_order_by
from broker.ngsi.render import Projection, render_entity


async def batch_update(request: web.Request) -> web.Response:
    opts = options(request)
    batch = parse_batch_update(await json_body(request), key_values="keyValues" in opts)
    ctx = context(request, write=True)
    await services(request).batch.update(ctx, batch, override_md="overrideMetadata" in opts)
    return no_content()


async def batch_query(request: web.Request) -> web.Response:
    query = parse_batch_query(await json_body(request))
    ctx = context(request)
    opts = options(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    order = parse_order_by(param(request, "orderBy"))
    entities, total = await services(request).entities.query(
        ctx, query.filter, page, order=order, count="count" in opts
    )
    attrs = Projection(query.attrs)
    md = Projection(query.metadata)
    body = [render_entity(e, opts.format, attrs, md) for e in entities]
    if "unique" in opts:
        body = unique_rows(body)
    return json_response(body, total=total)


async def notify(request: web.Request) -> web.Response:
    """Federation: a notification from another broker's subscription updates this one."""
    opts = options(request)
    batch = parse_notify(await json_body(request), key_values="keyValues" in opts)
    ctx = context(request, write=True)
    await services(request).batch.update(ctx, batch, override_md="overrideMetadata" in opts)
    return json_response_empty()


def json_response_empty() -> web.Response:
    return web.Response(status=200, headers={"Content-Length": "0"})
