"""`python -m broker`: read the configuration, open the store and serve (`-workers N`: supervise N)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from aiohttp import web

from broker.config import Config, load_config
from broker.http.app import build_app
from broker.http.server import BrokerRunner
from broker.http.settings import HttpSettings
from broker.logs import configure, event
from broker.observability.recorder import ObservabilitySettings
from broker.observability.relay import relay_path
from broker.observability.statistics import StatSettings
from broker.personal.auth import AuthSettings
from broker.storage.factory import open_storage, uses_mongo
from broker.storage.port import StorageUnavailable
from broker.subscriptions.dispatcher import DeliverySettings
from broker.subscriptions.wakeup import address_for


def make_app(config: Config) -> web.Application:
    storage = open_storage(config)
    settings = HttpSettings(
        max_payload=config.inReqPayloadMaxSize,
        cors_origin=config.corsOrigin,
        cors_max_age=config.corsMaxAge,
        multiservice=config.multiservice,
        req_timeout=float(config.reqTimeout),
    )
    delivery = DeliverySettings(retry_window=float(config.notifRetryWindow), timeout=config.httpTimeout / 1000)
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
        delivery,
        deliver_here=mongo,
        shared_delivery=mongo,
        auth=auth,
        personal_min_k=config.personalMinK,
        no_cache=config.noCache,
        retry_start=mongo,  # a database server may come up after us; an SQLite file that cannot be opened will not
        wake_address=None if mongo else address_for(config.dbPath),
        observability=ObservabilitySettings(
            stats=StatSettings(
                counters=config.statCounters, timing=config.statTiming, notif_queue=config.statNotifQueue
            ),
            metrics=not config.disableMetrics,
            # on SQLite the delivery worker process sends the notifications and relays its counters
            delivery_file="" if mongo else relay_path(config.dbPath),
        ),
    )


def start_delivery_worker(config: Config) -> subprocess.Popen[bytes]:
    """The process that sends notifications (broker.subscriptions.worker), on the same store."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "broker.subscriptions.worker",
            "-dbPath",
            config.dbPath,
            "-notifRetryWindow",
            str(config.notifRetryWindow),
            "-httpTimeout",
            str(config.httpTimeout),
            "-logLevel",
            config.logLevel,
            "-parent",
            str(os.getpid()),
        ],
        stdin=subprocess.DEVNULL,
    )


async def _exit_with(parent: int) -> None:
    """A child of `-workers N` stops, as on SIGTERM, once its supervisor is gone (even SIGKILLed)."""
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


async def serve(config: Config, *, parent: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT; `parent`: one of the processes of `-workers N` under that supervisor
    (the port is shared with SO_REUSEPORT and the supervisor runs the delivery worker)."""
    app = make_app(config)
    runner = BrokerRunner(  # Orion's request-line limits, any method, JSON for unreadable requests
        app,
        access_log=None,
        handle_signals=True,
        keepalive_timeout=float(config.reqTimeout) if config.reqTimeout > 0 else 75.0,
    )
    await runner.setup()
    worker = None if uses_mongo(config) or parent is not None else start_delivery_worker(config)
    watch = None if parent is None else asyncio.create_task(_exit_with(parent))
    store = (
        {"db": config.db} if uses_mongo(config) else {"dbPath": config.dbPath}
    )  # never the URI: it may hold a password
    try:
        site = web.TCPSite(
            runner, config.localIp, config.port, reuse_address=True, reuse_port=parent is not None, backlog=1024
        )
        await site.start()
        event(logging.WARNING, "listening", port=config.port, ip=config.localIp, **store)
        await asyncio.Event().wait()
    finally:
        if watch is not None:
            watch.cancel()
        if worker is not None:
            worker.terminate()
        await runner.cleanup()
        if worker is not None:
            try:
                await asyncio.to_thread(worker.wait, 10)
            except subprocess.TimeoutExpired:
                worker.kill()


def run(config: Config, *, parent: int | None = None) -> None:
    """Serve in this process; exit status 0 on SIGTERM/SIGINT, 1 when it cannot start."""
    try:
        asyncio.run(serve(config, parent=parent))
    except (KeyboardInterrupt, web.GracefulExit):
        pass  # SIGINT/SIGTERM: a clean stop, exit status 0 as Orion
    except (OSError, StorageUnavailable) as exc:
        event(logging.CRITICAL, "cannot start", error=str(exc))
        sys.exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = load_config(argv)
    if config.workers > 1:
        from broker.supervisor import supervise

        configure(config.logLevel, pid=True)
        sys.exit(supervise(config, argv))
    configure(config.logLevel)
    run(config)
