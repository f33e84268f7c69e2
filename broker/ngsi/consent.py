"""The consent domain model: a data subject's grant, as the personal-data module decides with it."""

from __future__ import annotations

from dataclasses import dataclass

OPERATIONS = ("read", "write", "statistics")


@dataclass(frozen=True)
class Consent:
    """A data subject's grant to one recipient of named attributes of named types, for a purpose."""

    id: str
    subject: str
    recipient: str
    entity_types: tuple[str, ...]
    attrs: tuple[str, ...] | None  # None: every attribute
    purpose: str
    operations: tuple[str, ...]
    created_at: float
    expires: float | None = None
    withdrawn_at: float | None = None

    def status(self, now: float) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def allows(self, operation: str, entity_type: str, now: float) -> bool:
        return self.status(now) == "active" and operation in self.operations and entity_type in self.entity_types
