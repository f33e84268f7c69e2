"""What `GET /version` reports. `orion.version` is the Orion API level we reproduce (clients parse it)."""

from __future__ import annotations

import platform
import time
from typing import Any

import aiohttp

from broker import __version__ as ORION_API_VERSION

BROKER_NAME = "area-broker"
BROKER_VERSION = "0.1.0"
RELEASE_DATE = "2026-11-24"


def _uptime(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return f"{days} d, {hours} h, {minutes} m, {s} s"


def version_document(started_at: float, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "orion": {
            "version": ORION_API_VERSION,
            "uptime": _uptime(now - started_at),
            "git_hash": "nogitversion",
            "compile_time": "nodate",
            "compiled_by": BROKER_NAME,
            "compiled_in": platform.node() or "localhost",
            "release_date": RELEASE_DATE,
            "machine": platform.machine() or "unknown",
            "doc": "https://fiware-orion.rtfd.io/en/4.7.0/",
            "libversions": {
                "python": platform.python_version(),
                "aiohttp": aiohttp.__version__,
                "sqlite": __import__("sqlite3").sqlite_version,
            },
        },
        "broker": {"name": BROKER_NAME, "version": BROKER_VERSION},
    }
