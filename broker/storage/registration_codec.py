"""Registration <-> the document SQLite keeps in its `registrations` table.

A document written before a field existed reads with its default (no owner, counters at zero).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from broker.ngsi.registration import ProvidedEntity, Registration


def to_doc(reg: Registration) -> dict[str, Any]:
    """Every field by its name; the forwarding counters too (SQLite then bumps them in place)."""
    doc = dataclasses.asdict(reg)
    doc["entities"] = [dataclasses.asdict(e) for e in reg.entities]
    doc["attrs"] = list(reg.attrs)
    doc["owner_roles"] = list(reg.owner_roles)
    return doc


def _epoch(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def from_doc(doc: dict[str, Any]) -> Registration:
    return Registration(
        id=doc["id"],
        tenant=doc.get("tenant", ""),
        service_path=doc.get("service_path") or "/",
        entities=tuple(ProvidedEntity(**e) for e in doc.get("entities") or ()),
        attrs=tuple(doc.get("attrs") or ()),
        url=doc.get("url", ""),
        forwarding_mode=doc.get("forwarding_mode") or "all",
        legacy_forwarding=bool(doc.get("legacy_forwarding")),
        description=doc.get("description"),
        expires=doc.get("expires"),
        status=doc.get("status"),
        owner=doc.get("owner"),
        owner_roles=tuple(doc.get("owner_roles") or ()),
        times_sent=int(doc.get("times_sent") or 0),
        last_forwarding=_epoch(doc.get("last_forwarding")),
        last_success=_epoch(doc.get("last_success")),
        last_failure=_epoch(doc.get("last_failure")),
    )
