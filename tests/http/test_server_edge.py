"""The server under the application, over raw sockets: methods aiohttp's C parser does not know,
Orion's 64 KB request lines, JSON for requests that cannot be read as HTTP, and the request timeout
while a body is being received."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from broker.http.server import MAX_LINE_SIZE, BrokerRunner
from broker.http.settings import HttpSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage
from tests.process.broker_process import BrokerProcess, free_port

Reply = tuple[int, list[tuple[str, str]], bytes]


@pytest.fixture
async def port(tmp_path: Path) -> AsyncIterator[int]:
    """A broker served by BrokerRunner (as `python -m broker` does) on a free port, request timeout 1 s."""
    app = build_app(SqliteStorage(str(tmp_path / "b.db")), HttpSettings(req_timeout=1))
    runner = BrokerRunner(app, access_log=None)
    await runner.setup()
    number = free_port()
    site = web.TCPSite(runner, "127.0.0.1", number)
    await site.start()
    try:
        yield number
    finally:
        await runner.cleanup()


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line]
    length = int({k.lower(): v for k, v in headers}.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), 10)
    return status, headers, body  # type: ignore[return-value]


async def exchange(port: int, *requests: bytes) -> list[Reply]:
    """Send the requests one after the other on one connection; their replies."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = []
    try:
        for raw in requests:
            writer.write(raw)
            await writer.drain()
            replies.append(await read_reply(reader))
    finally:
        writer.close()
    return replies


def get(target: str, extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


def names(reply: Reply) -> list[str]:
    return [k for k, _ in reply[1]]


async def test_unknown_method_is_405_with_allow_as_orion_and_the_connection_goes_on(port: int) -> None:
    first, second = await exchange(port, b"FOO /v2/entities HTTP/1.1\r\nHost: x\r\n\r\n", get("/v2/entities"))
    status, headers, body = first
    assert status == 405
    assert dict(headers)["Allow"] == "POST, GET"
    assert orjson.loads(body) == {"error": "MethodNotAllowed", "description": "method not allowed"}
    assert names(first) == ["Date", "Fiware-Correlator", "Allow", "Content-Type", "Content-Length"]
    assert second[0] == 200 and second[2] == b"[]"


async def test_unknown_method_on_an_unknown_url_is_service_not_found(port: int) -> None:
    (reply,) = await exchange(port, b"PURGEALL /v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply[0] == 400
    assert orjson.loads(reply[2])["description"] == "Service not found. Check your URL as probably it is wrong."


async def test_url_of_60_kb_is_served(port: int) -> None:
    target = "/v2/entities?idPattern=" + "a" * (60 * 1024)
    (reply,) = await exchange(port, get(target))
    assert reply[0] == 200
    assert reply[2] == b"[]"


async def test_header_of_60_kb_is_served(port: int) -> None:
    (reply,) = await exchange(port, get("/v2/entities", "X-Auth-Token: " + "t" * (60 * 1024) + "\r\n"))
    assert reply[0] == 200


async def test_url_over_64_kb_is_a_json_400(port: int) -> None:
    (reply,) = await exchange(port, get("/v2/entities?idPattern=" + "a" * MAX_LINE_SIZE))
    status, headers, body = reply
    assert status == 400
    assert dict(headers)["Content-Type"] == "application/json"
    assert "Server" not in dict(headers)
    assert names(reply)[:2] == ["Date", "Fiware-Correlator"] and names(reply)[-1] == "Content-Length"
    assert orjson.loads(body) == {
        "error": "BadRequest",
        "description": f"request line or header longer than {MAX_LINE_SIZE} bytes",
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"HELLO\r\n\r\n",
        b"GET /v2/entities HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /v2/entities HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        (
            b"POST /v2/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}"
        ),
        b"POST /v2/entities HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    ],
)
async def test_unreadable_request_is_a_json_400(port: int, raw: bytes) -> None:
    (reply,) = await exchange(port, raw)
    status, headers, body = reply
    assert status == 400
    assert dict(headers)["Content-Type"] == "application/json"
    assert "Server" not in dict(headers)
    document = orjson.loads(body)
    assert document["error"] == "BadRequest"
    assert document["description"].startswith("malformed HTTP request")


async def test_steady_slow_body_is_read_past_the_request_timeout(port: int) -> None:
    """-reqTimeout is about silence, not total time: 1.5 s of body, a byte every 0.25 s, timeout 1 s."""
    body = b'{"id": "Slow"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v2/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    started = time.monotonic()
    for i in range(0, len(body), 2):
        writer.write(body[i : i + 2])
        await writer.drain()
        await asyncio.sleep(0.25)
    status, headers, _ = await read_reply(reader)
    writer.close()
    assert time.monotonic() - started > 1.5
    assert status == 201
    assert dict(headers)["Location"] == "/v2/entities/Slow?type=Thing"


async def test_stalled_body_closes_the_connection_and_applies_nothing(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v2/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, without an answer, as MHD
    assert 0.9 < time.monotonic() - started < 5
    writer.close()
    (listing,) = await exchange(port, get("/v2/entities"))
    assert listing[2] == b"[]"


@pytest.mark.parametrize(
    "sent",
    [
        b"POST /v2/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        b"GET /v2/entities HTTP/1.1\r\nHost: x\r\n",  # headers that never end
    ],
    ids=["stalled body", "stalled headers"],
)
@pytest.mark.slow
def test_req_timeout_flag_closes_a_stalled_request(tmp_path: Path, sent: bytes) -> None:
    """The command line end to end: `-reqTimeout 1` and a request that stops half-way."""
    with BrokerProcess(tmp_path / "b.db", args=["-reqTimeout", "1"]) as broker:
        broker.start()
        with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as sock:
            sock.sendall(sent)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # blocks until the broker closes the connection
            elapsed = time.monotonic() - started
        assert 0.9 < elapsed < 5


async def test_unknown_method_pipelined_behind_a_get_answers_both_in_order(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(get("/v2/entities") + b"FOO /v2/types HTTP/1.1\r\nHost: x\r\n\r\n" + get("/v2"))
    await writer.drain()
    first, second, third = [await read_reply(reader) for _ in range(3)]
    writer.close()
    assert (first[0], first[2]) == (200, b"[]")
    assert (second[0], dict(second[1])["Allow"]) == (405, "GET")
    assert third[0] == 200 and orjson.loads(third[2])["entities_url"] == "/v2/entities"
