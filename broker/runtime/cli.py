"""`python -m broker` (`area-broker`): read the configuration, open the store and serve
(`-workers N`: supervise N serving processes)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from broker.config import Config, load_config
from broker.logs import configure, event
from broker.runtime import worker
from broker.storage.factory import uses_mongo

# The serving stack (aiohttp, the app and everything it imports) is imported by `serve` and `run`
# only: the supervisor of `-workers N` never serves, and without it starts its children at once.


async def _exit_with(parent: int) -> None:
    """A child of `-workers N` stops, as on SIGTERM, once its supervisor is gone (even SIGKILLed)."""
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


async def serve(config: Config, *, parent: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT; `parent`: one of the processes of `-workers N` under that supervisor
    (the port is shared with SO_REUSEPORT and the supervisor runs the delivery worker)."""
    from aiohttp import web

    from broker.http.server import BrokerRunner
    from broker.runtime.app import make_app

    app = make_app(config)
    runner = BrokerRunner(  # Orion's request-line limits, any method, JSON for unreadable requests
        app,
        access_log=None,
        handle_signals=True,
        keepalive_timeout=float(config.reqTimeout) if config.reqTimeout > 0 else 75.0,
    )
    await runner.setup()
    delivery = None if uses_mongo(config) or parent is not None else worker.spawn(config)
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
        if delivery is not None:
            delivery.terminate()
        await runner.cleanup()
        if delivery is not None:
            try:
                await asyncio.to_thread(delivery.wait, 10)
            except subprocess.TimeoutExpired:
                delivery.kill()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (libuv's I/O in C: about a third less CPU per request),
    asyncio's own otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(config: Config, *, parent: int | None = None) -> None:
    """Serve in this process; exit status 0 on SIGTERM/SIGINT, 1 when it cannot start."""
    from aiohttp import web

    from broker.storage.port import StorageUnavailable

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(config, parent=parent))
    except (KeyboardInterrupt, web.GracefulExit):
        pass  # SIGINT/SIGTERM: a clean stop, exit status 0 as Orion
    except (OSError, StorageUnavailable) as exc:
        event(logging.CRITICAL, "cannot start", error=str(exc))
        sys.exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = load_config(argv)
    if config.workers > 1:
        from broker.runtime.supervisor import supervise

        configure(config.logLevel, pid=True)
        sys.exit(supervise(config, argv))
    configure(config.logLevel)
    run(config)
