"""The domain model: entities, attributes and metadata as the core sees them.

DateTime values (attribute or metadata type `DateTime`/`ISO8601`) are held as float epoch
seconds, as Orion stores them, and turned back into ISO 8601 only when rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATETIME_TYPES = frozenset({"DateTime", "ISO8601"})
DEFAULT_ENTITY_TYPE = "Thing"


@dataclass
class Metadata:
    type: str
    value: Any


@dataclass
class Attribute:
    type: str
    value: Any
    metadata: dict[str, Metadata] = field(default_factory=dict)
    cre_date: float = 0.0
    mod_date: float = 0.0

    @property
    def is_datetime(self) -> bool:
        return self.type in DATETIME_TYPES


@dataclass
class Entity:
    id: str
    type: str
    service_path: str = "/"
    attrs: dict[str, Attribute] = field(default_factory=dict)
    cre_date: float = 0.0
    mod_date: float = 0.0
    version: int = 0  # optimistic-concurrency token owned by the storage backend
    location: Location | None = None  # set by the core on every write, indexed by the store
    # the Fiware-Correlator of the request that wrote it (Orion's `lastCorrelator`), set by the core
    correlator: str | None = field(default=None, compare=False)

    @property
    def key(self) -> EntityKey:
        return EntityKey(self.id, self.type, self.service_path)


@dataclass(frozen=True)
class Location:
    """The entity's one location: which attribute, and its geometry as GeoJSON (longitude first)."""

    attr: str
    geometry: dict[str, Any]


@dataclass(frozen=True)
class EntityKey:
    id: str
    type: str
    service_path: str


# a transient entity's expiry (a DateTime attribute the client writes): the entity is deleted
# then; it is shown only when asked for by name, as a built-in
EXPIRY_ATTR = "dateExpires"


def default_type(value: Any) -> str:
    """Orion's type for an attribute or metadata given without one."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, str):
        return "Text"
    if value is None:
        return "None"
    return "StructuredValue"
