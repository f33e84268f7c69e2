"""Reading a request: the `RequestContext`, URI parameters and JSON or text bodies."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import orjson
from aiohttp import web

from broker.http.settings import SETTINGS
from broker.ngsi.context import RequestContext
from broker.ngsi.errors import NgsiError, bad_request, parse_error
from broker.ngsi.options import MAX_LIMIT, Options
from broker.ngsi.tenancy import parse_read_scopes, parse_tenant, parse_write_path
from broker.ngsi.validation import FORBIDDEN_CHARS, check_uri_identifier
from broker.observability.timing import measuring
from broker.personal.auth import ANONYMOUS, Caller

CORRELATOR = web.RequestKey("correlator", str)
_random = random.Random()  # seeded from os.urandom; each serving process is its own interpreter


def new_correlator() -> str:
    """A random correlator in the UUID layout Orion's have. Unique, not secret: `uuid.uuid4()` reads
    os.urandom, a system call that drops the GIL and waits to take it back from a busy reader
    thread, which showed as 8% of a list query's time."""
    h = f"{_random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


CALLER = web.RequestKey("caller", Caller)

# URI parameters that carry expressions and may hold characters forbidden elsewhere
FREE_PARAMS = frozenset({"q", "mq", "idPattern", "typePattern"})
GEO_PARAMS = {"georel": "=;", "geometry": "=;", "coords": ";"}
# Orion keeps `offset` in a C int: larger values cannot address anything
MAX_OFFSET = 2**31 - 1
_DECIMAL = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes "²" and "١"
# Headers that decide whose data a request touches, or how its body is read: a second copy is
# refused, since a proxy in front may have checked the other one
SINGLE_HEADERS = ("Fiware-Service", "Fiware-ServicePath", "Content-Type")
BODY_POLL_SECONDS = 0.25


class BodyTimeout(Exception):
    """The client stopped sending the body it announced for longer than the request timeout."""


def check_single_headers(request: web.Request) -> None:
    """Refuse a repeated tenancy or Content-Type header (Orion takes the last copy; we take none)."""
    for name in SINGLE_HEADERS:
        if len(request.headers.getall(name, ())) > 1:
            raise bad_request(f"more than one {name} header")


def check_tenant(request: web.Request) -> str:
    """The tenant of `Fiware-Service`: Orion checks its syntax whether or not `-multiservice` is on."""
    tenant = parse_tenant(request.headers.get("Fiware-Service"))
    return tenant if request.app[SETTINGS].multiservice else ""


def context(request: web.Request, *, write: bool = False) -> RequestContext:
    """The core's view of the request: tenant, service path(s), correlator, principal."""
    headers = request.headers
    tenant = check_tenant(request)
    sp_header = headers.get("Fiware-ServicePath")
    caller = request.get(CALLER, ANONYMOUS)
    who = {
        "correlator": request[CORRELATOR],
        "principal": caller.principal,
        "roles": caller.roles,
        "auth_token": headers.get("X-Auth-Token", ""),
        "service_path": sp_header or "",
        "via": headers.get("Via", ""),
    }
    if write:
        forced = "forcedUpdate" in options(request)
        return RequestContext(tenant=tenant, write_path=parse_write_path(sp_header), forced_update=forced, **who)
    skip = "skipForwarding" in options(request)
    return RequestContext(tenant=tenant, scopes=parse_read_scopes(sp_header), skip_forwarding=skip, **who)


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


def _check_pagination(key: str, value: str) -> None:
    """`limit` and `offset` as Orion reads them, before any route: ASCII decimals in range."""
    if key == "offset":
        if not _DECIMAL.fullmatch(value):
            raise bad_request(f"Bad pagination offset: /{value}/ [must be a decimal number]")
        if int(value) > MAX_OFFSET:
            raise bad_request(f"Bad pagination offset: /{value}/ [max: {MAX_OFFSET}]")
    elif key == "limit":
        if not _DECIMAL.fullmatch(value):
            raise bad_request(f"Bad pagination limit: /{value}/ [must be a decimal number]")
        if int(value) > MAX_LIMIT:  # 0 is fine: an empty page, with the count (Orion 3.7+)
            raise bad_request(f"Bad pagination limit: /{value}/ [max: {MAX_LIMIT}]")


def check_query_string(request: web.Request) -> None:
    """Orion's checks on every URI parameter, for every URL, before the route is looked at: no empty
    values, no forbidden characters, known `options`, decimal `limit`/`offset` in range. So a bad
    parameter is a 400 even where the entity does not exist."""
    for key, value in request.query.items():
        if value == "":
            raise bad_request(f"Empty right-hand-side for URI param /{key}/")
        _check_pagination(key, value)  # Orion returns at once on these, before looking at characters
        if key not in FREE_PARAMS:
            allowed = GEO_PARAMS.get(key, "")
            if any(c in FORBIDDEN_CHARS and c not in allowed for c in key + value):
                raise bad_request("invalid character in URI parameter")  # overrides a bad `options` too
        if key == "options":
            Options.parse(value)


def param(request: web.Request, name: str) -> str | None:
    """A URI parameter; given twice, the last one counts, as in Orion."""
    values = request.query.getall(name, ())
    return values[-1] if values else None


def options(request: web.Request) -> Options:
    return Options.parse(param(request, "options"))


def path_id(request: web.Request, name: str) -> str:
    """An id, type or attribute name from the URL path."""
    return check_uri_identifier(request.match_info[name])


def type_param(request: web.Request) -> str | None:
    value = param(request, "type")
    return value if value else None


async def read_body(request: web.Request, idle_timeout: float) -> bytes:
    """The whole body, read ahead of the handler (which then gets it from `request.read()`).

    `BodyTimeout` when no byte of it arrives for `idle_timeout` seconds: Orion's `-reqTimeout` is an
    inactivity limit on the connection, so a slow but steady upload goes on while a stalled one ends.
    """
    reading = asyncio.ensure_future(request.read())
    received, idle_since = request.content.total_bytes, asyncio.get_running_loop().time()
    try:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=min(BODY_POLL_SECONDS, idle_timeout))
            if done:
                return reading.result()
            now = asyncio.get_running_loop().time()
            if request.content.total_bytes != received:
                received, idle_since = request.content.total_bytes, now
            elif now - idle_since >= idle_timeout:
                raise BodyTimeout(f"no byte of the body for {idle_timeout} s")
    finally:
        if not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)


async def json_body(request: web.Request) -> Any:
    """A JSON body; `text/plain` is accepted only where a route says so."""
    media = media_type(request)
    if media != "application/json":
        raise NgsiError(415, "UnsupportedMediaType", f"not supported content type: {media}")
    raw = await request.read()
    try:
        with measuring("jsonV2Parse"):
            return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise parse_error() from None


def media_type(request: web.Request) -> str:
    """`Content-Type` as Orion compares it: cut at the first `;`, spelled as sent (so
    `Application/JSON` is not JSON to Orion either)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0]
