"""The access log's append loop on a store that appends conditionally: sealed here, retried on a conflict."""

from __future__ import annotations

from typing import Any

import pytest

from broker.personal import access_log
from broker.personal.access_log_append import ATTEMPTS, append
from broker.storage.port import Head, StorageUnavailable


def _record(i: int) -> dict:
    return access_log.disclosure(
        time=float(i),
        tenant="t",
        recipient="svc",
        subject="alice",
        entity_id=f"E{i}",
        entity_type="T",
        attrs=["a"],
        consents=(),
        channel="query",
        correlator="x",
    )


class ConditionalLog:
    """A conditional store in memory; `rivals` appends slip in before that many of ours."""

    def __init__(self, rivals: int = 0) -> None:
        self.records: list[dict[str, Any]] = []
        self.rivals = rivals
        self.offers = 0

    async def read_access_log(self, tenant: str, **_: Any) -> tuple[list[dict[str, Any]], int]:
        return list(self.records), len(self.records)

    async def access_log_index_faults(self, tenant: str) -> set[int]:
        return set()

    async def access_log_head(self, tenant: str) -> Head:
        return len(self.records), self.records[-1]["hash"] if self.records else ""

    async def append_access_log_if(self, tenant: str, head: Head, sealed: list[dict[str, Any]]) -> int:
        self.offers += 1
        if head != await self.access_log_head(tenant):
            return 0
        stored = 0
        for record in sealed:
            if self.rivals:  # a rival's record takes the next number: ours stop there
                self.rivals -= 1
                rival = [_record(100 + len(self.records))]
                access_log.link(self.records[-1]["hash"] if self.records else "", rival)
                self._add(rival)
                break
            self._add([record])
            stored += 1
        return stored

    def _add(self, sealed: list[dict[str, Any]]) -> None:
        for record in sealed:
            record["seq"] = len(self.records) + 1
            self.records.append(record)


async def test_records_lost_to_a_concurrent_append_are_sealed_again_after_it_and_the_chain_stays_valid():
    store = ConditionalLog(rivals=2)
    await append(store, "t", [_record(1), _record(2)])
    assert store.offers == 3
    assert [r["entityId"] for r in store.records] == ["E100", "E101", "E1", "E2"]
    assert access_log.verify(store.records, await store.access_log_head("t"))["valid"] is True


async def test_records_stored_before_a_conflict_are_not_offered_again():
    store = ConditionalLog()
    first = [_record(1), _record(2), _record(3)]
    original = store.append_access_log_if

    async def rival_after_the_first(tenant: str, head: Head, sealed: list[dict[str, Any]]) -> int:
        if store.offers == 0:
            store.offers += 1
            store._add(sealed[:1])  # ours went in up to here, then a rival took the next number
            rival = [_record(100)]
            access_log.link(sealed[0]["hash"], rival)
            store._add(rival)
            return 1
        return await original(tenant, head, sealed)

    store.append_access_log_if = rival_after_the_first  # type: ignore[method-assign]
    await append(store, "t", first)
    assert [r["entityId"] for r in store.records] == ["E1", "E100", "E2", "E3"]
    assert access_log.verify(store.records, await store.access_log_head("t"))["valid"] is True


async def test_the_callers_records_are_not_changed_by_an_attempt_that_failed():
    store = ConditionalLog(rivals=1)
    mine = [_record(1)]
    await append(store, "t", mine)
    assert "hash" not in mine[0] and "prev" not in mine[0]


async def test_an_append_that_always_loses_makes_the_log_unavailable():
    store = ConditionalLog(rivals=ATTEMPTS)
    with pytest.raises(StorageUnavailable):
        await append(store, "t", [_record(1)])
    assert store.offers == ATTEMPTS
