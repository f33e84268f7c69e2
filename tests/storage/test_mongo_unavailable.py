"""MongoDB only: a server that cannot be reached, or goes away, is `StorageUnavailable` (the core's 500)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from broker.ngsi.model import Entity
from broker.ngsi.selection import EntityFilter, Page
from broker.storage.mongo import MongoStorage
from broker.storage.port import StorageUnavailable
from tests.ferretdb import start_ferretdb

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_start_fails_when_the_server_cannot_be_reached():
    store = MongoStorage(f"mongodb://127.0.0.1:{_closed_port()}/", timeout_ms=300)
    with pytest.raises(StorageUnavailable):
        await store.start()
    await store.close()


async def test_reads_and_writes_fail_when_the_server_goes_away(tmp_path: Path):
    try:
        server = start_ferretdb(tmp_path)  # one of its own, to stop it under the store
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    store = MongoStorage(server.uri, db="gone", timeout_ms=500)
    try:
        await store.start()
        assert await store.insert_entity("", Entity("E1", "T", cre_date=1.0, mod_date=1.0))
        server.stop()
        with pytest.raises(StorageUnavailable):
            await store.query_entities("", EntityFilter(), Page(), count=True)
        with pytest.raises(StorageUnavailable):
            await store.insert_entity("", Entity("E2", "T", cre_date=1.0, mod_date=1.0))
    finally:
        server.stop()
        await store.close()


async def test_a_replica_set_without_transactions_still_writes_batches_all_or_nothing(tmp_path: Path):
    """FerretDB can claim a replica set (`--repl-set-name`) but has no transactions: the probe sees it."""
    from broker.storage.port import Write

    try:
        server = start_ferretdb(tmp_path, extra_args=["--repl-set-name=rs0"])
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    store = MongoStorage(server.uri + "?directConnection=true", db="rs")
    try:
        await store.start()
        hello = await store._client.admin.command("hello")  # type: ignore[union-attr]
        assert hello["setName"] == "rs0"  # it claims a replica set ...
        assert store.transactions is False  # ... but the probe found no transactions
        assert await store.insert_entity("", Entity("E1", "T", cre_date=1.0, mod_date=1.0))
        batch = [Write("insert", Entity("E2", "T", cre_date=2.0, mod_date=2.0)), Write("insert", Entity("E1", "T"))]
        assert not await store.write_batch("", batch)
        assert [e.id for e in (await store.query_entities("", EntityFilter(), Page()))[0]] == ["E1"]
    finally:
        await store.close()
        server.stop()


async def test_a_stalled_server_gets_busy_refusals_past_the_bound_and_bounded_waits_below_it(tmp_path: Path):
    """A server that stops answering (SIGSTOP) under a burst: calls past the in-flight bound are
    refused at once (503), the others fail within -dbTimeout; nothing queues without bound."""
    import asyncio
    import os
    import signal
    import time

    from broker.storage.port import StorageBusy

    try:
        server = start_ferretdb(tmp_path)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    store = MongoStorage(server.uri, db="stalled", pool_size=1, timeout_ms=500)
    bound = store.in_flight.limit
    try:
        await store.start()
        assert await store.insert_entity("", Entity("E1", "T", cre_date=1.0, mod_date=1.0))
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            burst = [store.query_entities("", EntityFilter(), Page()) for _ in range(bound + 40)]
            results = await asyncio.wait_for(asyncio.gather(*burst, return_exceptions=True), 30)
            elapsed = time.monotonic() - started
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        refused = [r for r in results if isinstance(r, StorageBusy)]
        failed = [r for r in results if isinstance(r, StorageUnavailable) and not isinstance(r, StorageBusy)]
        assert len(refused) == 40 and len(failed) == bound, results
        assert elapsed < 10, f"waits bounded by -dbTimeout (0.5 s), took {elapsed:.1f} s"
        assert store.in_flight.in_flight == 0
        found, _ = await store.query_entities("", EntityFilter(), Page())  # the server is back
        assert [e.id for e in found] == ["E1"]
    finally:
        await store.close()
        server.stop()
