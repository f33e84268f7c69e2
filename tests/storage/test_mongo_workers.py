"""MongoDB only: several brokers on one database, as on several machines, and `-workers 3` on one
port: notifications once (leases), subscriptions followed within the bound, throttling shared."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pymongo
import pytest

from tests.process import workers
from tests.process.broker_process import BrokerProcess, version_status

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

WORKERS = 3


def _mongo_broker(tmp_path: Path, mongo_db: tuple[str, str], *extra: str) -> BrokerProcess:
    uri, prefix = mongo_db
    return BrokerProcess(tmp_path / "unused.db", pass_db_path=False, args=["-dbURI", uri, "-db", prefix, *extra])


@pytest.fixture
async def supervised(tmp_path: Path, mongo_db: tuple[str, str]) -> AsyncIterator[BrokerProcess]:
    with _mongo_broker(tmp_path, mongo_db, "-workers", str(WORKERS)) as b:
        b.start(timeout=60)
        await workers.wait_listening(b, WORKERS)
        yield b


async def test_three_processes_on_one_port_notify_each_update_once(supervised, receiver, mongo_db) -> None:
    delay = await workers.every_update_notified_once(supervised, [supervised], receiver)
    print(
        f"\nMongoDB (FerretDB), -workers {WORKERS}: an update went unnotified at most {delay:.3f} s after the subscription"
    )
    assert delay <= workers.PROPAGATION_BOUND
    assert not any(e["msg"] == "delivery worker started" for e in workers.log_lines(supervised))
    uri, prefix = mongo_db
    with pymongo.MongoClient(uri) as client:
        assert client[prefix]["ab_outbox"].count_documents({}) == 0


async def test_throttling_holds_across_processes_on_mongodb(supervised, receiver) -> None:
    await workers.throttling_holds_across_processes(supervised, receiver)


async def test_brokers_on_two_machines_share_subscriptions_and_deliver_once(tmp_path, mongo_db, receiver) -> None:
    with _mongo_broker(tmp_path / "a", mongo_db) as a, _mongo_broker(tmp_path / "b", mongo_db) as b:
        a.start(timeout=60)
        b.start(timeout=60)
        delay = await workers.every_update_notified_once(a, [a, b], receiver)
    print(f"\nMongoDB (FerretDB), two brokers: an update went unnotified at most {delay:.3f} s after the subscription")
    assert delay <= workers.PROPAGATION_BOUND


async def test_sigterm_stops_every_process_on_mongodb_with_exit_status_0(supervised) -> None:
    children = workers.supervised_pids(supervised)
    assert len(children) == WORKERS
    assert supervised.stop(signal.SIGTERM, timeout=15) == 0
    assert [pid for pid in children if workers.alive(pid)] == []
    assert version_status(supervised.port) is None


async def test_subscription_changes_and_deletion_reach_every_process_on_mongodb(supervised, receiver) -> None:
    await workers.subscription_changes_reach_every_process(supervised, receiver)


async def test_a_registration_made_through_one_process_is_used_and_dropped_by_every_process_on_mongodb(
    supervised, provider
) -> None:
    await workers.registrations_reach_every_process(supervised, provider)
