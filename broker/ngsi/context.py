"""What every core call receives: tenant, service paths, correlator and principal.

Nothing below the HTTP layer reads headers; it reads a `RequestContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServicePathScope:
    """One entry of a read scope: `/a/b` (exactly) or `/a/b/#` (the subtree, itself included)."""

    path: str
    recursive: bool = False

    def contains(self, service_path: str) -> bool:
        if not self.recursive:
            return service_path == self.path
        if self.path == "/":
            return True
        return service_path == self.path or service_path.startswith(self.path + "/")


ALL_PATHS = (ServicePathScope("/", recursive=True),)


@dataclass(frozen=True)
class RequestContext:
    tenant: str = ""  # "" is the default tenant
    scopes: tuple[ServicePathScope, ...] = ALL_PATHS  # where reads look
    write_path: str = "/"  # where a create puts the entity
    correlator: str = ""
    principal: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    auth_token: str = ""  # X-Auth-Token, passed on to notifications as Orion does
    forced_update: bool = False  # `options=forcedUpdate`: a write notifies even when nothing changed
    service_path: str = ""  # Fiware-ServicePath as sent (passed on to context providers)
    via: str = ""  # the request's `Via` header: the brokers it was forwarded through
    skip_forwarding: bool = False  # `options=skipForwarding`: local data only
