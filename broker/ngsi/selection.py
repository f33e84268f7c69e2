"""Selection types: which entities a query selects, in which order, which page, and what the
personal-data policy lets one caller see. The core builds them; every storage backend compiles
them to its own query language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Entity
from broker.ngsi.query.ast import Query

if TYPE_CHECKING:  # geo imports shapely (and numpy): not needed to name a filter's type
    from broker.ngsi.geo import GeoQuery


@dataclass(frozen=True)
class EntitySelector:
    """One `entities` item of `op/query`: id or idPattern, type or typePattern (empty: any)."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: tuple[str, ...] = ()
    type_pattern: str | None = None


def subject_of(entity: Entity, subject_attr: str) -> str | None:
    """The data subject a personal entity belongs to: its subject attribute's value, if a string."""
    attr = entity.attrs.get(subject_attr)
    return attr.value if attr is not None and isinstance(attr.value, str) else None


@dataclass(frozen=True)
class Grant:
    """Personal entities of one type whose subject (`subject_of`) is one of `subjects`, and the
    attributes shown of them (None: all). `subject_attr` is the type's subject attribute as
    declared in the store (`personal_state`); a store may keep each entity's subject apart, from
    the declaration."""

    type: str
    subject_attr: str
    subjects: tuple[str, ...]
    attrs: frozenset[str] | None = None

    def shows(self, attr: str) -> bool:
        return self.attrs is None or attr in self.attrs


@dataclass(frozen=True)
class Visibility:
    """What one caller may see (the personal-data policy's constraint, ANDed into every query).

    Entities of `hidden_types` exist only where a grant shows them; an attribute a grant does not
    show behaves in filters and orderings as if the entity did not have it. Other types are open.
    """

    hidden_types: tuple[str, ...]
    grants: tuple[Grant, ...] = ()

    def shows_everywhere(self, attr: str) -> bool:
        """True when no visible entity has `attr` hidden: filters on it need no rewriting."""
        return all(g.shows(attr) for g in self.grants)


@dataclass(frozen=True)
class EntityFilter:
    """Which entities a query selects: every given condition holds (AND); empty means "any".

    `selectors` are alternatives (OR), as the `entities` list of `op/query`.
    """

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: tuple[str, ...] = ()
    type_pattern: str | None = None
    scopes: tuple[ServicePathScope, ...] = ()
    selectors: tuple[EntitySelector, ...] = ()
    q: Query | None = None
    mq: Query | None = None
    geo: GeoQuery | None = None
    visibility: Visibility | None = None
    # entities having at least one of these attributes (op/query's deprecated `attributes`)
    any_attrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderKey:
    """One `orderBy` item: `id`, `type`, `dateCreated`, `dateModified`, `geo:distance` or an attribute
    (with an optional path into its compound value)."""

    name: str
    sub: tuple[str, ...] = ()
    descending: bool = False


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
