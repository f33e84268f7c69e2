"""The storage port: what the NGSI core asks of any backend, in NGSI terms (no SQL, no BSON).

Writes are conditional: `replace_entity` and `delete_entity` succeed only if the stored version
is still the one the caller read, so the core can do read-modify-write without locks and retry
on a conflict. `insert_entity` fails (returns False) when the key is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Entity


@dataclass(frozen=True)
class EntityFilter:
    """Which entities a query selects. Empty tuples mean "any"."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: tuple[str, ...] = ()
    type_pattern: str | None = None
    scopes: tuple[ServicePathScope, ...] = ()


@dataclass
class TypeSummary:
    """One entity type as `/v2/types` reports it."""

    type: str
    count: int
    attrs: dict[str, set[str]] = field(default_factory=dict)  # attribute name -> attribute types


@dataclass(frozen=True)
class Page:
    limit: int = 20
    offset: int = 0


class StorageUnavailable(Exception):
    """The database cannot be reached or failed; the core answers 500 and changes nothing."""


class Storage(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def query_entities(
        self, tenant: str, flt: EntityFilter, page: Page, *, count: bool = False
    ) -> tuple[list[Entity], int | None]:
        """Entities matching `flt` in creation order, one page of them, and the total if asked."""
        ...

    async def insert_entity(self, tenant: str, entity: Entity) -> bool:
        """Store a new entity; False when one with the same id, type and service path exists."""
        ...

    async def replace_entity(self, tenant: str, entity: Entity) -> bool:
        """Overwrite the stored entity whose version is `entity.version`; False on a conflict."""
        ...

    async def delete_entity(self, tenant: str, entity: Entity) -> bool:
        """Delete the stored entity whose version is `entity.version`; False on a conflict."""
        ...

    async def list_types(
        self, tenant: str, scopes: tuple[ServicePathScope, ...], page: Page, *, details: bool = True
    ) -> tuple[list[TypeSummary], int]:
        """Entity types in name order, one page of them, and how many types there are."""
        ...

    async def get_type(
        self, tenant: str, type_name: str, scopes: tuple[ServicePathScope, ...]
    ) -> TypeSummary | None: ...
