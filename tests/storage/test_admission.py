"""A bound on the storage operations in flight: past it, calls fail at once and do nothing."""

from __future__ import annotations

import asyncio

import pytest

from broker.storage.admission import InFlightLimit
from broker.storage.port import StorageBusy, StorageUnavailable


async def test_calls_beyond_the_limit_fail_at_once_without_running():
    limit = InFlightLimit(2)
    release = asyncio.Event()
    ran: list[int] = []

    async def op(i: int) -> int:
        ran.append(i)
        await release.wait()
        return i

    guarded = limit.guard(op)
    first = [asyncio.create_task(guarded(i)) for i in range(2)]
    await asyncio.sleep(0)  # both are in flight now
    with pytest.raises(StorageBusy) as refused:
        await guarded(2)
    assert isinstance(refused.value, StorageUnavailable)  # anything that handles an outage handles this
    assert ran == [0, 1] and limit.in_flight == 2 and limit.refused == 1
    release.set()
    assert await asyncio.gather(*first) == [0, 1]
    assert limit.in_flight == 0
    assert await guarded(3) == 3  # room again once they are done


async def test_a_failing_call_gives_its_place_back():
    limit = InFlightLimit(1)

    async def boom() -> None:
        raise StorageUnavailable("down")

    guarded = limit.guard(boom)
    for _ in range(3):
        with pytest.raises(StorageUnavailable):
            await guarded()
    assert limit.in_flight == 0 and limit.refused == 0


def test_plain_functions_are_not_wrapped():
    def sync() -> int:
        return 1

    assert InFlightLimit(1).guard(sync) is sync
