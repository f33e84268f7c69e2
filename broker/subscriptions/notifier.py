"""The subscription cache and the step that turns change events into outbox records.

Subscriptions are held in memory per tenant and indexed by entity type, so a write costs a look
at the subscriptions that can concern its entity, not a scan of all of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from broker.ngsi.changes import ChangeEvent
from broker.ngsi.selection import subject_of
from broker.ngsi.subscription import Subscription
from broker.observability.statistics import CacheCounters
from broker.personal.guard import TYPES_MAX_AGE, PersonalGuard
from broker.personal.policy import Access, narrow
from broker.storage.port import OutboxRecord, Storage
from broker.subscriptions.drained import DrainWatch
from broker.subscriptions.matcher import triggers
from broker.subscriptions.payload import snapshot

ONESHOT_CLAIM_SECONDS = 30.0  # longest a write may take between matching and committing


class Notifier:
    def __init__(
        self,
        storage: Storage,
        guard: PersonalGuard,
        clock: Callable[[], float] = time.time,
        *,
        no_cache: bool = False,
    ) -> None:
        self.storage = storage
        # `-noCache`: every use asks the store whether a subscription changed (one read of its
        # version) instead of trusting the cache between two periodic refreshes
        self.no_cache = no_cache
        self.clock = clock
        self._subs: dict[str, dict[str, Subscription]] = {}  # tenant -> id -> subscription
        self._by_type: dict[str, dict[str, list[Subscription]]] = {}  # tenant -> type -> subscriptions
        self._any_type: dict[str, list[Subscription]] = {}  # tenant -> subscriptions with typePattern/no type
        self._last_sent: dict[str, float] = {}  # throttling windows this process opened
        # oneshot subscriptions whose one notification a write of this process owes but has not
        # committed yet (monotonic time of the claim): concurrent writes must not owe a second
        self._oneshot_claims: dict[tuple[str, str], float] = {}
        self._version = -1
        self.guard = guard  # the runtime's one guard: notifications follow the rule of reads
        self.wake = asyncio.Event()  # the dispatcher of this process looks at the outbox now
        self.commit = asyncio.Event()  # set with `wake` by a commit (not by a finished drain): no pacing
        self.drains = DrainWatch(self.wake)  # `await notifier.drains.wait()`: the outbox is drained
        # tells a delivery process elsewhere that notifications were committed (wakeup.WakeSender)
        self.signal: Callable[[], None] | None = None
        # a reload must not overwrite a subscription saved while it was reading the store
        self._cache_lock = asyncio.Lock()
        # this process delivers (a dispatcher runs on this cache): the counters it holds are newer
        # than the store's (written just after each answer), so a reload keeps them
        self.keeps_counters = False
        self.cache_stats = CacheCounters()  # GET /cache/statistics

    # -- the cache ---------------------------------------------------------------------------
    async def load(self) -> None:
        async with self._cache_lock:
            await self._load()

    async def _load(self) -> None:
        self._version = await self.storage.subscriptions_version()
        fresh = await self.storage.load_subscriptions()
        if self.keeps_counters:
            for sub in fresh:
                held = self.get(sub.tenant, sub.id)
                if held is not None:
                    sub.delivery = held.delivery
        self._subs.clear()
        self._by_type.clear()
        self._any_type.clear()
        for sub in fresh:
            self._put(sub)
        self.cache_stats.refresh += 1
        self.cache_stats.inserts += len(fresh)

    async def sync(self) -> None:
        """With `-noCache`, bring the cache up to date with the store before it is read."""
        if self.no_cache:
            await self.refresh()

    async def refresh(self) -> bool:
        """Reload the cache when another process changed a subscription; True when it did."""
        async with self._cache_lock:
            if await self.storage.subscriptions_version() == self._version:
                return False
            await self._load()
            return True

    def get(self, tenant: str, sub_id: str) -> Subscription | None:
        return self._subs.get(tenant, {}).get(sub_id)

    def find(self, sub_id: str) -> Subscription | None:
        for subs in self._subs.values():
            if sub_id in subs:
                return subs[sub_id]
        return None

    def cached_count(self) -> int:
        return sum(len(subs) for subs in self._subs.values())

    def all(self, tenant: str) -> list[Subscription]:
        return list(self._subs.get(tenant, {}).values())

    async def save(self, sub: Subscription) -> None:
        async with self._cache_lock:
            await self.storage.save_subscription(sub)
            if self.get(sub.tenant, sub.id) is None:
                self.cache_stats.inserts += 1
            else:
                self.cache_stats.updates += 1
            self._put(sub)

    async def delete(self, tenant: str, sub_id: str) -> bool:
        async with self._cache_lock:
            removed = await self.storage.delete_subscription(tenant, sub_id)
            if self.get(tenant, sub_id) is not None:
                self.cache_stats.removes += 1
            self._drop(tenant, sub_id)
            return removed

    def _put(self, sub: Subscription) -> None:
        self._drop(sub.tenant, sub.id)
        self._subs.setdefault(sub.tenant, {})[sub.id] = sub
        exact = [p.type for p in sub.entities if p.type is not None and p.type_pattern is None]
        if exact and len(exact) == len(sub.entities):
            for t in set(exact):
                self._by_type.setdefault(sub.tenant, {}).setdefault(t, []).append(sub)
        else:
            self._any_type.setdefault(sub.tenant, []).append(sub)

    def _drop(self, tenant: str, sub_id: str) -> None:
        old = self._subs.get(tenant, {}).pop(sub_id, None)
        if old is None:
            return
        for subs in self._by_type.get(tenant, {}).values():
            subs[:] = [s for s in subs if s.id != sub_id]
        any_type = self._any_type.get(tenant)
        if any_type is not None:
            any_type[:] = [s for s in any_type if s.id != sub_id]

    def _candidates(self, tenant: str, entity_type: str) -> Iterable[Subscription]:
        yield from self._by_type.get(tenant, {}).get(entity_type, ())
        yield from self._any_type.get(tenant, ())

    # -- events -> outbox ----------------------------------------------------------------------
    async def outbox_for(self, events: list[ChangeEvent]) -> list[OutboxRecord]:
        """The notifications these changes owe; empty when no subscription is concerned.

        A personal entity's change is matched, per subscription, as its creator may see it (the
        consented attributes only) and owed only to creators its subject consents to now.
        """
        await self.sync()
        if not self._subs:
            return []
        now = self.clock()
        out: list[OutboxRecord] = []
        personal: dict[str, dict[str, str]] = {}
        for event in events:
            if event.tenant not in self._subs:
                continue
            candidates = list(self._candidates(event.tenant, event.entity.type))
            if not candidates:
                continue
            if event.tenant not in personal:
                personal[event.tenant] = await self.guard.personal_types(event.tenant, max_age=TYPES_MAX_AGE)
            subject_attr = personal[event.tenant].get(event.entity.type)
            if subject_attr is not None:
                out += await self._personal_outbox(event, candidates, subject_attr, now, len(out))
                continue
            snap: dict | None = None
            for sub in candidates:
                if not triggers(sub, event, now) or self._oneshot_owed(sub) or await self._throttled(sub, now):
                    continue
                self._claim_oneshot(sub)
                snap = snap if snap is not None else snapshot(event)
                out.append(OutboxRecord(event.tenant, sub.id, snap, created=now, due=now, cbnotif=len(out) + 1))
        return out

    async def _personal_outbox(
        self, event: ChangeEvent, candidates: list[Subscription], subject_attr: str, now: float, sent: int
    ) -> list[OutboxRecord]:
        subject = subject_of(event.entity, subject_attr)
        if subject is None:
            return []
        audience = await self.guard.audience(event.tenant, event.entity.type, subject)
        out: list[OutboxRecord] = []
        for sub in candidates:
            access = audience.access(sub.owner, sub.owner_roles)  # the read rule, as for a GET
            if access is None:
                continue
            seen = _as_seen(event, access)
            if not triggers(sub, seen, now) or self._oneshot_owed(sub) or await self._throttled(sub, now):
                continue
            self._claim_oneshot(sub)
            record = OutboxRecord(
                event.tenant, sub.id, snapshot(seen), created=now, due=now, cbnotif=sent + len(out) + 1, subject=subject
            )
            out.append(record)
        return out

    async def _throttled(self, sub: Subscription, now: float) -> bool:
        """True while the subscription's throttling window is open; otherwise opens a new one.

        The window is opened in the store, conditionally, so that it holds across every process on
        the database; a window this process opened answers from memory without asking the store.
        """
        if not sub.throttling:
            return False
        if now - self._last_sent.get(sub.id, float("-inf")) < sub.throttling:
            return True
        if not await self.storage.open_throttle_window(sub.tenant, sub.id, now, sub.throttling):
            return True  # another process opened it
        self._last_sent[sub.id] = now
        return False

    def _oneshot_owed(self, sub: Subscription) -> bool:
        """True when `sub` is oneshot and another write of this process already owes its notification
        (a claim older than ONESHOT_CLAIM_SECONDS is void: that write failed without saying so)."""
        if sub.status != "oneshot":
            return False
        claimed = self._oneshot_claims.get((sub.tenant, sub.id))
        return claimed is not None and time.monotonic() - claimed < ONESHOT_CLAIM_SECONDS

    def _claim_oneshot(self, sub: Subscription) -> None:
        if sub.status == "oneshot":
            self._oneshot_claims[(sub.tenant, sub.id)] = time.monotonic()

    def wake_now(self) -> None:
        """Notifications were committed: the dispatcher looks at the outbox at once."""
        self.commit.set()
        self.wake.set()

    async def committed(self, records: list[OutboxRecord]) -> None:
        """After the write is durable: the deliverer wakes up at once (this process's dispatcher,
        or the delivery process through `signal`); then oneshot subscriptions go inactive."""
        if records:
            self.wake_now()
            if self.signal is not None:
                self.signal()
        for record in records:
            sub = self.get(record.tenant, record.subscription_id)
            if sub is not None and sub.status == "oneshot":
                sub.status = "inactive"
                await self.save(sub)
            self._oneshot_claims.pop((record.tenant, record.subscription_id), None)

    async def abandoned(self, records: list[OutboxRecord]) -> None:
        """The store refused the write (an upsert's insert of an entity that exists, a lost race):
        the oneshot notifications it would have owed are free again, and so are the throttling
        windows they opened, or the retried write would find its own window open and notify
        nothing."""
        for record in records:
            self._oneshot_claims.pop((record.tenant, record.subscription_id), None)
            if self._last_sent.get(record.subscription_id) == record.created:
                del self._last_sent[record.subscription_id]
                await self.storage.close_throttle_window(record.tenant, record.subscription_id, record.created)


def _as_seen(event: ChangeEvent, access: Access) -> ChangeEvent:
    """The change as a recipient with `access` sees it: hidden attributes never existed."""
    if access.attrs is None:
        return event
    return ChangeEvent(
        event.tenant,
        narrow(event.before, access) if event.before is not None else None,
        narrow(event.after, access) if event.after is not None else None,
        tuple(a for a in event.request_attrs if access.shows(a)),
        event.correlator,
        event.auth_token,
        event.forced,
    )
