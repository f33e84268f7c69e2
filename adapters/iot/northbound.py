"""Northbound: entity updates to the broker, batched into `op/update` under load and retried until accepted.

Updates are sharded by (destination, entity id) onto workers with one request in flight each, so
the updates of one entity reach the broker in the order they were measured. A worker waits a few
milliseconds (`linger`) for more updates before sending, and while a request is in flight the next
updates queue up, so a burst leaves in few `op/update` requests. A connection failure,
a timeout or a 5xx is retried with backoff for as long as the agent runs; a batch the broker refuses
(4xx) is split so that only the bad updates fail, each reported with its device.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from adapters.ngsi_client import BrokerError, Destination, NgsiClient

log = logging.getLogger("adapters.iot.northbound")


@dataclass
class Pending:
    dest: Destination
    entity: dict[str, Any]
    label: str
    future: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class Stats:
    sent_updates: int = 0
    sent_batches: int = 0
    retries: int = 0
    rejected: int = 0


class Northbound:
    def __init__(
        self,
        client: NgsiClient,
        *,
        workers: int = 4,
        batch_max: int = 200,
        queue_limit: int = 10_000,
        max_backoff: float = 5.0,
        linger: float = 0.005,
    ) -> None:
        self._client = client
        self._batch_max = batch_max
        self._max_backoff = max_backoff
        self._linger = linger
        self._queues: list[asyncio.Queue[Pending]] = [asyncio.Queue(queue_limit) for _ in range(workers)]
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = Stats()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(q), name=f"northbound-{i}") for i, q in enumerate(self._queues)]

    async def submit(self, dest: Destination, entity: dict[str, Any], label: str) -> asyncio.Future[None]:
        """Queue one update (waiting while the queue is full); the future completes when the broker accepted it."""
        item = Pending(dest, entity, label)
        shard = zlib.crc32(f"{dest.broker}|{dest.service}|{dest.service_path}|{entity['id']}".encode()) % len(
            self._queues
        )
        await self._queues[shard].put(item)
        return item.future

    def pending(self) -> int:
        return sum(q.qsize() for q in self._queues)

    async def drain(self) -> None:
        """Wait until every queued update has been answered by the broker."""
        await asyncio.gather(*(q.join() for q in self._queues))

    async def close(self, timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            log.error("closing with %d updates the broker has not accepted", self.pending())
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _worker(self, queue: asyncio.Queue[Pending]) -> None:
        while True:
            batch = [await queue.get()]
            await self._collect(queue, batch)
            try:
                by_dest: dict[Destination, list[Pending]] = {}
                for item in batch:
                    by_dest.setdefault(item.dest, []).append(item)
                for dest, items in by_dest.items():
                    await self._deliver(dest, items)
            except Exception as e:  # a bug must not stop the worker and stall every later update
                log.exception("northbound worker failed on a batch of %d updates", len(batch))
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(e)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _collect(self, queue: asyncio.Queue[Pending], batch: list[Pending]) -> None:
        """Add what is queued, waiting at most `linger` for more, so that a burst leaves as one request."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        while len(batch) < self._batch_max:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                return

    async def _deliver(self, dest: Destination, items: list[Pending]) -> None:
        try:
            await self._send_with_retry(dest, items)
        except BrokerError as e:
            if len(items) > 1:
                for item in items:
                    await self._deliver(dest, [item])
                return
            item = items[0]
            self.stats.rejected += 1
            log.error("broker refused the update of device %s (entity %s): %s", item.label, item.entity.get("id"), e)
            if not item.future.done():
                item.future.set_exception(e)
            return
        for item in items:
            if not item.future.done():
                item.future.set_result(None)

    async def _send_with_retry(self, dest: Destination, items: list[Pending]) -> None:
        attempt = 0
        while True:
            try:
                await self._client.batch_update(dest, [i.entity for i in items])
                self.stats.sent_batches += 1
                self.stats.sent_updates += len(items)
                return
            except BrokerError as e:
                if not e.transient:
                    raise
                reason = str(e)
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                reason = f"{type(e).__name__}: {e}"
            attempt += 1
            self.stats.retries += 1
            delay = min(self._max_backoff, 0.05 * 2**attempt)
            log.warning(
                "broker %s unavailable (%s); %d updates kept, retry %d in %.2f s",
                dest.broker,
                reason,
                len(items),
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
