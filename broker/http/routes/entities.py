"""`/v2/entities` and `/v2/entities/{entityId}`."""

from __future__ import annotations

from aiohttp import web

from broker.core.entities import EntityRef
from broker.http.request import context, json_body, options, param, path_id, type_param
from broker.http.responses import created, entity_location, json_response, no_content
from broker.http.services import services
from broker.ngsi.errors import bad_request
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.model import Entity
from broker.ngsi.options import Options, parse_page
from broker.ngsi.ordering import parse_order_by
from broker.ngsi.payload import parse_entity
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.render import Projection, render_entity
from broker.ngsi.selection import EntityFilter
from broker.ngsi.validation import check_entity_key_length, check_pattern


def entity_filter(request: web.Request) -> EntityFilter:
    """`id`, `idPattern`, `type`, `typePattern` of a list request."""
    ids = param(request, "id")
    types = param(request, "type")
    id_pattern = param(request, "idPattern")
    type_pattern = param(request, "typePattern")
    if ids is not None and id_pattern is not None:
        raise bad_request("Incompatible parameters: id, IdPattern")
    if types is not None and type_pattern is not None:
        raise bad_request("Incompatible parameters: type, typePattern")
    q = param(request, "q")
    mq = param(request, "mq")
    return EntityFilter(
        ids=tuple(i for i in ids.split(",") if i) if ids else (),
        id_pattern=check_pattern(id_pattern, "idPattern") if id_pattern is not None else None,
        types=tuple(t for t in types.split(",") if t) if types else (),
        type_pattern=check_pattern(type_pattern, "typePattern") if type_pattern is not None else None,
        q=parse_q(q) if q is not None else None,
        mq=parse_mq(mq) if mq is not None else None,
        geo=parse_geo_query(param(request, "georel"), param(request, "geometry"), param(request, "coords")),
    )


def entity_page(
    entities: list[Entity], opts: Options, attrs: Projection, md: Projection, total: int | None
) -> web.Response:
    """A page of entities in the representation `options` asks for."""
    body = [render_entity(e, opts.format, attrs, md) for e in entities]
    return json_response(body, total=total)


async def list_entities(request: web.Request) -> web.Response:
    ctx = context(request)
    opts = options(request)
    flt = entity_filter(request)
    page = parse_page(param(request, "limit"), param(request, "offset"))
    order = parse_order_by(param(request, "orderBy"))
    asked = Projection.parse(param(request, "attrs"))
    entities, total = await services(request).entities.query(
        ctx, flt, page, order=order, count="count" in opts, attrs=asked.names
    )
    attrs = asked.with_builtins(opts.builtin_attrs)
    md = Projection.parse(param(request, "metadata"))
    return entity_page(entities, opts, attrs, md, total)


async def create_entity(request: web.Request) -> web.Response:
    body = await json_body(request)  # Orion validates the payload before the tenant
    opts = options(request)
    entity = parse_entity(body, key_values="keyValues" in opts)
    ctx = context(request, write=True)
    check_entity_key_length(entity.id, entity.type, ctx.write_path)
    upsert = "upsert" in opts
    await services(request).entities.create(ctx, entity, upsert=upsert)
    location = entity_location(entity.id, entity.type)
    if not upsert:
        return created(location)
    # Orion answers every successful upsert, of a new entity or an existing one, with 204 and the
    # Location; IoT Agents take anything else (201 included) for an error
    response = no_content()
    response.headers["Location"] = location
    return response


def entity_ref(request: web.Request) -> EntityRef:
    return EntityRef(path_id(request, "entityId"), type_param(request))


async def get_entity(request: web.Request) -> web.Response:
    ctx = context(request)
    opts = options(request)
    asked = Projection.parse(param(request, "attrs"))
    entity = await services(request).entities.get(ctx, entity_ref(request), asked.names)
    attrs = asked.with_builtins(opts.builtin_attrs)
    md = Projection.parse(param(request, "metadata"))
    return json_response(render_entity(entity, opts.format, attrs, md))


async def delete_entity(request: web.Request) -> web.Response:
    ctx = context(request, write=True)
    await services(request).entities.delete(ctx, entity_ref(request))
    return no_content()
