"""The HTTP layer's settings (from the command line), kept on the application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class HttpSettings:
    max_payload: int = 1048576
    cors_origin: str = ""
    cors_max_age: int = 86400
    # tenants by Fiware-Service; off (Orion's `-multiservice` not given): the header is ignored and
    # every request is the default tenant's. On here so that the library's default is isolation; the
    # command line follows Orion (off unless `-multiservice`)
    multiservice: bool = True
    # seconds a request body may stall (no byte received) before the connection is closed: Orion's
    # `-reqTimeout`; 0 there means none, here DEFAULT_BODY_IDLE so that a stalled client cannot hold
    # a connection forever
    req_timeout: float = 0

    @property
    def body_idle_timeout(self) -> float:
        return self.req_timeout if self.req_timeout > 0 else DEFAULT_BODY_IDLE


DEFAULT_BODY_IDLE = 75.0  # aiohttp's keep-alive default, which `-reqTimeout 0` already means between requests


SETTINGS = web.AppKey("http_settings", HttpSettings)
