"""Personal types (`ab_personal_types`) and consents (`ab_consents`) of each tenant database, and
the version a consent cache checks (a counter in `ab_counters`)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from broker.ngsi.consent import Consent
from broker.ngsi.selection import Page
from broker.storage.consent_codec import from_doc, to_doc
from broker.storage.mongo.connection import CONSENTS, COUNTERS, PERSONAL_TYPES, MongoConnection, documents, unavailable
from broker.storage.mongo.filters import SEQ


class MongoPersonal:
    """The port's `PersonalTypeStore` and `ConsentStore`."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn

    async def _bump_personal(self, tenant: str) -> None:
        await self.conn.next(f"personal_version:{tenant}")

    async def personal_state(self, tenant: str) -> tuple[dict[str, str], int]:
        with unavailable():
            rows = await self.conn.database(tenant)[PERSONAL_TYPES].find({}, sort=[("_id", ASCENDING)]).to_list(None)
            version = await self.conn.main[COUNTERS].find_one({"_id": f"personal_version:{tenant}"})
        return {r["_id"]: r["subjectAttr"] for r in rows}, int(version["n"]) if version else 0

    async def personal_types(self, tenant: str) -> dict[str, str]:
        return (await self.personal_state(tenant))[0]

    async def put_personal_type(self, tenant: str, type_name: str, subject_attr: str) -> None:
        with unavailable():
            await self.conn.database(tenant)[PERSONAL_TYPES].update_one(
                {"_id": type_name}, {"$set": {"subjectAttr": subject_attr}}, upsert=True
            )
        await self._bump_personal(tenant)

    async def delete_personal_type(self, tenant: str, type_name: str) -> bool:
        with unavailable():
            result = await self.conn.database(tenant)[PERSONAL_TYPES].delete_one({"_id": type_name})
        await self._bump_personal(tenant)
        return result.deleted_count > 0

    async def save_consent(self, tenant: str, consent: Consent) -> None:
        coll = self.conn.database(tenant)[CONSENTS]
        fields = {
            "subject": consent.subject,
            "recipient": consent.recipient,
            "expires": consent.expires,
            "withdrawnAt": consent.withdrawn_at,
            "doc": to_doc(consent),
        }
        with unavailable():
            existing = await coll.find_one({"_id": consent.id}, projection={SEQ: True})
            seq = existing[SEQ] if existing else await self.conn.next(f"consents:{tenant}")
            await coll.update_one({"_id": consent.id}, {"$set": {**fields, SEQ: seq}}, upsert=True)
        await self._bump_personal(tenant)

    async def get_consent(self, tenant: str, consent_id: str) -> Consent | None:
        with unavailable():
            row = await self.conn.database(tenant)[CONSENTS].find_one({"_id": consent_id})
        return from_doc(row["doc"]) if row else None

    async def find_consents(
        self,
        tenant: str,
        *,
        subject: str | None = None,
        recipient: str | None = None,
        active_at: float | None = None,
        page: Page | None = None,
    ) -> tuple[list[Consent], int]:
        match: dict[str, Any] = {}
        if subject is not None:
            match["subject"] = subject
        if recipient is not None:
            match["recipient"] = recipient
        if active_at is not None:
            match["withdrawnAt"] = None
            match["$or"] = [{"expires": None}, {"expires": {"$gt": active_at}}]
        docs, total = await documents(self.conn.database(tenant)[CONSENTS], match, SEQ, page)
        return [from_doc(d) for d in docs], total
