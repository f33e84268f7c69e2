"""Consent <-> the document both backends keep (SQLite's `consents.doc`, MongoDB's `ab_consents.doc`)."""

from __future__ import annotations

from typing import Any

from broker.ngsi.consent import Consent


def to_doc(consent: Consent) -> dict[str, Any]:
    return {
        "id": consent.id,
        "subject": consent.subject,
        "recipient": consent.recipient,
        "entityTypes": list(consent.entity_types),
        "attrs": list(consent.attrs) if consent.attrs is not None else None,
        "purpose": consent.purpose,
        "operations": list(consent.operations),
        "createdAt": consent.created_at,
        "expires": consent.expires,
        "withdrawnAt": consent.withdrawn_at,
    }


def from_doc(doc: dict[str, Any]) -> Consent:
    attrs = doc.get("attrs")
    return Consent(
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
