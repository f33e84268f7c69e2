"""Registrations <-> documents in Orion's `registrations` layout (mongoRegistrationCreate.cpp, Registration::fromBson).

`_id` ObjectId, `description` (when set), `expiration` (Long max: permanent), `servicePath`,
`contextRegistration: [{entities: [{id, type} | {id: ".*", isPattern: true, type}], attrs: [{name,
type: ""}], providingApplication}]`, `status` (when given), `fwdMode`, `format` ("JSON": legacy
forwarding). Every field of our model has an Orion field, so documents Orion wrote and ours read the
same way; `_ab_seq` (ours) keeps the creation order.
"""

from __future__ import annotations

from typing import Any

from bson import Int64

from broker.ngsi.registration import ProvidedEntity, Registration
from broker.storage.mongo.csubs import LONG_MAX


def to_orion(reg: Registration) -> dict[str, Any]:
    """The fields of a `registrations` document, `_id` and `_ab_seq` aside, in Orion's order."""
    entities = []
    for e in reg.entities:
        item: dict[str, Any] = {"id": e.id} if e.id is not None else {"id": ".*", "isPattern": True}
        if e.type:
            item["type"] = e.type
        entities.append(item)
    out: dict[str, Any] = {}
    if reg.description:
        out["description"] = reg.description
    out["expiration"] = Int64(reg.expires) if reg.expires is not None else Int64(LONG_MAX)  # NumberLong
    out["servicePath"] = reg.service_path or "/"
    out["contextRegistration"] = [
        {
            "entities": entities,
            "attrs": [{"name": name, "type": ""} for name in reg.attrs],
            "providingApplication": reg.url,
        }
    ]
    if reg.status is not None:
        out["status"] = reg.status
    out["fwdMode"] = reg.forwarding_mode or "all"
    out["format"] = "JSON" if reg.legacy_forwarding else "normalized"
    return out


def from_orion(stored: dict[str, Any], tenant: str) -> Registration:
    """The registration of a stored document, with Orion's defaults for what is missing."""
    (registration,) = stored.get("contextRegistration") or [{}]  # Orion too refuses more than one (NGSIv1 layout)
    entities = []
    for e in registration.get("entities") or ():
        pattern = e.get("isPattern") in (True, "true")  # a string up to Orion 4.2, a boolean since 4.3
        entities.append(
            ProvidedEntity(
                id=None if pattern else e.get("id"),
                id_pattern=e.get("id") if pattern else None,
                type=e.get("type") or None,
            )
        )
    expiration = stored.get("expiration")
    return Registration(
        id=str(stored["_id"]),
        tenant=tenant,
        service_path=stored.get("servicePath") or "/",
        entities=tuple(entities),
        attrs=tuple(a["name"] for a in registration.get("attrs") or () if isinstance(a, dict) and a.get("name")),
        url=registration.get("providingApplication", ""),
        forwarding_mode=stored.get("fwdMode") or "all",
        legacy_forwarding=stored.get("format", "JSON") == "JSON",
        description=stored.get("description") or None,
        expires=float(expiration) if isinstance(expiration, (int, float)) and 0 <= expiration < LONG_MAX else None,
        status=stored.get("status") or None,
    )
