"""Consents and personal types as the personal-data module sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPERATIONS = ("read", "write", "statistics")
ROLES = ("resident", "service", "analyst", "operator")


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

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "recipient": self.recipient,
            "entityTypes": list(self.entity_types),
            "attrs": list(self.attrs) if self.attrs is not None else None,
            "purpose": self.purpose,
            "operations": list(self.operations),
            "createdAt": self.created_at,
            "expires": self.expires,
            "withdrawnAt": self.withdrawn_at,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Consent:
        attrs = doc.get("attrs")
        return cls(
            id=doc["id"],
            subject=doc["subject"],
            recipient=doc["recipient"],
            entity_types=tuple(doc["entityTypes"]),
            attrs=tuple(attrs) if attrs is not None else None,
            purpose=doc["purpose"],
            operations=tuple(doc["operations"]),
            created_at=doc["createdAt"],
            expires=doc.get("expires"),
            withdrawn_at=doc.get("withdrawnAt"),
        )
