"""The request pipeline every call goes through, in Orion's order of checks.

Payload size, URL characters, tenancy headers, content type, content length, URI parameters,
Accept, Content-Type on GET/DELETE; then route and verb, the tenant, the body (read under the
request timeout) and the handler. Errors of any kind leave here as Orion error bodies, every
response carries `Fiware-Correlator`, and one JSON log line is written per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from multidict import CIMultiDict

from broker.http.accept import accepted_ranges, media_ranges
from broker.http.errors import error_response
from broker.http.request import (
    CALLER,
    CORRELATOR,
    BodyTimeout,
    check_query_string,
    check_single_headers,
    check_tenant,
    media_type,
    new_correlator,
    read_body,
)
from broker.http.settings import SETTINGS, HttpSettings
from broker.logs import event, log
from broker.ngsi.errors import (
    SERVICE_NOT_FOUND,
    NgsiError,
    bad_request,
    database_busy,
    database_error,
    internal_error,
)
from broker.ngsi.tenancy import parse_read_scopes
from broker.ngsi.validation import FORBIDDEN_CHARS
from broker.personal.auth import Authenticator
from broker.storage.port import StorageBusy, StorageUnavailable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOW_HEADERS = (
    "Content-Type, Fiware-Service, Fiware-Servicepath, Ngsiv2-AttrsFormat, Fiware-Correlator, "
    "X-Forwarded-For, X-Real-IP, X-Auth-Token"
)
EXPOSE_HEADERS = "Fiware-Correlator, Fiware-Total-Count, Location"
HEADER_ORDER = ("Date", "Fiware-Correlator", "Location", "Fiware-Total-Count")
_ORDERED_LOWER = frozenset(h.lower() for h in HEADER_ORDER)
BODY_METHODS = ("POST", "PUT", "PATCH")


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
OPEN_PATHS = frozenset({"/version", "/openapi.json", "/personal/v1/keys"})  # never need a token


def _check_request(request: web.Request, settings: HttpSettings) -> None:
    """What Orion checks before it looks at the route, in its order (rest.cpp, connectionTreat)."""
    length = request.content_length
    if length is not None and length > settings.max_payload:
        raise NgsiError(
            413, "RequestEntityTooLarge", f"payload size: {length}, max size supported: {settings.max_payload}"
        )
    if any(c in FORBIDDEN_CHARS for c in request.path):
        raise bad_request("invalid character in URI")
    check_single_headers(request)
    parse_read_scopes(request.headers.get("Fiware-ServicePath"))  # syntax only; writes check more
    if length:
        if not request.headers.get("Content-Type"):  # absent or empty, both "not used" to Orion
            raise NgsiError(
                415,
                "UnsupportedMediaType",
                "Content-Type header not used, default application/octet-stream is not supported",
            )
        media = media_type(request)
        if media not in ("application/json", "text/plain"):
            raise NgsiError(415, "UnsupportedMediaType", f"not supported content type: {media}")
    # whatever the URL, and also for a body sent chunked (no Content-Length), as Orion; Orion's
    # management API (/admin, /log) takes no body
    if request.method in BODY_METHODS and not length and not request.path.startswith(("/admin/", "/log/")):
        raise NgsiError(411, "ContentLengthRequired", "Zero/No Content-Length in PUT/POST/PATCH request")
    check_query_string(request)
    _check_accept(request)
    if request.method in ("GET", "DELETE") and request.headers.get("Content-Type") and not length:
        raise bad_request(
            "Orion accepts no payload for GET/DELETE requests. HTTP header Content-Type is thus forbidden"
        )


def _check_accept(request: web.Request) -> None:
    accept = request.headers.get("Accept")
    if accept is None:
        return
    ranges = media_ranges(accept) if request.path.startswith("/admin/metrics") else accepted_ranges(accept)
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


# Each of Orion's service routines (badVerb*Only, options*Only) names its methods in its own order
_ORION_ORDER: dict[frozenset[str], tuple[str, ...]] = {
    frozenset(order): order
    for order in (
        ("GET",),
        ("POST",),
        ("GET", "POST"),
        ("GET", "DELETE"),
        ("GET", "PUT"),
        ("GET", "PUT", "DELETE"),
        ("GET", "DELETE", "PATCH"),
        ("GET", "PATCH", "POST", "PUT"),
    )
}
_VERB_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")  # for our own resources Orion has no routine for


def _orion_order(methods: Iterable[str]) -> list[str]:
    known = frozenset(m for m in methods if m in _VERB_ORDER)
    return list(_ORION_ORDER.get(known) or [m for m in _VERB_ORDER if m in known])


def allow_header(methods: Iterable[str], *, cors: bool = False) -> str:
    """`Allow` of a 405 as Orion writes it: "POST, GET" for collections, otherwise the routine's
    order; ", OPTIONS" at the end when CORS is on and the URL is an API one (`/v2...`)."""
    present = _orion_order(methods)
    if present == ["GET", "POST"]:
        present = ["POST", "GET"]
    return ", ".join(present + (["OPTIONS"] if cors else []))


def preflight_methods(methods: Iterable[str]) -> str:
    """`Access-Control-Allow-Methods` of a preflight answer (Orion's options*Only routines)."""
    return ", ".join(_orion_order(methods) + ["OPTIONS"])


def _api_path(path: str) -> bool:
    """URLs Orion's restReply adds CORS headers to (its `/v2` API; here also our `/personal/v1`
    and the OpenAPI document); `/version` adds its own (see `_add_version_cors`)."""
    return path.startswith(("/v2", "/personal/")) or path == "/openapi.json"


def _is_version(path: str) -> bool:
    return path.rstrip("/") == "/version"


def _add_version_cors(response: web.StreamResponse, origin: str) -> None:
    """Orion's versionTreat adds the origin and the exposed headers itself, so they come before
    Content-Type (restReply writes the routine's headers first) and only on its own answer."""
    content_type = response.headers.popall("Content-Type", [])
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    for value in content_type:
        response.headers.add("Content-Type", value)


def _not_found(request: web.Request) -> NgsiError:
    """Orion's answer for a URL it does not serve, naming an empty id or name where there is one."""
    path = request.path
    if path in ("", "/"):
        return bad_request("The Orion Context Broker is a REST service, not a 'web page'")
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["v2", "entities"]:
        if parts[3:] == ["", ""] and request.method not in ("GET", "DELETE"):
            # `/v2/entities//` is the entity "" (Orion strips one trailing slash): a verb it lacks
            return NgsiError(
                405, "MethodNotAllowed", "method not allowed", headers={"Allow": allow_header(["GET", "DELETE"])}
            )
        if parts[3] == "" and len(parts) > 4:
            return bad_request("entity id length: 0, min length supported: 1")
        if len(parts) > 6 and parts[4] == "attrs" and parts[5] == "":
            return bad_request("attribute name length: 0, min length supported: 1")
    return bad_request(SERVICE_NOT_FOUND)


def _cors_origin(request: web.Request, settings: HttpSettings) -> str | None:
    """The Access-Control-Allow-Origin value, when CORS is on and the request's Origin is allowed.

    As in Orion, without a matching Origin no CORS header at all is added.
    """
    if not settings.cors_origin or "Origin" not in request.headers:
        return None
    if settings.cors_origin == "__ALL":
        return "*"
    return settings.cors_origin if request.headers["Origin"] == settings.cors_origin else None


def _cors_headers(origin: str, settings: HttpSettings, *, preflight: bool) -> dict[str, str]:
    """Orion's CORS headers in its order (restReply.cpp): origin, exposed headers, and on a
    preflight the allowed request headers and the max age."""
    headers = {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSE_HEADERS}
    if preflight:
        headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        headers["Access-Control-Max-Age"] = str(settings.cors_max_age)
    return headers


def _options(request: web.Request, settings: HttpSettings) -> web.Response:
    """OPTIONS: the CORS preflight when CORS is on, otherwise a method Orion does not serve.

    An allowed origin gets `Access-Control-Allow-Methods` and the CORS headers; any other a bare
    200, as in Orion's options*Only routines.
    """
    methods = _methods(request)
    if not methods:
        raise _not_found(request)
    if not settings.cors_origin:
        raise NgsiError(405, "MethodNotAllowed", "method not allowed", headers={"Allow": allow_header(methods)})
    response = web.Response(status=200)
    origin = _cors_origin(request, settings)
    if origin is not None:
        allowed = preflight_methods(methods)
        if _is_version(request.path):  # optionsVersionRequest: its own order
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = allowed
            response.headers.update(_cors_headers(origin, settings, preflight=True))
        else:
            response.headers["Access-Control-Allow-Methods"] = allowed
            response.headers.update(_cors_headers(origin, settings, preflight=True))
    response.headers["Content-Length"] = "0"
    return response


def _from_http_exception(request: web.Request, exc: web.HTTPException, settings: HttpSettings) -> NgsiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        cors = bool(settings.cors_origin) and request.path.startswith("/v2")
        allow = allow_header(exc.allowed_methods, cors=cors)
        return NgsiError(405, "MethodNotAllowed", "method not allowed", headers={"Allow": allow})
    if isinstance(exc, web.HTTPNotFound):
        return _not_found(request)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return NgsiError(413, "RequestEntityTooLarge", "payload too large")
    return NgsiError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)


async def _serve(request: web.Request, handler: Handler, settings: HttpSettings) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return _options(request, settings)
    _check_request(request, settings)
    route_error = request.match_info.http_exception
    if isinstance(route_error, web.HTTPMethodNotAllowed):
        raise route_error  # Orion answers a wrong verb before it looks at the tenant
    if route_error is not None or not request.body_exists:
        # every URL, known or not, as Orion's restService; with a body, the handler checks it once the
        # body is parsed (`context()`), since Orion reports a bad payload before a bad tenant
        check_tenant(request)
    if route_error is not None:
        raise route_error
    authorization = request.headers.get("Authorization")
    if request.path not in OPEN_PATHS or authorization:
        request[CALLER] = await request.app[AUTHENTICATOR].identify(authorization)
    if request.body_exists:
        await read_body(request, settings.body_idle_timeout)
    return await handler(request)


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    correlator = request.headers.get("Fiware-Correlator") or new_correlator()
    request[CORRELATOR] = correlator
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        response = await _serve(request, handler, settings)
    except NgsiError as err:
        response = error_response(err)
    except web.HTTPException as exc:
        response = error_response(_from_http_exception(request, exc, settings))
    except BodyTimeout as exc:  # as MHD after -reqTimeout: no answer, the connection is closed
        event(logging.WARNING, "request body timed out", correlator=correlator, error=str(exc))
        if request.transport is not None:
            request.transport.close()
        response = web.Response(status=408)
    except StorageBusy as exc:  # refused before it reached the database: nothing was done
        event(logging.WARNING, "database busy", correlator=correlator, error=str(exc))
        response = error_response(database_busy(exc))
    except StorageUnavailable as exc:  # whatever the endpoint: nothing was acknowledged
        event(logging.ERROR, "database error", correlator=correlator, error=str(exc))
        response = error_response(database_error(exc))
    except Exception as exc:  # a bug or an unexpected I/O failure: answer 500, log the trace
        event(logging.ERROR, "unhandled error", correlator=correlator, error=repr(exc))
        logging.getLogger("broker").exception("unhandled error")
        response = error_response(internal_error("Internal error"))
    response.headers["Fiware-Correlator"] = correlator
    origin = _cors_origin(request, settings)
    if (
        origin is not None
        and response.status != 405  # restReply adds no CORS header to a bad verb
        and _api_path(request.path)
        and "Access-Control-Allow-Origin" not in response.headers  # a preflight that has them already
    ):
        response.headers.update(_cors_headers(origin, settings, preflight=request.method == "OPTIONS"))
    elif origin is not None and request.method == "GET" and response.status == 200 and _is_version(request.path):
        _add_version_cors(response, origin)
    if not log.isEnabledFor(logging.INFO):  # Orion's default level (WARN): the line's fields are not even built
        return response
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


def order_headers(headers: CIMultiDict[str]) -> None:
    """Orion's header order, in place: Date, Fiware-Correlator, Location, Fiware-Total-Count, the
    others as added, and Content-Length last (MHD writes it after the broker's headers)."""
    ordered: CIMultiDict[str] = CIMultiDict()
    for name in HEADER_ORDER:
        for value in headers.getall(name, []):
            ordered.add(name, value)
    for name, value in headers.items():
        if name.lower() not in _ORDERED_LOWER and name.lower() != "content-length":
            ordered.add(name, value)
    for value in headers.getall("Content-Length", []):
        ordered.add("Content-Length", value)
    headers.clear()
    headers.extend(ordered)


async def orion_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No `Server` header, and Orion's header order."""
    response.headers.popall("Server", None)
    order_headers(response.headers)
