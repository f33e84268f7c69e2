"""`/v2/types` and `/v2/types/{entityType}`."""

from __future__ import annotations

from aiohttp import web

from broker.core.types import render_type_attrs
from broker.http.request import context, options, param, path_id
from broker.http.responses import json_response
from broker.http.services import services
from broker.ngsi.options import parse_page


async def list_types(request: web.Request) -> web.Response:
    ctx = context(request)
    opts = options(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    names_only = "values" in opts
    summaries, total = await services(request).types.list(ctx, page, with_attrs=not names_only)
    details = "noAttrDetail" not in opts
    if names_only:
        body: list = [s.type for s in summaries]
    else:
        body = [{"type": s.type, "attrs": render_type_attrs(s, details), "count": s.count} for s in summaries]
    return json_response(body, total=total if "count" in opts else None)


async def get_type(request: web.Request) -> web.Response:
    ctx = context(request)
    opts = options(request)
    summary = await services(request).types.get(ctx, path_id(request, "entityType"))
    return json_response({"attrs": render_type_attrs(summary, "noAttrDetail" not in opts), "count": summary.count})
