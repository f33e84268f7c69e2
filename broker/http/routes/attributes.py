"""`/v2/entities/{entityId}/attrs`, `.../attrs/{attrName}` and `.../attrs/{attrName}/value`."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from broker.core.entities import UpdateMode
from broker.http.request import context, json_body, media_type, options, param, path_id
from broker.http.responses import json_response, no_content, text_response
from broker.http.routes.entities import entity_ref
from broker.http.services import services
from broker.ngsi.errors import NgsiError, attribute_not_found, bad_request, parse_error
from broker.ngsi.model import Attribute
from broker.ngsi.payload import parse_attribute, parse_attributes, parse_json_value, parse_text_value
from broker.ngsi.render import Projection, as_read_back, attribute_value, render_attribute, render_entity_attrs
from broker.ngsi.validation import has_forbidden_id_chars


async def get_attrs(request: web.Request) -> web.Response:
    ctx = context(request)
    opts = options(request)
    asked = Projection.parse(param(request, "attrs"))
    entity = await services(request).entities.get(ctx, entity_ref(request), asked.names)
    attrs = asked.with_builtins(opts.builtin_attrs)
    md = Projection.parse(param(request, "metadata"))
    return json_response(render_entity_attrs(entity, opts.format, attrs, md))


async def _update(request: web.Request, mode: UpdateMode) -> web.Response:
    opts = options(request)
    attrs = parse_attributes(await json_body(request), key_values="keyValues" in opts)
    ctx = context(request, write=True)
    ref = entity_ref(request)
    await services(request).entities.update_attributes(ctx, ref, attrs, mode, override_md="overrideMetadata" in opts)
    return no_content()


async def post_attrs(request: web.Request) -> web.Response:
    """Update existing attributes and add new ones; `options=append` only adds."""
    strict = "append" in options(request)
    return await _update(request, UpdateMode.APPEND_STRICT if strict else UpdateMode.APPEND)


async def patch_attrs(request: web.Request) -> web.Response:
    return await _update(request, UpdateMode.UPDATE)


async def put_attrs(request: web.Request) -> web.Response:
    return await _update(request, UpdateMode.REPLACE)


async def _attribute(request: web.Request) -> tuple[str, Attribute]:
    ctx = context(request)
    name = path_id(request, "attrName")
    entity = await services(request).entities.get(ctx, entity_ref(request), (name,))
    attr = entity.attrs.get(name)
    if attr is None:
        raise attribute_not_found()
    return name, as_read_back(attr)


async def get_attr(request: web.Request) -> web.Response:
    _, attr = await _attribute(request)
    return json_response(render_attribute(attr, Projection.parse(param(request, "metadata"))))


async def put_attr(request: web.Request) -> web.Response:
    opts = options(request)
    name = request.match_info["attrName"]
    body = await json_body(request)
    if not isinstance(body, dict):
        raise parse_error()
    if has_forbidden_id_chars(name):  # Orion's putEntityAttribute checks the URL before the name
        raise bad_request("invalid character in URI")
    attr = parse_attribute(name, body)
    ctx = context(request, write=True)
    await services(request).entities.replace_attribute(
        ctx, entity_ref(request), name, attr, override_md="overrideMetadata" in opts
    )
    return no_content()


async def delete_attr(request: web.Request) -> web.Response:
    ctx = context(request, write=True)
    await services(request).entities.delete_attribute(ctx, entity_ref(request), path_id(request, "attrName"))
    return no_content()


def _accepted(request: web.Request) -> list[str]:
    """The media ranges of `Accept`, highest `q` first (ties in header order), as Orion's
    `outformatSelect` weighs them; ranges with q=0 are not accepted."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("Accept", "*/*").split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        if not media:
            continue
        q = 1.0
        for parameter in params:
            if parameter.startswith("q="):
                try:
                    q = float(parameter[2:])
                except ValueError:
                    q = 1.0
        if q > 0:
            ranked.append((-q, i, media.lower()))
    return [media for _, _, media in sorted(ranked)]


def _as_text(value: Any, attr: Attribute) -> str:
    if isinstance(value, str):
        return value if attr.is_datetime else f'"{value}"'
    return orjson.dumps(value).decode()


def _error_mime(ranges: list[str]) -> str:
    """Orion's `mimeTypeSelect`: JSON when it is accepted at all, else text when that is."""
    if any(r in ("application/json", "application/*", "*/*") for r in ranges):
        return "application/json"
    if any(r in ("text/plain", "text/*") for r in ranges):
        return "text/plain"
    return "application/json"


def _labelled(request: web.Request, err: NgsiError) -> NgsiError:
    """The error with the Content-Type Orion gives it for this request's `Accept`."""
    mime = _error_mime(_accepted(request))
    if mime != "application/json":
        err.headers = {**err.headers, "Content-Type": mime}
    return err


async def get_value(request: web.Request) -> web.Response:
    """Objects and arrays as JSON (or text); other values only as text/plain, as Orion does."""
    try:
        return await _get_value(request)
    except NgsiError as err:
        raise _labelled(request, err) from None


async def _get_value(request: web.Request) -> web.Response:
    _, attr = await _attribute(request)
    value = attribute_value(attr)
    ranges = _accepted(request)
    if isinstance(value, (dict, list)):
        for r in ranges:
            if r in ("application/json", "application/*", "*/*"):
                return json_response(value)
            if r in ("text/plain", "text/*"):
                return text_response(orjson.dumps(value).decode())
        raise NgsiError(406, "NotAcceptable", "accepted MIME types: application/json, text/plain")
    if not any(r in ("text/plain", "text/*", "*/*") for r in ranges):
        raise NgsiError(406, "NotAcceptable", "accepted MIME types: text/plain")
    return text_response(_as_text(value, attr))


async def put_value(request: web.Request) -> web.Response:
    try:
        return await _put_value(request)
    except NgsiError as err:
        raise _labelled(request, err) from None


async def _put_value(request: web.Request) -> web.Response:
    name = path_id(request, "attrName")
    if media_type(request) == "text/plain":
        value = parse_text_value((await request.read()).decode("utf-8", errors="replace"))
    else:
        value = parse_json_value(await json_body(request))
    ctx = context(request, write=True)
    await services(request).entities.set_attribute_value(ctx, entity_ref(request), name, value)
    return no_content()
