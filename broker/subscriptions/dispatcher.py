"""Delivery: drains the outbox, one ordered stream per subscription.

Each notification goes through the consent re-check (`recheck`), the rendering (`payload.build`),
its sender (`senders`), then the counters and the retry schedule (`outcome`); this module orders
them and keeps the streams.

Each subscription's notifications go out in the order they were written, one at a time, so a slow
or dead receiver only holds back its own subscription. A notification goes out as soon as its
write commits (`Notifier.committed` wakes the loop; no polling interval on that path). Whatever
the receiver answers settles it, as in Orion, except a transient condition (no connection, reset,
timeout, 429, 502, 503, 504): that one is retried with exponential backoff and jitter, in order,
until `retry_window` has passed since the change. Counters follow Orion (see `outcome`) and are
written to the store as soon as the answer is in, before the next notification goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.logs import event
from broker.ngsi.subscription import Subscription
from broker.observability.hooks import notification_attempt
from broker.storage.port import OutboxRecord, Storage
from broker.subscriptions.mqtt import MqttPublisher
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.outcome import Outcome, count_outcome, count_sent, over_limit, retry_at, settles
from broker.subscriptions.payload import build, entity_of
from broker.subscriptions.recheck import Cleared, recheck
from broker.subscriptions.senders import Senders

CHUNK = 200
MIN_ROUND = 0.02  # seconds between two looks at the outbox woken by drains (not by commits) under load
FLUSH_EVERY = 0.25  # seconds between two deletions of delivered records (the write lock is shared)


@dataclass(frozen=True)
class DeliverySettings:
    retry_window: float = 86400.0  # -notifRetryWindow: how long a notification is retried
    max_backoff: float = 10.0  # longest wait between two attempts
    timeout: float = 5.0  # -httpTimeout, seconds
    insecure: bool = False  # -insecureNotif: HTTPS peers' certificates are not verified
    custom: bool = True  # False with -disableCustomNotifications: custom targets sent as plain ones


class Dispatcher:
    def __init__(
        self,
        storage: Storage,
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.time,
        retry_window: float = 86400.0,
        max_backoff: float = 10.0,
        timeout: float = 5.0,
        insecure: bool = False,
        custom: bool = True,
        concurrency: int = 100,
        mqtt: MqttPublisher | None = None,
        poll: float = 0.5,
        counters_first: bool = False,
        follow: bool = False,
    ) -> None:
        self.poll = poll
        # write `timesSent` before sending, when GET reads the counters from the store (another
        # process delivers): a GET right after the receiver got the notification shows it
        self.counters_first = counters_first
        # another process changes the subscriptions (the delivery worker): each round first reloads
        # the cache if the store's subscription version moved, so a PATCH just answered applies
        self.follow = follow
        self.storage = storage
        self.notifier = notifier
        self.clock = clock
        self.retry_window = retry_window
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.senders = Senders(timeout, mqtt, insecure=insecure)
        self.custom = custom
        self._slots = asyncio.Semaphore(concurrency)
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # due while their drain was running
        self._dirty: set[tuple[str, str]] = set()
        # Delivered records are deleted by the next round, many in one transaction, not one
        # transaction per drained chunk; until then `_delivered_upto` (a subscription's last
        # delivered id; its delivery is in id order) keeps them from being sent again.
        self._delivered: list[int] = []
        self._delivered_upto: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def from_settings(
        cls, storage: Storage, notifier: Notifier, settings: DeliverySettings, **options: Any
    ) -> Dispatcher:
        """A dispatcher with the `-notifRetryWindow`/`-httpTimeout` settings and an MQTT publisher."""
        return cls(
            storage,
            notifier,
            retry_window=settings.retry_window,
            max_backoff=settings.max_backoff,
            timeout=settings.timeout,
            insecure=settings.insecure,
            custom=settings.custom,
            mqtt=MqttPublisher(),
            **options,
        )

    async def start(self) -> None:
        self.notifier.keeps_counters = True
        await self.senders.start()
        self._task = asyncio.create_task(self._run(), name="notification-dispatcher")

    async def close(self) -> None:
        self._stopping = True
        self.notifier.wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._draining.values()):
            task.cancel()
        await asyncio.gather(*self._draining.values(), return_exceptions=True)
        await self._flush()
        await self.senders.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        flushed = loop.time()
        wake = self.notifier.wake
        while not self._stopping:
            started = loop.time()
            round_no = self.notifier.drains.begin_round()
            wake.clear()
            self.notifier.commit.clear()
            try:
                if started - flushed >= FLUSH_EVERY or self.notifier.drains.wanted:
                    flushed = started
                    await self._flush()  # first, so that the outbox read below no longer shows them
                if self.follow:
                    _, due = await asyncio.gather(self.notifier.refresh(), self.storage.due_subscriptions(self.clock()))
                else:
                    due = await self.storage.due_subscriptions(self.clock())
                for sub_id in due:
                    if sub_id not in self._draining:
                        self._draining[sub_id] = asyncio.create_task(self._drain(sub_id))
                    else:  # its drain may be past its last look: it starts again when it ends
                        self._again.add(sub_id)
                if self.notifier.drains.wanted and not due and not self._draining:
                    await self._report_drained(round_no)
            except Exception as exc:  # the store is down: try again on the next round
                event(logging.ERROR, "dispatcher round failed", error=repr(exc))
            try:
                await asyncio.wait_for(wake.wait(), timeout=self.poll)
            except TimeoutError:
                pass
            pause = started + MIN_ROUND - loop.time()
            if pause > 0 and not self.notifier.commit.is_set():  # woken by a finished drain: pace the
                with contextlib.suppress(asyncio.TimeoutError):  # rounds, but not past a commit
                    await asyncio.wait_for(self.notifier.commit.wait(), timeout=pause)

    async def _report_drained(self, round_no: int) -> None:
        """Nothing due now and nothing in flight: when no record is pending at all (the delivered
        ones deleted first), round `round_no` tells the waiters of `notifier.drains` so."""
        await self._flush()
        if not await self.storage.due_subscriptions(math.inf):
            self.notifier.drains.found_empty(round_no)

    async def _drain(self, sub_id: str) -> None:
        try:
            async with self._slots:
                while not self._stopping:
                    records = await self.storage.pending_for(sub_id, CHUNK)
                    if not records:
                        return
                    if self.notifier.get(records[0].tenant, sub_id) is None:
                        # created by another process since this cache was loaded: its record was
                        # written after it, so a refresh now finds it (else it is really deleted)
                        await self.notifier.refresh()
                    upto = self._delivered_upto.get(sub_id, 0)
                    if records[-1].id <= upto and len(records) < CHUNK:
                        return  # all delivered already, deleted by the next flush
                    done = [r.id for r in records if r.id <= upto]  # delivered, deletion pending
                    blocked = False
                    for record in records:
                        if record.id <= upto:
                            continue
                        if record.due > self.clock():
                            blocked = True
                            break
                        if not await self._deliver(record):
                            blocked = True
                            break
                        done.append(record.id)
                        self._delivered_upto[sub_id] = record.id
                    if blocked or len(records) < CHUNK:
                        self._delivered.extend(done)
                        return
                    await self.storage.finish_notifications(done)  # the next chunk starts after them
        except Exception as exc:
            event(logging.ERROR, "delivery failed", subscription=sub_id, error=repr(exc))
        finally:
            self._draining.pop(sub_id, None)
            if self._stopping:
                pass
            elif sub_id in self._again:  # a commit came for it meanwhile: no wait for the next round
                self._again.discard(sub_id)
                self._draining[sub_id] = asyncio.create_task(self._drain(sub_id))
            else:
                self.notifier.wake.set()  # more may have arrived meanwhile

    async def _deliver(self, record: OutboxRecord) -> bool:
        """True when the record is settled (sent, answered for good, refused, or given up); False to
        try it again later (a transient failure: nothing after it goes out before it)."""
        sub = self.notifier.get(record.tenant, record.subscription_id)
        if sub is None:
            return True  # deleted meanwhile: nothing is owed any more
        cleared = await recheck(self.notifier.guard, record, sub)
        if cleared is None:
            return True  # withdrawn, expired or erased since the change: nothing is sent
        outgoing = build(sub, cleared.payload, record.cbnotif, custom=self.custom)
        first = record.attempts == 0
        if first:
            count_sent(sub.delivery, self.clock())
            if self.counters_first:  # `timesSent` is in the store before the receiver can see it
                await self._save_counters(sub)
        if outgoing.dropped is not None:  # Orion builds no request: counted as sent, nothing else recorded
            event(logging.WARNING, "notification not sent", subscription=sub.id, reason=outgoing.dropped)
            if first and not self.counters_first:
                await self._save_counters(sub)
            return True
        outcome = await self.senders.send(sub, outgoing)
        notification_attempt(
            self.notifier,
            sub.tenant,
            sub.service_path,
            len(outgoing.body),
            outcome.answered,
            self.clock() - record.created,
            outcome.received,
        )
        await self._count(sub, outcome, first)
        if outcome.answered and outcome.through and cleared.access is not None:  # taken (a 503 is not)
            await self._log_disclosure(record, sub, cleared)
        if settles(outcome, sub.notification.max_fails_limit):
            return True
        return await self._retry(record, sub)

    async def _count(self, sub: Subscription, outcome: Outcome, first: bool) -> None:
        """The attempt's counters, written before the next notification (a GET now shows them);
        past `maxFailsLimit` the subscription goes inactive, as in Orion."""
        if not count_outcome(sub.delivery, outcome, self.clock(), first=first):
            return
        if over_limit(sub.delivery, sub.notification.max_fails_limit) and sub.status != "inactive":
            event(
                logging.WARNING,
                "subscription disabled: failsCounter passed maxFailsLimit",
                subscription=sub.id,
                failsCounter=sub.delivery.fails_counter,
                maxFailsLimit=sub.notification.max_fails_limit,
            )
            sub.status = "inactive"
            await self.notifier.save(sub)
        await self._save_counters(sub)

    async def _log_disclosure(self, record: OutboxRecord, sub: Subscription, cleared: Cleared) -> None:
        """A personal entity's notification was taken by its receiver: a disclosure, in the access log."""
        assert sub.owner is not None and cleared.subject is not None and cleared.access is not None
        guard = self.notifier.guard
        entry = guard.notification_record(
            record.tenant,
            sub.owner,
            cleared.subject,
            entity_of(cleared.payload),
            cleared.access,
            cleared.payload.get("correlator", ""),
        )
        if entry is not None:
            await guard.log(record.tenant, [entry])

    async def _retry(self, record: OutboxRecord, sub: Subscription) -> bool:
        """Schedule the next attempt of a transient failure; True when it is given up instead."""
        now = self.clock()
        due = retry_at(
            record.created,
            record.attempts,
            now,
            retry_window=self.retry_window,
            max_backoff=self.max_backoff,
            jitter=random.uniform(0.5, 1.0),
        )
        if due is None:
            event(logging.WARNING, "notification given up", subscription=sub.id, attempts=record.attempts + 1)
            return True
        await self.storage.retry_notification(record.id, due, record.attempts + 1)
        return False

    async def _save_counters(self, sub: Subscription) -> None:
        """Write the subscription's counters now; if the store fails, the next flush tries again."""
        try:
            await self.storage.save_delivery(sub.tenant, sub.id, sub.delivery)
        except Exception as exc:
            event(logging.WARNING, "delivery counters not written, retrying", subscription=sub.id, error=repr(exc))
            self._dirty.add((sub.tenant, sub.id))

    async def _flush(self) -> None:
        """Delete the delivered records and write the changed counters, all submitted at once so
        that they share a group commit: few write transactions, so the broker process's commits
        seldom wait for the file lock (one after the other, they were an fsync each)."""
        delivered, self._delivered = self._delivered, []
        dirty, self._dirty = self._dirty, set()
        subs = [sub for sub in (self.notifier.get(t, i) for t, i in dirty) if sub is not None]
        try:
            await asyncio.gather(
                self.storage.finish_notifications(delivered),
                *(self.storage.save_delivery(sub.tenant, sub.id, sub.delivery) for sub in subs),
            )
        except Exception:
            self._delivered.extend(delivered)  # still skipped by `_delivered_upto`; deleted next round
            self._dirty |= dirty
            raise
