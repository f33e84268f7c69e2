"""Registration <-> the document SQLite keeps in its `registrations` table."""

from __future__ import annotations

import dataclasses
from typing import Any

from broker.ngsi.registration import ProvidedEntity, Registration


def to_doc(reg: Registration) -> dict[str, Any]:
    doc = dataclasses.asdict(reg)
    doc["entities"] = [dataclasses.asdict(e) for e in reg.entities]
    doc["attrs"] = list(reg.attrs)
    return doc


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
    )
