"""`POST /v2/op/update`, `POST /v2/op/query` and `POST /v2/op/notify`."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from broker.core.batch import BatchUpdate, parse_batch_query, parse_batch_update, parse_notify
from broker.http.request import context, json_body, options, param
from broker.http.responses import no_content
from broker.http.routes.entities import entity_page
from broker.http.services import services
from broker.ngsi.options import parse_page
from broker.ngsi.ordering import parse_order_by
from broker.ngsi.render import Projection


async def _apply(request: web.Request, parse: Callable[..., BatchUpdate]) -> None:
    opts = options(request)
    batch = parse(await json_body(request), key_values="keyValues" in opts)
    ctx = context(request, write=True)
    await services(request).batch.update(ctx, batch, override_md="overrideMetadata" in opts)


async def batch_update(request: web.Request) -> web.Response:
    await _apply(request, parse_batch_update)
    return no_content()


async def batch_query(request: web.Request) -> web.Response:
    query = parse_batch_query(await json_body(request))
    ctx = context(request)
    opts = options(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    order = parse_order_by(param(request, "orderBy"))
    entities, total = await services(request).entities.query(
        ctx, query.filter, page, order=order, count="count" in opts, attrs=query.attrs
    )
    attrs = Projection(query.attrs).with_builtins(opts.builtin_attrs)
    return entity_page(entities, opts, attrs, Projection(query.metadata), total)


async def notify(request: web.Request) -> web.Response:
    """Federation: a notification from another broker's subscription updates this one."""
    await _apply(request, parse_notify)
    return web.Response(status=200, headers={"Content-Length": "0"})
