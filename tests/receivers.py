"""The notification receiver the tests share, and the outbox-drained wait.

`Receiver` is a local HTTP server on a free loopback port that records every request it accepts
(any method, any path) and answers it with the next status of `script`, then `status`. While
`up` is False it answers 503 and counts the request in `refused` instead. Waits end on events
(`wait_for`, `wait_refused`), with a timeout only as a guard against hanging.

`drained(client)` waits until the broker behind an aiohttp test client has settled every
notification it owes (`Notifier.drains`): the moment to assert that nothing (more) arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broker.http.services import SERVICES
from broker.subscriptions.notifier import Notifier

WAIT = 10.0  # a guard against hanging, never a pause


@dataclass(frozen=True)
class Request:
    """One request as the receiver got it."""

    method: str
    path_qs: str  # the path with its query string
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def path(self) -> str:
        return urlsplit(self.path_qs).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path_qs).query, keep_blank_values=True))

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    status: int = 200  # the answer once `script` is used up
    script: list[int] = field(default_factory=list)  # answers to give first, in turn
    up: bool = True  # False: every request is answered 503 and counted in `refused`, not recorded
    on_receipt: Callable[[Any], Awaitable[None]] | None = None  # run with the JSON body before answering
    answer: bytes = b""  # the body of every answer
    requests: list[Request] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self) -> None:
        self._event = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            if not self.up:
                self.refused += 1
                return web.Response(status=503)
            if self.on_receipt is not None:
                await self.on_receipt(orjson.loads(body))
            status = self.script.pop(0) if self.script else self.status
            self.requests.append(Request(request.method, request.path_qs, dict(request.headers), body, status))
            return web.Response(status=status, body=self.answer)
        finally:
            self._event.set()

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    @property
    def url(self) -> str:
        return self.url_for("/notify")

    def url_for(self, path: str) -> str:
        return str(self.server.make_url(path))

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies received, in order."""
        return [r.json() for r in self.requests]

    async def until(self, done: Callable[[], bool], timeout: float = WAIT) -> None:
        """Wait until `done()` holds, looking again after each request the receiver gets."""
        async with asyncio.timeout(timeout):
            while not done():
                self._event.clear()
                await self._event.wait()

    async def wait_for(self, n: int, timeout: float = WAIT) -> None:
        """Until at least `n` requests were accepted."""
        try:
            await self.until(lambda: len(self.requests) >= n, timeout)
        except TimeoutError:
            raise AssertionError(f"{len(self.requests)} of {n} notifications arrived") from None

    async def on_path(self, path: str, timeout: float = WAIT) -> Request:
        """The first request accepted on `path` (its query string aside), once it is there."""

        def first() -> Request | None:
            return next((r for r in self.requests if r.path == path), None)

        try:
            await self.until(lambda: first() is not None, timeout)
        except TimeoutError:
            raise AssertionError(f"nothing received on {path}: {self.requests}") from None
        found = first()
        assert found is not None
        return found

    async def wait_refused(self, n: int = 1, timeout: float = WAIT) -> None:
        """Until at least `n` requests were refused while the receiver was down."""
        await self.until(lambda: self.refused >= n, timeout)


def notifier_of(client: TestClient) -> Notifier:
    return client.app[SERVICES].subscriptions.notifier


async def drained(client: TestClient, timeout: float = WAIT) -> None:
    """Every notification the broker owes is settled (sent and answered, dropped, or given up)."""
    await notifier_of(client).drains.wait(timeout)
