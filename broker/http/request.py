"""Reading a request: the `RequestContext`, URI parameters and JSON or text bodies."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from broker.http.settings import SETTINGS
from broker.ngsi.context import RequestContext
from broker.personal.auth import ANONYMOUS, Caller

CORRELATOR = web.RequestKey("correlator", str)
CALLER = web.RequestKey("caller", Caller)
from broker.ngsi.errors import bad_request, parse_error
from broker.ngsi.options import Options
from broker.ngsi.tenancy import parse_read_scopes, parse_tenant, parse_write_path
from broker.ngsi.validation import FORBIDDEN_CHARS, check_uri_identifier

# URI parameters that carry expressions and may hold characters forbidden elsewhere
FREE_PARAMS = frozenset({"q", "mq", "idPattern", "typePattern"})
GEO_PARAMS = {"georel": "=;", "geometry": "=;", "coords": ";"}


def context(request: web.Request, *, write: bool = False) -> RequestContext:
    """The core's view of the request: tenant, service path(s), correlator, principal."""
    headers = request.headers
    tenant = parse_tenant(headers.get("Fiware-Service")) if request.app[SETTINGS].multiservice else ""
    sp_header = headers.get("Fiware-ServicePath")
    caller = request.get(CALLER, ANONYMOUS)
    who = {"correlator": request[CORRELATOR], "principal": caller.principal, "roles": caller.roles,
           "auth_token": headers.get("X-Auth-Token", "")}
    if write:
        forced = "forcedUpdate" in (request.query.get("options") or "").split(",")
        return RequestContext(tenant=tenant, write_path=parse_write_path(sp_header), forced_update=forced, **who)
    return RequestContext(tenant=tenant, scopes=parse_read_scopes(sp_header), **who)


def first_service_path(request: web.Request) -> str | None:
    """The first service path of Fiware-ServicePath as a subscription or registration keeps it
    (`/A/#` for a subtree); None without the header."""
    header = request.headers.get("Fiware-ServicePath")
    if not header or not header.strip():
        return None
    scope = parse_read_scopes(header)[0]
    if scope.recursive:
        return "/#" if scope.path == "/" else scope.path + "/#"
    return scope.path


def check_query_string(request: web.Request) -> None:
    """Orion's checks on every URI parameter: no empty values, no forbidden characters."""
    for key, value in request.query.items():
        if value == "":
            raise bad_request(f"Empty right-hand-side for URI param /{key}/")
        if key in FREE_PARAMS:
            continue
        allowed = GEO_PARAMS.get(key, "")
        if any(c in FORBIDDEN_CHARS and c not in allowed for c in key + value):
            raise bad_request("invalid character in URI parameter")


def param(request: web.Request, name: str) -> str | None:
    return request.query.get(name)


def options(request: web.Request) -> Options:
    return Options.parse(request.query.get("options"))


def path_id(request: web.Request, name: str) -> str:
    """An id, type or attribute name from the URL path."""
    return check_uri_identifier(request.match_info[name])


def type_param(request: web.Request) -> str | None:
    value = request.query.get("type")
    return value if value else None


async def json_body(request: web.Request) -> Any:
    """A JSON body; `text/plain` is accepted only where a route says so."""
    if request.content_type.lower() != "application/json":
        from broker.ngsi.errors import NgsiError

        raise NgsiError(415, "UnsupportedMediaType", f"not supported content type: {request.content_type.lower()}")
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise parse_error() from None


def media_type(request: web.Request) -> str:
    return request.content_type.lower()
