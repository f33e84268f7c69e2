"""The delivery process: `python -m broker.runtime.worker -parent PID [-nice N] BROKER-FLAGS...`.

`python -m broker` on SQLite starts one beside itself (`spawn`), so that sending notifications
runs on another core than answering requests. It opens the same store through the same factory
as the broker (the broker's flags and environment: `-dbPath`, or `-dbURI` and `-db`): it reads the
outbox the broker writes, delivers, and writes the counters back; it follows subscription changes
through the store's version number and stops on SIGTERM (counters written back) or when the
broker that started it is gone. On SQLite the serving processes wake it with a datagram right
after each commit that owes notifications (wakeup) and it relays its counters to them through a
file beside the database; on MongoDB, where serving processes deliver too, it drains under leases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from broker.config import FLAGS, Config, load_config
from broker.logs import configure, event
from broker.storage.factory import uses_mongo

if TYPE_CHECKING:
    from broker.subscriptions.dispatcher import DeliverySettings

# `spawn` is all the supervisor of `-workers N` needs of this module: what the delivery process runs
# is imported by `run` and `main`, so that the supervisor starts its children without importing it

POLL_SECONDS = 0.1  # a look at the outbox without a wake-up: retries coming due, a lost datagram
PARENT_SECONDS = 0.5  # how often the worker checks that the broker that started it is still there


NICE = 10  # below the broker process: on a busy machine answering requests gets the CPU first


def spawn(config: Config) -> subprocess.Popen[bytes]:
    """Start the delivery process on the store `config` names, as a child of this process (a MongoDB
    URI goes through the environment, never the command line: it may hold a password)."""
    env = dict(os.environ)
    if uses_mongo(config):
        store = ["-db", config.db]
        env[FLAGS["dbURI"][0]] = config.dbURI
    else:
        store = ["-dbPath", config.dbPath]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "broker.runtime.worker",
            "-parent",
            str(os.getpid()),
            *store,
            "-notifRetryWindow",
            str(config.notifRetryWindow),
            "-httpTimeout",
            str(config.httpTimeout),
            "-logLevel",
            config.logLevel,
            *(["-insecureNotif"] if config.insecureNotif else []),
            *(["-disableCustomNotifications"] if config.disableCustomNotifications else []),
        ],
        stdin=subprocess.DEVNULL,
        env=env,
    )


async def run(config: Config, settings: DeliverySettings, parent: int) -> None:
    """Deliver from the configured store until SIGTERM or until process `parent` is gone."""
    from broker.observability import hooks, relay
    from broker.personal.guard import PersonalGuard
    from broker.runtime.engine import open_store
    from broker.storage.factory import open_storage
    from broker.subscriptions.dispatcher import Dispatcher
    from broker.subscriptions.leases import LeasedDispatcher
    from broker.subscriptions.notifier import Notifier
    from broker.subscriptions.wakeup import WakeListener, address_for

    mongo = uses_mongo(config)
    storage = open_storage(config)
    await open_store(storage, retry=mongo)
    notifier = Notifier(storage, PersonalGuard(storage))  # the consent re-check's one guard
    await notifier.load()
    dispatcher = (LeasedDispatcher if mongo else Dispatcher).from_settings(
        storage, notifier, settings, poll=POLL_SECONDS, counters_first=True, follow=True
    )
    counters = relay.DeliveryCounters()  # the broker's /statistics and /admin/metrics read them
    hooks.register(notifier, counters)
    relaying = None if mongo else asyncio.create_task(relay.publish(counters, relay.relay_path(config.dbPath)))
    await dispatcher.start()
    address = None if mongo else address_for(config.dbPath)
    listener = WakeListener(address, notifier.wake_now) if address is not None else None
    if listener is not None:
        listener.start()
    event(logging.INFO, "delivery worker started", pid=os.getpid())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while os.getppid() == parent and not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PARENT_SECONDS)
    finally:
        if listener is not None:
            listener.close()
        await dispatcher.close()
        if relaying is not None:
            relaying.cancel()
            await asyncio.gather(relaying, return_exceptions=True)
        await storage.close()


def main(argv: Sequence[str] | None = None) -> None:
    # its own two flags; the rest are the broker's (no abbreviations: `-httpTimeout` is not `-h`)
    parser = argparse.ArgumentParser(prog="python -m broker.runtime.worker", add_help=False, allow_abbrev=False)
    parser.add_argument("-parent", type=int, default=os.getppid())
    parser.add_argument("-nice", type=int, default=NICE, help="scheduling niceness added to this process")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    config = load_config(rest)
    configure(config.logLevel)
    if args.nice:
        os.nice(args.nice)  # delivery is asynchronous: it may lag a burst, the acknowledgements may not
    from broker.subscriptions.dispatcher import DeliverySettings

    settings = DeliverySettings(
        retry_window=float(config.notifRetryWindow),
        timeout=config.httpTimeout / 1000,
        insecure=config.insecureNotif,
        custom=not config.disableCustomNotifications,
    )
    try:
        asyncio.run(run(config, settings, args.parent))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
