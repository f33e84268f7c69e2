"""Compile an `EntityFilter` to a parameterised SQL condition over the `entities` table (alias e)."""

from __future__ import annotations

from typing import Any

from broker.ngsi.context import ServicePathScope
from broker.storage.port import EntityFilter


def scopes_sql(scopes: tuple[ServicePathScope, ...]) -> tuple[str, list[Any]]:
    """Service-path scopes as an index-friendly condition; '' when they select everything."""
    if not scopes or any(s.recursive and s.path == "/" for s in scopes):
        return "", []
    parts: list[str] = []
    params: list[Any] = []
    for scope in scopes:
        if scope.recursive:
            # the subtree of /a is /a itself and every path in ['/a/', '/a0'): '0' follows '/'
            parts.append("(e.service_path = ? OR (e.service_path >= ? AND e.service_path < ?))")
            params += [scope.path, scope.path + "/", scope.path + "0"]
        else:
            parts.append("e.service_path = ?")
            params.append(scope.path)
    return "(" + " OR ".join(parts) + ")", params


def filter_sql(tenant: str, flt: EntityFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) and its parameters."""
    where = ["e.tenant = ?"]
    params: list[Any] = [tenant]
    if flt.ids:
        where.append("e.id IN (%s)" % ",".join("?" * len(flt.ids)))
        params += list(flt.ids)
    if flt.id_pattern is not None:
        where.append("regexp(?, e.id)")
        params.append(flt.id_pattern)
    if flt.types:
        where.append("e.type IN (%s)" % ",".join("?" * len(flt.types)))
        params += list(flt.types)
    if flt.type_pattern is not None:
        where.append("regexp(?, e.type)")
        params.append(flt.type_pattern)
    sp, sp_params = scopes_sql(flt.scopes)
    if sp:
        where.append(sp)
        params += sp_params
    return " AND ".join(where), params
