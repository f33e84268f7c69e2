"""The request pipeline every call goes through, in Orion's order of checks.

Payload size, URI parameters, URL characters, service path, content type, content length,
route and verb, Accept; then the handler. Errors of any kind leave here as Orion error bodies,
every response carries `Fiware-Correlator`, and one JSON log line is written per request.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDict

from broker.http.errors import error_response
from broker.http.request import CALLER, CORRELATOR, check_query_string
from broker.http.settings import SETTINGS, HttpSettings
from broker.personal.auth import Authenticator
from broker.logs import event
from broker.ngsi.errors import SERVICE_NOT_FOUND, NgsiError, bad_request, database_error, internal_error
from broker.ngsi.tenancy import parse_read_scopes
from broker.ngsi.validation import FORBIDDEN_CHARS
from broker.storage.port import StorageUnavailable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOW_HEADERS = (
    "Content-Type, Fiware-Service, Fiware-Servicepath, Ngsiv2-AttrsFormat, Fiware-Correlator, "
    "X-Forwarded-For, X-Real-IP, X-Auth-Token"
)
EXPOSE_HEADERS = "Fiware-Correlator, Fiware-Total-Count, Location"
HEADER_ORDER = ("Date", "Fiware-Correlator", "Location", "Fiware-Total-Count")
_ORDERED_LOWER = frozenset(h.lower() for h in HEADER_ORDER)


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
OPEN_PATHS = frozenset({"/version", "/openapi.json", "/personal/v1/keys"})  # never need a token


def _check_content(request: web.Request, settings: HttpSettings) -> None:
    length = request.content_length
    if length is not None and length > settings.max_payload:
        raise NgsiError(
            413, "RequestEntityTooLarge", f"payload size: {length}, max size supported: {settings.max_payload}"
        )
    check_query_string(request)
    if any(c in FORBIDDEN_CHARS for c in request.path):
        raise bad_request("invalid character in URI")
    parse_read_scopes(request.headers.get("Fiware-ServicePath"))  # syntax only; writes check more
    if request.method in ("GET", "DELETE") and "Content-Type" in request.headers and not length:
        raise bad_request(
            "Orion accepts no payload for GET/DELETE requests. HTTP header Content-Type is thus forbidden"
        )
    if length:
        if "Content-Type" not in request.headers:
            raise NgsiError(
                415,
                "UnsupportedMediaType",
                "Content-Type header not used, default application/octet-stream is not supported",
            )
        media = request.content_type.lower()
        if media not in ("application/json", "text/plain"):
            raise NgsiError(415, "UnsupportedMediaType", f"not supported content type: {media}")
    if (
        request.method in ("POST", "PUT", "PATCH")
        and not length
        and request.match_info.http_exception is None
        and not request.path.startswith(("/admin/", "/log/"))  # Orion's management API takes no body
    ):
        raise NgsiError(411, "ContentLengthRequired", "Zero/No Content-Length in PUT/POST/PATCH request")


def _media_ranges(accept: str) -> list[str]:
    return [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]


def _check_accept(request: web.Request) -> None:
    accept = request.headers.get("Accept")
    if accept is None:
        return
    ranges = _media_ranges(accept)
    value_url = request.path.rstrip("/").endswith("/value")
    acceptable = {"*/*", "application/*", "application/json"}
    if value_url:
        acceptable |= {"text/*", "text/plain"}
    if not any(r in acceptable for r in ranges):
        text = "application/json, text/plain" if value_url else "application/json"
        raise NgsiError(406, "NotAcceptable", f"acceptable MIME types: {text}")


def _methods(request: web.Request) -> list[str]:
    """The methods the matched resource serves, in the route table's order (OPTIONS aside)."""
    resource = request.match_info.route.resource
    if resource is None:
        return []
    return [r.method for r in resource if r.method not in ("HEAD", "OPTIONS", "*")]


_VERB_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allow_header(methods: set[str] | list[str]) -> str:
    """`Allow` in Orion's order: "POST, GET" for collections, otherwise GET first (badVerb*Only)."""
    present = [m for m in _VERB_ORDER if m in methods]
    if present == ["GET", "POST"]:
        present = ["POST", "GET"]
    return ", ".join(present)


def _not_found(request: web.Request) -> NgsiError:
    """Orion's answer for a URL it does not serve, naming an empty id or name where there is one."""
    path = request.path
    if path in ("", "/"):
        return bad_request("The Orion Context Broker is a REST service, not a 'web page'")
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["v2", "entities"]:
        if parts[3] == "" and len(parts) > 4:
            return bad_request("entity id length: 0, min length supported: 1")
        if len(parts) > 6 and parts[4] == "attrs" and parts[5] == "":
            return bad_request("attribute name length: 0, min length supported: 1")
    return bad_request(SERVICE_NOT_FOUND)


def _options(request: web.Request, settings: HttpSettings) -> web.Response:
    """OPTIONS: the CORS preflight when CORS is on, otherwise a method Orion does not serve."""
    methods = _methods(request)
    if not methods:
        raise _not_found(request)
    if not settings.cors_origin:
        raise NgsiError(405, "MethodNotAllowed", "method not allowed", headers={"Allow": allow_header(methods)})
    return web.Response(
        status=200,
        headers={
            "Access-Control-Allow-Methods": allow_header(methods) + ", OPTIONS",
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(settings.cors_max_age),
            "Content-Length": "0",
        },
    )


def _cors_origin(request: web.Request, settings: HttpSettings) -> str | None:
    """The Access-Control-Allow-Origin value, when CORS is on and the request's Origin is allowed.

    As in Orion, without a matching Origin no CORS header at all is added.
    """
    if not settings.cors_origin or "Origin" not in request.headers:
        return None
    if settings.cors_origin == "__ALL":
        return "*"
    return settings.cors_origin if request.headers["Origin"] == settings.cors_origin else None


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> NgsiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allow = allow_header(set(exc.allowed_methods))
        return NgsiError(405, "MethodNotAllowed", "method not allowed", headers={"Allow": allow})
    if isinstance(exc, web.HTTPNotFound):
        return _not_found(request)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return NgsiError(413, "RequestEntityTooLarge", "payload too large")
    return NgsiError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    correlator = request.headers.get("Fiware-Correlator") or str(uuid.uuid4())
    request[CORRELATOR] = correlator
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        if request.method == "OPTIONS":
            response = _options(request, settings)
        else:
            _check_content(request, settings)
            if request.match_info.http_exception is not None:
                raise request.match_info.http_exception
            _check_accept(request)
            authorization = request.headers.get("Authorization")
            if request.path not in OPEN_PATHS or authorization:
                request[CALLER] = await request.app[AUTHENTICATOR].identify(authorization)
            response = await handler(request)
    except NgsiError as err:
        response = error_response(err)
    except web.HTTPException as exc:
        response = error_response(_from_http_exception(request, exc))
    except StorageUnavailable as exc:  # whatever the endpoint: nothing was acknowledged
        event(logging.ERROR, "database error", correlator=correlator, error=str(exc))
        response = error_response(database_error(exc))
    except Exception as exc:  # a bug or an unexpected I/O failure: answer 500, log the trace
        event(logging.ERROR, "unhandled error", correlator=correlator, error=repr(exc))
        logging.getLogger("broker").exception("unhandled error")
        response = error_response(internal_error("Internal error"))
    response.headers["Fiware-Correlator"] = correlator
    allowed_origin = _cors_origin(request, settings)
    if allowed_origin is not None:
        response.headers["Access-Control-Allow-Origin"] = allowed_origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    elif request.method == "OPTIONS" and response.status == 200:
        for name in ("Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"):
            response.headers.popall(name, None)
    event(
        logging.INFO,
        "request",
        correlator=correlator,
        method=request.method,
        path=request.path_qs,
        status=response.status,
        ms=round((time.perf_counter() - started) * 1000, 3),
        service=request.headers.get("Fiware-Service", ""),
        servicePath=request.headers.get("Fiware-ServicePath", ""),
        **({"from": request.remote} if request.remote else {}),
    )
    return response


async def orion_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No `Server` header, and Orion's header order: Date, Fiware-Correlator, Location, ... ."""
    headers = response.headers
    headers.popall("Server", None)
    ordered: CIMultiDict[str] = CIMultiDict()
    for name in HEADER_ORDER:
        for value in headers.getall(name, []):
            ordered.add(name, value)
    for name, value in headers.items():
        if name.lower() not in _ORDERED_LOWER:
            ordered.add(name, value)
    headers.clear()
    headers.extend(ordered)
