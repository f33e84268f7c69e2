"""The aiohttp application: the route table, the pipeline and the storage lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from broker.core.batch import BatchService
from broker.core.entities import EntityService
from broker.core.personal import PersonalDataService
from broker.core.registrations import RegistrationService
from broker.core.subscriptions import SubscriptionService
from broker.core.types import TypeService
from broker.http.observe import OBSERVABILITY, TRACE_LEVELS, observe
from broker.http.pipeline import AUTHENTICATOR, orion_headers, pipeline
from broker.http.routes import admin, attributes, batch, entities, meta, personal, registrations, subscriptions, types
from broker.http.services import SERVICES, Services
from broker.http.settings import SETTINGS, HttpSettings
from broker.logs import event
from broker.observability import hooks
from broker.observability.recorder import ObservabilitySettings, Recorder
from broker.observability.trace import TraceLevels
from broker.personal.auth import Authenticator, AuthSettings
from broker.storage.port import Storage, StorageUnavailable
from broker.subscriptions.dispatcher import DeliverySettings, Dispatcher
from broker.subscriptions.leases import LeasedDispatcher
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.wakeup import WakeSender

FOLLOW_SECONDS = 0.5  # how often the subscription cache checks the store's version: the propagation bound
EXPIRY_SECONDS = 1.0  # how often expired transient entities are deleted (Orion: MongoDB's TTL monitor, 60 s)
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between attempts to reach a database that is not there yet

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENTITY = "/v2/entities/{entityId}"
ATTR = ENTITY + "/attrs/{attrName}"
SUBSCRIPTION = "/v2/subscriptions/{subscriptionId}"
REGISTRATION = "/v2/registrations/{registrationId}"
PERSONAL_TYPE = "/personal/v1/types/{entityType}"
CONSENT = "/personal/v1/consents/{consentId}"
TRACE = "/log/trace/{levels}"

# (method, path, handler): the whole HTTP surface; the OpenAPI test checks it against schemas/openapi.json
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/version", meta.get_version),
    ("GET", "/v2", meta.get_entry_point),
    ("GET", "/openapi.json", meta.get_openapi),
    ("GET", "/statistics", admin.get_statistics),
    ("DELETE", "/statistics", admin.delete_statistics),
    ("GET", "/cache/statistics", admin.get_cache_statistics),
    ("DELETE", "/cache/statistics", admin.delete_cache_statistics),
    ("GET", "/admin/log", admin.get_log_level),
    ("PUT", "/admin/log", admin.put_log_level),
    ("GET", "/log/trace", admin.log_trace),
    ("PUT", "/log/trace", admin.log_trace),
    ("DELETE", "/log/trace", admin.log_trace),
    ("GET", TRACE, admin.log_trace),
    ("PUT", TRACE, admin.log_trace),
    ("DELETE", TRACE, admin.log_trace),
    ("GET", "/admin/sem", admin.get_semaphores),
    ("GET", "/admin/metrics", admin.get_metrics),
    ("DELETE", "/admin/metrics", admin.delete_metrics),
    ("GET", "/v2/entities", entities.list_entities),
    ("POST", "/v2/entities", entities.create_entity),
    ("GET", ENTITY, entities.get_entity),
    ("DELETE", ENTITY, entities.delete_entity),
    ("GET", ENTITY + "/attrs", attributes.get_attrs),
    ("POST", ENTITY + "/attrs", attributes.post_attrs),
    ("PATCH", ENTITY + "/attrs", attributes.patch_attrs),
    ("PUT", ENTITY + "/attrs", attributes.put_attrs),
    ("GET", ATTR, attributes.get_attr),
    ("PUT", ATTR, attributes.put_attr),
    ("DELETE", ATTR, attributes.delete_attr),
    ("GET", ATTR + "/value", attributes.get_value),
    ("PUT", ATTR + "/value", attributes.put_value),
    ("GET", "/v2/types", types.list_types),
    ("GET", "/v2/types/{entityType}", types.get_type),
    ("POST", "/v2/op/update", batch.batch_update),
    ("POST", "/v2/op/query", batch.batch_query),
    ("POST", "/v2/op/notify", batch.notify),
    ("GET", "/v2/subscriptions", subscriptions.list_subscriptions),
    ("POST", "/v2/subscriptions", subscriptions.create_subscription),
    ("GET", SUBSCRIPTION, subscriptions.get_subscription),
    ("PATCH", SUBSCRIPTION, subscriptions.patch_subscription),
    ("DELETE", SUBSCRIPTION, subscriptions.delete_subscription),
    ("GET", "/v2/registrations", registrations.list_registrations),
    ("POST", "/v2/registrations", registrations.create_registration),
    ("GET", REGISTRATION, registrations.get_registration),
    ("DELETE", REGISTRATION, registrations.delete_registration),
    ("GET", "/personal/v1/types", personal.list_types),
    ("GET", PERSONAL_TYPE, personal.get_type),
    ("PUT", PERSONAL_TYPE, personal.put_type),
    ("DELETE", PERSONAL_TYPE, personal.delete_type),
    ("GET", "/personal/v1/consents", personal.list_consents),
    ("POST", "/personal/v1/consents", personal.create_consent),
    ("GET", CONSENT, personal.get_consent),
    ("DELETE", CONSENT, personal.delete_consent),
    ("GET", CONSENT + "/receipt", personal.get_receipt),
    ("GET", "/personal/v1/keys", personal.get_keys),
    ("GET", "/personal/v1/access-log", personal.get_access_log),
    ("GET", "/personal/v1/access-log/verify", personal.verify_access_log),
    ("GET", "/personal/v1/me/export", personal.export_me),
    ("DELETE", "/personal/v1/me", personal.erase_me),
    ("POST", "/personal/v1/statistics", personal.statistics),
]


async def open_store(storage: Storage, *, retry: bool) -> None:
    """Start the store; with `retry`, an unreachable server is a warning and another attempt, with a
    growing pause, until it answers (a database started after the broker, a failover), never a crash loop."""
    pause, attempt = RETRY_FIRST, 1
    while True:
        try:
            await storage.start()
            if attempt > 1:
                event(logging.WARNING, "database reached", attempt=attempt)
            return
        except StorageUnavailable as exc:
            if not retry:
                raise
            event(logging.WARNING, "database unreachable, retrying", error=str(exc), attempt=attempt, retryIn=pause)
        await asyncio.sleep(pause)
        pause, attempt = min(pause * 2, RETRY_MAX), attempt + 1


def build_app(
    storage: Storage,
    settings: HttpSettings | None = None,
    delivery: DeliverySettings | None = None,
    *,
    deliver_here: bool = True,
    shared_delivery: bool = False,
    auth: AuthSettings | None = None,
    personal_min_k: int = 10,
    retry_start: bool = False,
    no_cache: bool = False,
    wake_address: str | None = None,
    observability: ObservabilitySettings | None = None,
) -> web.Application:
    """The application; `deliver_here=False` when a delivery worker process sends the notifications,
    `shared_delivery=True` when other processes (other machines) deliver from the same store too:
    subscriptions are then drained under a lease and their counters read from the store;
    `retry_start=True`: a database server that cannot be reached at start is waited for;
    `no_cache=True` (`-noCache`): the subscription cache is checked against the store on every use;
    `wake_address`: the delivery process's wake-up address, signalled after each commit that owes
    notifications (subscriptions/wakeup.py); `observability`: the `-stat*` and `-disableMetrics` flags."""
    app = web.Application(middlewares=[observe, pipeline], client_max_size=64 * 1024 * 1024)
    app[SETTINGS] = settings or HttpSettings()
    app[OBSERVABILITY] = Recorder(observability, multiservice=app[SETTINGS].multiservice)
    app[TRACE_LEVELS] = TraceLevels()
    app[AUTHENTICATOR] = Authenticator(auth)
    delivery = delivery or DeliverySettings()
    notifier = Notifier(storage, no_cache=no_cache)
    hooks.register(notifier, app[OBSERVABILITY])  # notification attempts delivered by this process
    dispatcher = (LeasedDispatcher if shared_delivery else Dispatcher).from_settings(storage, notifier, delivery)
    waker = WakeSender(wake_address) if wake_address is not None and not deliver_here else None
    if waker is not None:
        notifier.signal = waker.send
    entity_service = EntityService(storage, changes=notifier, guard=notifier.guard)
    app[SERVICES] = Services(
        entities=entity_service,
        types=TypeService(storage, notifier.guard),
        batch=BatchService(entity_service),
        subscriptions=SubscriptionService(
            notifier,
            counters_in_store=not deliver_here or shared_delivery,
            owned=app[AUTHENTICATOR].settings.configured,
        ),
        registrations=RegistrationService(storage),
        personal=PersonalDataService(entity_service, min_k=personal_min_k),
        started_at=time.time(),
    )
    by_path: dict[str, list[tuple[str, Handler]]] = {}
    for method, path, handler in ROUTES:
        by_path.setdefault(path, []).append((method, handler))
    for path, methods in by_path.items():
        # OPTIONS is answered by the pipeline (CORS preflight, or 405 when CORS is off);
        # Orion answers collection and item paths with one trailing slash too
        for variant in (path, path + "/"):
            resource = app.router.add_resource(variant)
            for method, handler in methods:
                resource.add_route(method, handler)
            resource.add_route("OPTIONS", meta.options_placeholder)
    app.on_response_prepare.append(orion_headers)

    async def follow_other_processes() -> None:
        """Subscriptions changed by other processes (created, changed, deleted, or made inactive by
        `maxFailsLimit` or `oneshot`) reach the cache within FOLLOW_SECONDS."""
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            try:
                await notifier.refresh()
            except Exception as exc:  # the store is busy or down: try again later
                event(logging.WARNING, "subscription refresh failed", error=repr(exc))

    async def expire_entities() -> None:
        """Transient entities go once their `dateExpires` has passed (every process sweeps; the
        deletes are idempotent)."""
        while True:
            await asyncio.sleep(EXPIRY_SECONDS)
            try:
                await storage.delete_expired(time.time())
            except Exception as exc:  # the store is busy or down: try again later
                event(logging.WARNING, "expiry sweep failed", error=repr(exc))

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
        await open_store(storage, retry=retry_start)
        await notifier.load()
        sweeper = asyncio.create_task(expire_entities())
        follower = None
        if deliver_here:
            await dispatcher.start()
        if not deliver_here or shared_delivery:
            follower = asyncio.create_task(follow_other_processes())
        yield
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        if deliver_here:
            await dispatcher.close()
        if waker is not None:
            waker.close()
        await storage.close()

    app.cleanup_ctx.append(lifecycle)
    return app
