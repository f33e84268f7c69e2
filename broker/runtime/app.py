"""A serving process's application: the engine built over a store, behind its HTTP front."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import AsyncIterator
from typing import cast

from aiohttp import web

from broker.config import Config
from broker.http.app import create_app
from broker.http.observe import OBSERVABILITY
from broker.http.settings import HttpSettings
from broker.observability import hooks
from broker.observability.recorder import ObservabilitySettings
from broker.observability.relay import relay_path
from broker.observability.statistics import StatSettings
from broker.observability.timing import TimedStorage
from broker.personal.auth import AuthSettings
from broker.registrations.forwarder import ForwardingSettings
from broker.runtime.engine import build_engine
from broker.storage.factory import open_storage, uses_mongo
from broker.storage.port import Storage
from broker.subscriptions.dispatcher import DeliverySettings
from broker.subscriptions.wakeup import address_for


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
    forwarding: ForwardingSettings | None = None,
) -> web.Application:
    """The application over `storage`, which it starts and stops with itself.

    `deliver_here=False` when a delivery worker process sends the notifications,
    `shared_delivery=True` when other processes (other machines) deliver from the same store too:
    subscriptions are then drained under a lease and their counters read from the store;
    `retry_start=True`: a database server that cannot be reached at start is waited for;
    `no_cache=True` (`-noCache`): the subscription cache is checked against the store on every use;
    `wake_address`: the delivery process's wake-up address, signalled after each commit that owes
    notifications (subscriptions/wakeup.py); `observability`: the `-stat*` and `-disableMetrics` flags."""
    auth = auth or AuthSettings()
    if observability is not None and observability.stats.timing:
        storage = cast(Storage, TimedStorage(storage))  # -statTiming: the store's time per request
    engine = build_engine(
        storage,
        delivery,
        deliver_here=deliver_here,
        shared_delivery=shared_delivery,
        owned_subscriptions=auth.configured,
        personal_min_k=personal_min_k,
        retry_start=retry_start,
        no_cache=no_cache,
        wake_address=wake_address,
        forwarding=forwarding,
    )
    app = create_app(engine.services, settings, auth=auth, observability=observability)
    hooks.register(engine.notifier, app[OBSERVABILITY])  # notification attempts delivered by this process

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with engine.running():
            settle_heap()
            yield

    app.cleanup_ctx.append(lifecycle)
    return app


def settle_heap() -> None:
    """Move everything built at start-up (modules, the engine, caches) out of the garbage collector's
    view: its full collections then walk only what requests allocate, not the whole application.
    Measured with `benchmarks.http_load` (16 connections, 10k entities, four A/B rounds): `q` list
    p99 56-65 ms -> 22-30 ms, CPU per list -5 to -10%; gets unchanged within the noise."""
    gc.collect()
    gc.freeze()


def make_app(config: Config) -> web.Application:
    """The application the configuration describes (flags and environment)."""
    storage = open_storage(config)
    settings = HttpSettings(
        max_payload=config.inReqPayloadMaxSize,
        cors_origin=config.corsOrigin,
        cors_max_age=config.corsMaxAge,
        multiservice=config.multiservice,
        req_timeout=float(config.reqTimeout),
    )
    auth = AuthSettings(
        secret=config.authSecret,
        jwks_url=config.authJwksUrl,
        issuer=config.authIssuer,
        audience=config.authAudience,
        required=config.authRequired,
        max_lifetime=config.authMaxLifetime,
    )
    # the delivery worker process opens the SQLite file only: on MongoDB this process delivers, under
    # leases, since brokers on other machines may deliver from the same database too
    mongo = uses_mongo(config)
    return build_app(
        storage,
        settings,
        delivery_settings(config),
        deliver_here=mongo,
        shared_delivery=mongo,
        auth=auth,
        personal_min_k=config.personalMinK,
        no_cache=config.noCache,
        retry_start=mongo,  # a database server may come up after us; an SQLite file that cannot be opened will not
        wake_address=None if mongo else address_for(config.dbPath),
        observability=ObservabilitySettings(
            stats=StatSettings(
                counters=config.statCounters,
                timing=config.statTiming,
                notif_queue=config.statNotifQueue,
                sem_wait=config.statSemWait,
            ),
            metrics=not config.disableMetrics,
            # on SQLite the delivery worker process sends the notifications and relays its counters
            delivery_file="" if mongo else relay_path(config.dbPath),
        ),
        forwarding=forwarding_settings(config),
    )


def forwarding_settings(config: Config) -> ForwardingSettings:
    """`-httpTimeout`, `-cprForwardLimit`, and the name this broker gives itself in `Via`: the same
    for every process of one store (a digest of where the store is), so a request that comes back
    through another broker is recognised by any of them."""
    where = f"{config.dbURI}/{config.db}" if uses_mongo(config) else os.path.abspath(config.dbPath)
    name = "area-broker-" + hashlib.sha256(where.encode()).hexdigest()[:12]
    return ForwardingSettings(timeout=config.httpTimeout / 1000, limit=config.cprForwardLimit, instance=name)


def delivery_settings(config: Config) -> DeliverySettings:
    """`-notifRetryWindow`, `-httpTimeout`, `-insecureNotif` and `-disableCustomNotifications`, as
    the dispatcher takes them."""
    return DeliverySettings(
        retry_window=float(config.notifRetryWindow),
        timeout=config.httpTimeout / 1000,
        insecure=config.insecureNotif,
        custom=not config.disableCustomNotifications,
    )
