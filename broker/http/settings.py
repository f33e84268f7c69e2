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


SETTINGS = web.AppKey("http_settings", HttpSettings)
