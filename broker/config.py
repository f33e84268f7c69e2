"""Configuration: Orion-style single-dash flags, each also read from its `ORION_*` variable.

A flag on the command line wins over the environment, which wins over the default.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Config:
    port: int = 1026
    localIp: str = "0.0.0.0"
    logLevel: str = "INFO"
    multiservice: bool = False
    corsOrigin: str = ""
    corsMaxAge: int = 86400
    inReqPayloadMaxSize: int = 1048576
    reqTimeout: int = 0
    dbPath: str = "./data/broker.db"
    dbURI: str = ""
    db: str = "orion"
    writeConcern: int = 1
    dbPoolSize: int = 10
    dbTimeout: int = 10000
    httpTimeout: int = 5000
    cprForwardLimit: int = 1000
    insecureNotif: bool = False
    disableCustomNotifications: bool = False
    notificationMode: str = "transient"
    notifRetryWindow: int = 86400
    authSecret: str = ""
    authJwksUrl: str = ""
    authIssuer: str = ""
    authAudience: str = ""
    authRequired: bool = False
    authMaxLifetime: int = 86400
    personalMinK: int = 10
    workers: int = 1
    noCache: bool = False
    statCounters: bool = False
    statTiming: bool = False
    statNotifQueue: bool = False
    statSemWait: bool = False
    disableMetrics: bool = False


# Orion's -notificationMode values (threadpool with its queue size and number of workers)
NOTIFICATION_MODE = re.compile(r"transient|persistent|threadpool(:[1-9][0-9]*:[1-9][0-9]*)?")

# flag -> (environment variable, help)
FLAGS: dict[str, tuple[str, str]] = {
    "port": ("ORION_PORT", "port to listen on (default 1026)"),
    "localIp": ("ORION_LOCALIP", "IP address to listen on (default 0.0.0.0, all interfaces)"),
    "logLevel": ("ORION_LOG_LEVEL", "NONE, FATAL, ERROR, WARN, INFO (default: one line per request) or DEBUG"),
    "multiservice": (
        "ORION_MULTI_SERVICE",
        "tenants by Fiware-Service (database orion-<service> on MongoDB); without it the header is ignored, as in Orion",
    ),
    "corsOrigin": (
        "ORION_CORS_ALLOWED_ORIGIN",
        "enable CORS for this origin; __ALL for any origin (default: CORS off)",
    ),
    "corsMaxAge": ("ORION_CORS_MAX_AGE", "Access-Control-Max-Age of preflight answers, seconds (default 86400)"),
    "inReqPayloadMaxSize": ("ORION_IN_REQ_PAYLOAD_MAX_SIZE", "largest request body in bytes (default 1048576)"),
    "reqTimeout": ("ORION_REQ_TIMEOUT", "seconds an idle client connection is kept open; 0 for the default"),
    "dbPath": ("ORION_DB_PATH", "file of the embedded SQLite store (default ./data/broker.db)"),
    "dbURI": ("ORION_MONGO_URI", "MongoDB connection URI; given, MongoDB is the store instead of SQLite"),
    "db": ("ORION_MONGO_DB", "MongoDB database, and prefix of the per-tenant databases (default orion)"),
    "writeConcern": (
        "ORION_MONGO_WRITE_CONCERN",
        "1 acknowledged (default) or 0 unacknowledged MongoDB writes (0: notification bookkeeping only)",
    ),
    "dbPoolSize": ("ORION_MONGO_POOL_SIZE", "MongoDB connection pool size (default 10)"),
    "dbTimeout": (
        "ORION_MONGO_TIMEOUT",
        "MongoDB connect, server selection, socket and pool wait timeout, ms (default 10000)",
    ),
    "httpTimeout": (
        "ORION_HTTP_TIMEOUT",
        "timeout of a notification or of a request forwarded to a context provider, milliseconds (default 5000)",
    ),
    "cprForwardLimit": (
        "ORION_CPR_FORWARD_LIMIT",
        "requests forwarded to context providers for one client request at most (default 1000; 0: no forwarding)",
    ),
    "insecureNotif": (
        "ORION_INSECURE_NOTIF",
        "send HTTPS notifications to peers whose certificate cannot be verified (self-signed), as Orion's flag",
    ),
    "disableCustomNotifications": (
        "ORION_DISABLE_CUSTOM_NOTIF",
        "httpCustom and mqttCustom are sent as http and mqtt: only their url (and topic) count, no ${...}",
    ),
    "notificationMode": (
        "ORION_NOTIF_MODE",
        "Orion's transient, persistent or threadpool:q:n; accepted for compatibility, every mode here is "
        "the durable outbox",
    ),
    "notifRetryWindow": (
        "ORION_NOTIF_RETRY_WINDOW",
        "seconds a failed notification is retried before it counts as lost (default 86400)",
    ),
    "authSecret": ("BROKER_AUTH_SECRET", "verify HS256 bearer tokens with this shared secret (development)"),
    "authJwksUrl": ("BROKER_AUTH_JWKS_URL", "verify RS256/ES256 bearer tokens with this OpenID Connect JWKS URL"),
    "authIssuer": ("BROKER_AUTH_ISSUER", "the `iss` bearer tokens must carry"),
    "authAudience": ("BROKER_AUTH_AUDIENCE", "the `aud` bearer tokens must carry"),
    "authRequired": ("BROKER_AUTH_REQUIRED", "every NGSI request needs a valid token, not only personal data"),
    "authMaxLifetime": (
        "BROKER_AUTH_MAX_LIFETIME",
        "longest lifetime of a bearer token (exp - iat), seconds; 0 for no bound (default 86400)",
    ),
    "personalMinK": (
        "BROKER_PERSONAL_MIN_K",
        "statistics cells with fewer distinct subjects are suppressed (default 10)",
    ),
    "workers": (
        "BROKER_WORKERS",
        "serving processes sharing the port (SO_REUSEPORT) on one store, under a supervisor (default 1: one process)",
    ),
    "noCache": (
        "ORION_NO_CACHE",
        "check the store for changed subscriptions before every write and subscription read, not only every 0.5 s",
    ),
    "statCounters": ("ORION_STAT_COUNTERS", "GET /statistics shows request counters by URL and verb"),
    "statTiming": ("ORION_STAT_TIMING", "GET /statistics shows request timing (accumulated and last)"),
    "statNotifQueue": ("ORION_STAT_NOTIF_QUEUE", "GET /statistics shows the notification counters (notifQueue)"),
    "statSemWait": ("ORION_STAT_SEM_WAIT", "GET /statistics shows the time spent waiting for locks (semWait)"),
    "disableMetrics": ("ORION_DISABLE_METRICS", "no metrics are gathered; /admin/metrics answers 400"),
}


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m broker",
        description="Orion-compatible NGSI-v2 context broker. Every flag also reads the environment "
        "variable named after it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for f in fields(Config):
        env, text = FLAGS[f.name]
        help_text = f"{text} [env {env}]"
        if f.type in (bool, "bool"):
            parser.add_argument(f"-{f.name}", dest=f.name, action="store_true", default=None, help=help_text)
        else:
            kind = int if f.type in (int, "int") else str
            parser.add_argument(f"-{f.name}", dest=f.name, type=kind, default=None, metavar="", help=help_text)
    return parser


def load_config(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ) if environ is None else environ
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for f in fields(Config):
        given = getattr(args, f.name)
        if given is not None:
            values[f.name] = given
            continue
        env = FLAGS[f.name][0]
        if env in environ and environ[env] != "":
            raw = environ[env]
            if f.type in (bool, "bool"):
                values[f.name] = _truthy(raw)
            elif f.type in (int, "int"):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SystemExit(f"{env} must be an integer, got {raw!r}") from None
            else:
                values[f.name] = raw
    config = Config(**values)
    if config.writeConcern not in (0, 1):
        raise SystemExit(f"writeConcern must be 0 or 1, got {config.writeConcern}")
    if config.dbPoolSize < 1:
        raise SystemExit(f"dbPoolSize must be at least 1, got {config.dbPoolSize}")
    if not NOTIFICATION_MODE.fullmatch(config.notificationMode):
        raise SystemExit(f"invalid value for notificationMode: {config.notificationMode!r}")
    if config.workers < 1:
        raise SystemExit(f"workers must be at least 1, got {config.workers}")
    return config
