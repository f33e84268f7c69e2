"""The HTTP server under the application: request-line limits, any method, JSON for protocol errors.

aiohttp answers what it cannot parse with a plain-text 400 and refuses request lines over 8 KB and
methods its C parser does not know. Orion (libmicrohttpd) takes any method token (an unknown one is
a 405 with `Allow`, from the route), URLs up to its connection memory (64 KB by default) and answers
in JSON. `BrokerRunner` is `web.AppRunner` with that server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.http_parser import HttpRequestParserPy
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

from broker.http.errors import error_response
from broker.http.pipeline import order_headers
from broker.http.request import new_correlator
from broker.logs import event
from broker.ngsi.errors import NgsiError, bad_request, internal_error

# Orion's -connectionMemory default is 64 KB for the request line and headers of a connection
MAX_LINE_SIZE = 64 * 1024
MAX_FIELD_SIZE = 64 * 1024
MAX_HEADERS = 128
HANDLER_LIMITS: dict[str, Any] = {
    "max_line_size": MAX_LINE_SIZE,
    "max_field_size": MAX_FIELD_SIZE,
    "max_headers": MAX_HEADERS,
}


class _AnyMethodParser:
    """aiohttp's C parser knows a fixed list of methods and fails on any other token; then the
    connection goes on with the pure-Python parser, which takes any token (as RFC 9110 and
    libmicrohttpd do), so the route answers 405 with `Allow` instead of a parse error. The data the
    C parser failed on is given again to the new parser: nothing of it had been delivered."""

    def __init__(self, fast: Any, make_slow: Callable[[], Any]) -> None:
        self._parser = fast
        self._make_slow = make_slow
        self._switched = False

    def feed_data(self, data: bytes) -> Any:
        try:
            return self._parser.feed_data(data)
        except BadHttpMethod:
            if self._switched:
                raise
            self._switched = True
            self._parser = self._make_slow()
            return self._parser.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def protocol_error(status: int, exc: BaseException | None) -> NgsiError:
    """Orion's JSON error for a request that could not be read as HTTP (or a failure outside the
    pipeline)."""
    if status >= 500:
        return internal_error("Internal error")
    if isinstance(exc, LineTooLong):
        return bad_request(f"request line or header longer than {MAX_LINE_SIZE} bytes")
    if isinstance(exc, BadHttpMethod):
        return bad_request("malformed HTTP request: bad request line")
    if isinstance(exc, HttpProcessingError) and exc.message:
        first = str(exc.message).strip().splitlines()[0][:200]
        return bad_request(f"malformed HTTP request: {first}")
    return bad_request("malformed HTTP request")


class _BareResponse(web.Response):
    """An error answered outside the application: no `Server` header, Orion's header order."""

    async def _write_headers(self) -> None:
        self.headers.popall("Server", None)
        self.headers["Fiware-Correlator"] = new_correlator()
        order_headers(self.headers)
        await super()._write_headers()


class BrokerRequestHandler(RequestHandler):
    """aiohttp's connection protocol with any-method parsing and JSON protocol errors."""

    def __init__(self, manager: web.Server, *, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        limits = {k: kwargs[k] for k in ("max_line_size", "max_field_size", "max_headers") if k in kwargs}
        bufsize = kwargs.get("read_bufsize", 2**16)

        def make_slow() -> Any:
            common: dict[str, Any] = {
                "payload_exception": RequestPayloadError,
                "auto_decompress": kwargs.get("auto_decompress", True),
                **limits,
            }
            queue = getattr(self, "_max_msg_queue_size", None)  # pipelining back-pressure (aiohttp >= 3.14)
            if queue is not None:
                try:
                    return HttpRequestParserPy(self, loop, bufsize, max_msg_queue_size=queue, **common)
                except TypeError:
                    pass
            return HttpRequestParserPy(self, loop, bufsize, **common)

        if self._parser is not None and not isinstance(self._parser, HttpRequestParserPy):
            self._parser = _AnyMethodParser(self._parser, make_slow)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: part of an answer is out, the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        err = protocol_error(status, exc)
        # bad input is a warning with its reason, as Orion's alarms, not an error with a traceback
        event(
            logging.WARNING if status < 500 else logging.ERROR,
            "unreadable request" if status < 500 else "unhandled error",
            status=err.status,
            error=err.description if status < 500 else repr(exc),
            **({"from": request.remote} if request.remote else {}),
        )
        base = error_response(err)
        response = _BareResponse(status=err.status, body=base.body, content_type="application/json")
        response.force_close()  # the parser's state is unknown after a bad message
        return response


class BrokerServer(web.Server):
    def __call__(self) -> RequestHandler:
        return BrokerRequestHandler(self, loop=self._loop, **self._kwargs)


class BrokerRunner(web.AppRunner):
    """`web.AppRunner` serving through `BrokerServer` with Orion's line and header limits."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **{**HANDLER_LIMITS, **kwargs})

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = BrokerServer  # the same object, whose connections use BrokerRequestHandler
        return server
