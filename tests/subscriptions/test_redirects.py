"""Notifications to a receiver that redirects: followed as Orion's libcurl follows them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from broker.ngsi.subscription import Condition, EntityPattern, HttpTarget, Notification, Subscription
from broker.subscriptions.payload import Outgoing
from broker.subscriptions.senders import MAX_REDIRECTS, HttpSender


class Redirecting:
    """`/307`, `/302` answer with a redirect to `/new`; `/loop` redirects to itself; `/new` records."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes, str]] = []
        self.loops = 0
        app = web.Application()
        app.router.add_route("*", "/new", self._new)
        app.router.add_route("*", "/loop", self._loop)
        app.router.add_route("*", "/{code}", self._redirect)
        self.server = TestServer(app)

    async def _redirect(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=int(request.match_info["code"]), headers={"Location": "/new"})

    async def _loop(self, request: web.Request) -> web.Response:
        self.loops += 1
        return web.Response(status=307, headers={"Location": "/loop"})

    async def _new(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((request.method, request.path, body, request.headers.get("Host", "")))
        return web.Response(status=201)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def redirecting() -> AsyncIterator[Redirecting]:
    r = Redirecting()
    await r.server.start_server()
    yield r
    await r.server.close()


@pytest.fixture
async def sender() -> AsyncIterator[HttpSender]:
    s = HttpSender(5.0)
    await s.start()
    yield s
    await s.close()


def _sub(url: str) -> Subscription:
    return Subscription(
        id="5f0000000000000000000001",
        tenant="",
        service_path="/#",
        entities=(EntityPattern(id="R1"),),
        condition=Condition(),
        notification=Notification(target=HttpTarget(url=url)),
    )


def _out(url: str) -> Outgoing:
    return Outgoing(url=url, headers={"Host": "wherever:1", "Content-Length": "2", "Content-Type": "x/y"}, body=b"{}")


async def test_a_307_is_followed_with_the_same_method_and_body(redirecting, sender):
    outcome = await sender.send(_sub(redirecting.url("/307")), _out(redirecting.url("/307")))
    assert (outcome.answered, outcome.code) == (True, 201)
    method, path, body, host = redirecting.received[0]
    assert (method, path, body) == ("POST", "/new", b"{}")
    assert host == f"127.0.0.1:{redirecting.server.port}"


async def test_a_302_is_followed_with_the_same_method_and_no_body(redirecting, sender):
    outcome = await sender.send(_sub(redirecting.url("/302")), _out(redirecting.url("/302")))
    assert (outcome.answered, outcome.code) == (True, 201)
    assert redirecting.received[0][:3] == ("POST", "/new", b"")


async def test_endless_redirects_stop_and_the_last_answer_is_the_outcome(redirecting, sender):
    outcome = await sender.send(_sub(redirecting.url("/loop")), _out(redirecting.url("/loop")))
    assert (outcome.answered, outcome.code) == (True, 307)
    assert redirecting.loops == MAX_REDIRECTS + 1
