"""`Fiware-Service` and `Fiware-ServicePath` rules, as Orion applies them (pure functions)."""

from __future__ import annotations

import re

from broker.ngsi.context import ALL_PATHS, ServicePathScope
from broker.ngsi.errors import bad_request

MAX_TENANT_LEN = 50
MAX_PATHS = 10
MAX_COMPONENTS = 10
MAX_COMPONENT_LEN = 50

_TENANT = re.compile(r"^[A-Za-z0-9_]*$")
_COMPONENT = re.compile(r"^[A-Za-z0-9_]+$")


def parse_tenant(header: str | None) -> str:
    """The tenant named by `Fiware-Service`, lowercased; "" (the default tenant) when absent or empty."""
    if not header:
        return ""
    if len(header) > MAX_TENANT_LEN:
        raise bad_request(f"bad length - a tenant name can be max {MAX_TENANT_LEN} characters long")
    if not _TENANT.match(header):
        raise bad_request("bad character in tenant name - only underscore and alphanumeric characters are allowed")
    return header.lower()


def _check_path(path: str) -> ServicePathScope:
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]  # Orion 4 drops one trailing slash; `/a//` keeps an empty component
    if not path.startswith("/"):
        raise bad_request("Only /absolute/ Service Paths allowed [a service path must begin with /]")
    recursive = path == "/#" or path.endswith("/#")
    body = path[:-2] if recursive else path
    if body in ("", "/"):
        return ServicePathScope("/", recursive)
    components = body[1:].split("/")
    if len(components) > MAX_COMPONENTS:
        raise bad_request("too many components in ServicePath")
    for component in components:
        if component == "":
            raise bad_request("empty component in ServicePath")
        if len(component) > MAX_COMPONENT_LEN:
            raise bad_request("component-name too long in ServicePath")
        if not _COMPONENT.match(component):
            raise bad_request("a component of ServicePath contains an illegal character")
    return ServicePathScope(body, recursive)


def parse_read_scopes(header: str | None) -> tuple[ServicePathScope, ...]:
    """Up to ten comma-separated paths, each exact or a `/#` subtree; default everything (`/#`)."""
    if header is None or header.strip() == "":
        return ALL_PATHS
    paths = [p.strip() for p in header.split(",")]
    if len(paths) > MAX_PATHS:
        raise bad_request("too many service paths - a maximum of ten service paths is allowed")
    return tuple(_check_path(p) for p in paths)


def parse_write_path(header: str | None) -> str:
    """Exactly one path, not a subtree; default `/`."""
    if header is None or header.strip() == "":
        return "/"
    paths = [p.strip() for p in header.split(",")]
    if len(paths) > 1:
        raise bad_request("more than one service path in context update request")
    scope = _check_path(paths[0])
    if scope.recursive:
        raise bad_request("service path with '#' not allowed in update")
    return scope.path
