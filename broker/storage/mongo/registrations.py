"""Registration documents in Orion's `registrations` layout (mongoRegistrationCreate.cpp, Registration::fromBson).

`_id` ObjectId, `description` (when set), `expiration` (Long max: permanent), `servicePath`,
`contextRegistration: [{entities: [{id, type} | {id: ".*", isPattern: true, type}], attrs: [{name,
type: ""}], providingApplication}]`, `status` (when given), `fwdMode`, `format` ("JSON": legacy
forwarding). Every field of our model has an Orion field, so documents Orion wrote and ours read the
same way; `_ab_seq` (ours) keeps the creation order.
"""

from __future__ import annotations

from typing import Any

from bson import Int64

from broker.storage.mongo.csubs import LONG_MAX


def to_orion(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields of a `registrations` document, `_id` and `_ab_seq` aside, in Orion's order."""
    entities = []
    for e in doc.get("entities") or ():
        item: dict[str, Any] = {"id": e["id"]} if e.get("id") is not None else {"id": ".*", "isPattern": True}
        if e.get("type"):
            item["type"] = e["type"]
        entities.append(item)
    out: dict[str, Any] = {}
    if doc.get("description"):
        out["description"] = doc["description"]
    out["expiration"] = Int64(doc["expires"]) if doc.get("expires") is not None else Int64(LONG_MAX)  # NumberLong
    out["servicePath"] = doc.get("service_path") or "/"
    out["contextRegistration"] = [
        {
            "entities": entities,
            "attrs": [{"name": name, "type": ""} for name in doc.get("attrs") or ()],
            "providingApplication": doc.get("url", ""),
        }
    ]
    if doc.get("status") is not None:
        out["status"] = doc["status"]
    out["fwdMode"] = doc.get("forwarding_mode") or "all"
    out["format"] = "JSON" if doc.get("legacy_forwarding") else "normalized"
    return out


def from_orion(stored: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The codec document of a stored registration, with Orion's defaults for what is missing."""
    (registration,) = stored.get("contextRegistration") or [{}]  # Orion too refuses more than one (NGSIv1 layout)
    entities = []
    for e in registration.get("entities") or ():
        pattern = e.get("isPattern") in (True, "true")  # a string up to Orion 4.2, a boolean since 4.3
        entities.append(
            {
                "id": None if pattern else e.get("id"),
                "id_pattern": e.get("id") if pattern else None,
                "type": e.get("type") or None,
            }
        )
    expiration = stored.get("expiration")
    return {
        "id": str(stored["_id"]),
        "tenant": tenant,
        "service_path": stored.get("servicePath") or "/",
        "entities": entities,
        "attrs": [a["name"] for a in registration.get("attrs") or () if isinstance(a, dict) and a.get("name")],
        "url": registration.get("providingApplication", ""),
        "forwarding_mode": stored.get("fwdMode") or "all",
        "legacy_forwarding": stored.get("format", "JSON") == "JSON",
        "description": stored.get("description") or None,
        "expires": float(expiration) if isinstance(expiration, (int, float)) and 0 <= expiration < LONG_MAX else None,
        "status": stored.get("status") or None,
    }
