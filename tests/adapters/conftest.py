"""Fixtures for the adapters: a broker on a real port, a real Mosquitto, and an IoT agent wired to both."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.iot.agent import Agent
from adapters.iot.config import AgentConfig
from broker.http.settings import HttpSettings
from broker.runtime.app import build_app
from broker.storage.sqlite import SqliteStorage

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (apt-get install -y mosquitto)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(predicate: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0) -> None:
    """Re-check a condition every 10 ms until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def start_broker(tmp_path: Path, port: int | None = None) -> TestServer:
    server = TestServer(
        build_app(SqliteStorage(str(tmp_path / "broker.db")), HttpSettings()), host="127.0.0.1", port=port
    )
    await server.start_server()
    return server


@pytest.fixture
async def broker_url(tmp_path: Path) -> AsyncIterator[str]:
    server = await start_broker(tmp_path)
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.02)
    yield port
    proc.terminate()
    proc.wait(5)


def agent_config(tmp_path: Path, cb_url: str, **kw: object) -> AgentConfig:
    base = dict(
        cb_url=cb_url, north_port=0, http_port=0, host="127.0.0.1", db_path=str(tmp_path / "iota.db"), http_wait=10.0
    )
    base.update(kw)
    return AgentConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
async def agent(tmp_path: Path, broker_url: str) -> AsyncIterator[Agent]:
    a = Agent(agent_config(tmp_path, broker_url))
    await a.start()
    yield a
    await a.close()
