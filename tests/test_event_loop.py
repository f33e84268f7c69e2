"""The serving processes run on uvloop where it is installed, on asyncio's own loop otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from broker.runtime.cli import event_loop_factory


def test_the_broker_serves_on_uvloop_when_it_is_installed():
    factory = event_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, result="ran")) == "ran"
    finally:
        loop.close()


def test_without_uvloop_the_broker_uses_asyncios_own_loop(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert event_loop_factory() is None
