"""What `GET /version` reports, written out as Orion writes it (its own indentation, not our JSON
renderer). `orion.version` is the Orion API level we reproduce: clients parse it as a version number."""

from __future__ import annotations

import platform
import sqlite3
import sys
import time
from typing import Any

import aiohttp
import orjson

from broker import __version__ as ORION_API_VERSION

BROKER_NAME = "area-broker"
BROKER_VERSION = "0.1.0"
RELEASE_DATE = "Tue Nov 24 00:00:00 UTC 2026"  # in the form of Orion's (`date` output)
GIT_HASH = "nogitversion"  # Orion's values when a build does not know them
COMPILE_TIME = "nodate"


def uptime(seconds: float) -> str:
    """Orion's `parsedUptime`: "D d, H h, M m, S s"."""
    s = max(0, int(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return f"{days} d, {hours} h, {minutes} m, {s} s"


def _libversions() -> list[tuple[str, str]]:
    libs = [
        ("libpython", platform.python_version()),
        ("aiohttp", aiohttp.__version__),
        ("orjson", orjson.__version__),
        ("sqlite", sqlite3.sqlite_version),
    ]
    pymongo = sys.modules.get("pymongo")
    if pymongo is not None:
        libs.append(("pymongo", pymongo.version))
    return libs


def version_fields(started_at: float, now: float | None = None) -> list[tuple[str, str]]:
    """The `orion` object's fields in Orion's order, all strings."""
    now = time.time() if now is None else now
    return [
        ("version", ORION_API_VERSION),
        ("uptime", uptime(now - started_at)),
        ("git_hash", GIT_HASH),
        ("compile_time", COMPILE_TIME),
        ("compiled_by", f"{BROKER_NAME} {BROKER_VERSION}"),
        ("compiled_in", platform.node() or "localhost"),
        ("release_date", RELEASE_DATE),
        ("machine", platform.machine() or "unknown"),
        ("doc", f"https://fiware-orion.rtfd.io/en/{ORION_API_VERSION}/"),
    ]


def _s(text: str) -> str:
    return orjson.dumps(text).decode()


def render_version(started_at: float, now: float | None = None) -> str:
    """The body of `GET /version`, byte for byte in Orion's layout (`"key" : "value"` lines under
    `"orion" : {`, then `"libversions": {` with its own indentation)."""
    lines = ["{", '"orion" : {']
    lines += [f"  {_s(k)} : {_s(v)}," for k, v in version_fields(started_at, now)]
    libs = _libversions()
    lines.append('  "libversions": {')
    lines += [f"     {_s(k)}: {_s(v)}" + ("," if i < len(libs) - 1 else "") for i, (k, v) in enumerate(libs)]
    lines += ["  }", "}", "}"]
    return "\n".join(lines) + "\n"


def version_document(started_at: float, now: float | None = None) -> dict[str, Any]:
    """The same content as a dictionary (what a client's JSON parser makes of it)."""
    return {"orion": {**dict(version_fields(started_at, now)), "libversions": dict(_libversions())}}
