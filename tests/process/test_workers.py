"""`python -m broker -workers 3` on SQLite: three processes on one port and one file, one deliverer."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.runtime.supervisor import STARTUP_GRACE
from tests.process import workers
from tests.process.broker_process import BrokerProcess, version_status

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

WORKERS = 3


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerProcess]:
    with BrokerProcess(tmp_path / "broker.db", args=["-workers", str(WORKERS)]) as b:
        b.start(timeout=60)
        await workers.wait_listening(b, WORKERS)
        yield b


async def test_a_subscription_made_through_one_process_notifies_updates_through_all_of_them_once(
    broker, receiver
) -> None:
    delay = await workers.every_update_notified_once(broker, [broker], receiver)
    print(f"\nSQLite, -workers {WORKERS}: an update went unnotified at most {delay:.3f} s after the subscription")
    assert delay <= workers.PROPAGATION_BOUND


async def test_throttling_holds_across_processes(broker, receiver) -> None:
    await workers.throttling_holds_across_processes(broker, receiver)


async def test_one_delivery_worker_serves_the_file_whatever_the_number_of_processes(broker) -> None:
    await workers.wait_logged(broker, "delivery worker started")
    lines = workers.log_lines(broker)
    assert sum(1 for e in lines if e["msg"] == "delivery worker started") == 1
    assert len(workers.supervised_pids(broker)) == WORKERS + 1


async def test_sigterm_stops_every_process_with_exit_status_0(broker) -> None:
    children = workers.supervised_pids(broker)
    assert all(workers.alive(pid) for pid in children)
    assert broker.stop(signal.SIGTERM, timeout=15) == 0
    assert [pid for pid in children if workers.alive(pid)] == []
    assert version_status(broker.port) is None


async def test_a_process_that_dies_is_logged_and_started_again(broker) -> None:
    first = await workers.wait_listening(broker, WORKERS)
    await asyncio.sleep(STARTUP_GRACE + 0.5)  # the children were started before they listened: past their grace now
    victim = first[0]
    os.kill(victim, signal.SIGKILL)
    pids = await workers.wait_listening(broker, WORKERS + 1)
    restarted = [e for e in workers.log_lines(broker) if e["msg"] == "process exited, restarting it"]
    assert [(e["level"], e["child"], e["role"], e["status"]) for e in restarted] == [("ERROR", victim, "broker", -9)], (
        broker.logs()
    )
    assert pids[-1] not in first
    assert version_status(broker.port) == 200
    assert broker.stop(signal.SIGTERM, timeout=15) == 0, broker.logs()


def test_a_busy_port_stops_every_process_with_exit_status_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        b = BrokerProcess(tmp_path / "broker.db", port=holder.getsockname()[1], args=["-workers", "2"])
        proc = b.spawn()
        try:
            assert proc.wait(60) == 1
        finally:
            b.kill()
    critical = [e for e in workers.log_lines(b) if e["level"] == "CRITICAL"]
    assert critical and all(e["msg"] == "cannot start" for e in critical)
    assert any("address already in use" in e.get("error", "").lower() for e in critical)


async def test_subscription_changes_and_deletion_reach_every_process(broker, receiver) -> None:
    await workers.subscription_changes_reach_every_process(broker, receiver)


def test_processes_started_together_on_a_new_file_all_open_it(tmp_path: Path) -> None:
    for attempt in range(3):  # a race between migrations showed up one start in a few
        with BrokerProcess(tmp_path / f"new{attempt}" / "broker.db", args=["-workers", str(WORKERS)]) as b:
            b.start(timeout=60)
            asyncio.run(workers.wait_listening(b, WORKERS))
            assert not [e for e in workers.log_lines(b) if e["level"] == "CRITICAL"], b.logs()
            assert b.stop(signal.SIGTERM, timeout=15) == 0


async def test_a_registration_made_through_one_process_is_used_and_dropped_by_every_process(broker, provider) -> None:
    await workers.registrations_reach_every_process(broker, provider)
