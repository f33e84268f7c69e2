"""Forwarded queries and updates on the wire: every provider at once, each within `-httpTimeout`.

Orion asks providers one after the other, so one that hangs holds the whole request for its
timeout and the next; here they are asked concurrently and one that fails, times out or answers
garbage is left out (and logged, and counted in its registration's `forwardingInformation`)
while the others' answers are used. At most `-cprForwardLimit` requests leave for one client
request. A request that already went through this broker (our `Via` entry) or through
`max_hops` brokers (Orion's `; cbfwd=` marks in its correlator) is answered from local data
only, so brokers registered on each other never loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from broker.logs import event
from broker.ngsi.context import RequestContext
from broker.ngsi.model import Entity
from broker.registrations.routing import QueryTarget, UpdateTarget
from broker.registrations.wire import (
    ProviderAnswerError,
    forwarded_headers,
    hops,
    legacy_query_body,
    legacy_update_body,
    legacy_update_ok,
    parse_legacy_query_answer,
    parse_query_answer,
    parse_total,
    parse_update_failures,
    passed_through,
    provider_url,
    query_body,
    update_body,
)
from broker.storage.port import Storage, StorageUnavailable

MAX_ANSWER = 16 * 1024 * 1024  # bytes of a provider's answer read at most
LOG_PAYLOAD = 5 * 1024  # Orion's -logInfoPayloadMaxSize default


@dataclass(frozen=True)
class ForwardingSettings:
    timeout: float = 5.0  # -httpTimeout, seconds (0: none)
    limit: int = 1000  # -cprForwardLimit: forwarded requests per client request (0: no forwarding)
    max_hops: int = 3  # brokers a request may have gone through and still be forwarded
    instance: str = "area-broker"  # this broker in `Via` (the same for every process of one store)


@dataclass(frozen=True)
class QueryAnswer:
    target: QueryTarget
    entities: list[Entity]
    total: int
    ok: bool


@dataclass(frozen=True)
class UpdateAnswer:
    target: UpdateTarget
    ok: bool  # the provider answered 204
    not_found: bool = False  # it answered 404 or 422: the attributes are not there
    # when not ok: the attributes it says it did not update, per (id, type); None: all it was sent
    failed: dict[tuple[str, str | None], list[str]] | None = None


class Forwarder:
    def __init__(self, storage: Storage, settings: ForwardingSettings, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    def allowed(self, ctx: RequestContext) -> bool:
        """May this request be forwarded at all (the limit, the hop marks)?"""
        if self.settings.limit <= 0:
            return False
        return hops(ctx.correlator) < self.settings.max_hops and not passed_through(ctx.via, self.settings.instance)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = self.settings.timeout
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout if timeout > 0 else None),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    # -- queries ---------------------------------------------------------------------------
    async def query(
        self, ctx: RequestContext, targets: Sequence[QueryTarget], *, limit: int = 20, offset: int = 0
    ) -> list[QueryAnswer]:
        """Every target asked at once (the first `-cprForwardLimit`), answers in target order."""
        chosen = list(targets)[: self.settings.limit]
        if not chosen:
            return []
        event(logging.INFO, "Starting forwarding", correlator=ctx.correlator, forwards=len(chosen))
        return list(
            await asyncio.gather(*(self._query_one(ctx, t, i + 1, limit, offset) for i, t in enumerate(chosen)))
        )

    async def _query_one(
        self, ctx: RequestContext, target: QueryTarget, index: int, limit: int, offset: int
    ) -> QueryAnswer:
        legacy = target.registration.legacy_forwarding
        if legacy:  # NGSIv1: no pagination
            body = legacy_query_body([target.entity], target.attrs)
            url = provider_url(target.registration.url, "query", legacy=True)
        else:
            body = query_body([target.entity], target.attrs)
            page = f"?limit={max(limit, 0)}&offset={max(offset, 0)}&options=count"
            url = provider_url(target.registration.url, "query") + page
        status, answer, headers, error = await self._post(ctx, url, body, index)
        entities: list[Entity] = []
        total = 0
        if error is None:
            try:
                entities = parse_legacy_query_answer(answer) if legacy else parse_query_answer(answer)
                total = parse_total(headers.get("Fiware-Total-Count")) if headers and not legacy else 0
            except ProviderAnswerError as exc:
                error = str(exc)
        await self._settle(ctx, target.registration.id, url, body, status, answer, error)
        return QueryAnswer(target, entities, total, error is None)

    # -- updates ---------------------------------------------------------------------------
    async def update(self, ctx: RequestContext, targets: Sequence[UpdateTarget]) -> list[UpdateAnswer]:
        """Every target sent at once; the ones past `-cprForwardLimit` are not sent (and fail)."""
        targets = list(targets)
        chosen = targets[: self.settings.limit]
        if chosen:
            event(logging.INFO, "Starting forwarding", correlator=ctx.correlator, forwards=len(chosen))
        sent = await asyncio.gather(*(self._update_one(ctx, t, i + 1) for i, t in enumerate(chosen)))
        return list(sent) + [UpdateAnswer(t, False) for t in targets[len(chosen) :]]

    async def _update_one(self, ctx: RequestContext, target: UpdateTarget, index: int) -> UpdateAnswer:
        legacy = target.registration.legacy_forwarding
        body = legacy_update_body(target.entities) if legacy else update_body(target.entities)
        url = provider_url(target.registration.url, "update", legacy=legacy)
        status, answer, _, error = await self._post(ctx, url, body, index)
        if error is None and (status != 200 or not legacy_update_ok(answer) if legacy else status != 204):
            error = f"unexpected response from context provider: {status}"
        await self._settle(ctx, target.registration.id, url, body, status, answer, error)
        not_found = status in (404, 422)
        failed = None
        if not_found and not legacy:
            failed = parse_update_failures(answer, [(i, t, tuple(a)) for i, t, a in target.entities])
        return UpdateAnswer(target, error is None, not_found=not_found, failed=failed)

    # -- plumbing --------------------------------------------------------------------------
    async def _post(
        self, ctx: RequestContext, url: str, body: bytes, index: int
    ) -> tuple[int | None, bytes, dict[str, str] | None, str | None]:
        """(status, body, headers, error): error is None when an answer came back whole."""
        headers = forwarded_headers(
            tenant=ctx.tenant,
            service_path=ctx.service_path,
            auth_token=ctx.auth_token,
            correlator=ctx.correlator,
            index=index,
            via=ctx.via,
            instance=self.settings.instance,
        )
        try:
            # redirects are followed, as Orion's libcurl follows them
            async with self._client().post(url, data=body, headers=headers) as resp:
                answer = await resp.content.read(MAX_ANSWER + 1)
                if len(answer) > MAX_ANSWER:
                    return resp.status, b"", None, f"context provider answer over {MAX_ANSWER} bytes"
                return resp.status, answer, dict(resp.headers), None
        except TimeoutError:
            return None, b"", None, "forwarding failure for sender-thread: Timeout was reached"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return None, b"", None, f"forwarding failure for sender-thread: {exc or type(exc).__name__}"

    async def _settle(
        self,
        ctx: RequestContext,
        reg_id: str,
        url: str,
        body: bytes,
        status: int | None,
        answer: bytes,
        error: str | None,
    ) -> None:
        """Log the forward as Orion does, and count it in the registration."""
        event(
            logging.INFO,
            f"Request forwarded (regId: {reg_id})",
            correlator=ctx.correlator,
            url=url,
            request=_clip(body),
            response=_clip(answer),
            status=status,
        )
        if error is not None:
            event(logging.WARNING, "Raising alarm ForwardingError", correlator=ctx.correlator, url=url, error=error)
        try:
            await self.storage.record_forwarding(ctx.tenant, reg_id, ok=error is None, at=self.clock())
        except StorageUnavailable as exc:  # counters are best effort: the answer does not wait on the store
            event(logging.WARNING, "forwarding counters not stored", correlator=ctx.correlator, error=str(exc))


def _clip(payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace")
    return text if len(text) <= LOG_PAYLOAD else text[:LOG_PAYLOAD] + "(...)"
