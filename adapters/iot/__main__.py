"""`python -m adapters.iot`: run the agent until SIGINT/SIGTERM, then hand every queued update to the broker."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from adapters.iot.agent import Agent
from adapters.iot.config import load_config


async def _main() -> None:
    config = load_config()
    logging.basicConfig(
        level=config.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    agent = Agent(config)
    await agent.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await agent.close()


if __name__ == "__main__":
    asyncio.run(_main())
