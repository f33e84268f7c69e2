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

    async def append_access_log_if(self, tenant: str, head: Head, sealed: list[dict[str, Any]]) -> bool:
        self.offers += 1
        if self.rivals:
            self.rivals -= 1
            rival = [_record(100 + len(self.records))]
            access_log.link(self.records[-1]["hash"] if self.records else "", rival)
            self._add(rival)
            return False
        if head != await self.access_log_head(tenant):
            return False
        self._add(sealed)
        return True

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
