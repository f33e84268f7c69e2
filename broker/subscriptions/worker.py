"""The delivery process: `python -m broker.subscriptions.worker -dbPath FILE ...`.

`python -m broker` starts one beside itself, so that sending notifications runs on another core
than answering requests. It shares the store: it reads the outbox the broker writes, delivers,
and writes the counters back; it follows subscription changes through the store's version number
and stops on SIGTERM (counters written back) or when the broker that started it is gone. The
serving processes wake it with a datagram right after each commit that owes notifications (wakeup).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal

from broker.logs import configure, event
from broker.observability import hooks, relay
from broker.storage.sqlite import SqliteStorage
from broker.subscriptions.dispatcher import DeliverySettings, Dispatcher
from broker.subscriptions.notifier import Notifier
from broker.subscriptions.wakeup import WakeListener, address_for

POLL_SECONDS = 0.1  # a look at the outbox without a wake-up: retries coming due, a lost datagram
PARENT_SECONDS = 0.5  # how often the worker checks that the broker that started it is still there


NICE = 10  # below the broker process: on a busy machine answering requests gets the CPU first


async def run(db_path: str, settings: DeliverySettings, parent: int) -> None:
    storage = SqliteStorage(db_path)
    await storage.start()
    notifier = Notifier(storage)
    await notifier.load()
    dispatcher = Dispatcher.from_settings(
        storage, notifier, settings, poll=POLL_SECONDS, counters_first=True, follow=True
    )
    counters = relay.DeliveryCounters()  # the broker's /statistics and /admin/metrics read them
    hooks.register(notifier, counters)
    relaying = asyncio.create_task(relay.publish(counters, relay.relay_path(db_path)))
    await dispatcher.start()
    address = address_for(db_path)
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
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m broker.subscriptions.worker")
    parser.add_argument("-dbPath", required=True)
    parser.add_argument("-notifRetryWindow", type=float, default=86400.0)
    parser.add_argument("-httpTimeout", type=int, default=5000)
    parser.add_argument("-logLevel", default="INFO")
    parser.add_argument("-parent", type=int, default=os.getppid())
    parser.add_argument("-nice", type=int, default=NICE, help="scheduling niceness added to this process")
    args = parser.parse_args()
    configure(args.logLevel)
    if args.nice:
        os.nice(args.nice)  # delivery is asynchronous: it may lag a burst, the acknowledgements may not
    settings = DeliverySettings(retry_window=args.notifRetryWindow, timeout=args.httpTimeout / 1000)
    try:
        asyncio.run(run(args.dbPath, settings, args.parent))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
