"""The consent re-check at delivery: a queued notification goes out only as things stand now.

A personal entity's notification was matched under the consents of the moment of the change;
by the time it is sent they may be withdrawn, expired, narrowed, or the subject erased. The
guard's one rule (`PersonalGuard.notification_access`, the rule that decides reads) decides
again, and the payload is narrowed to what it shows. A notification matched as open data is
checked too when its type has been declared personal since (the subject taken by `subject_of`,
the rule every other path uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.ngsi.selection import subject_of
from broker.ngsi.subscription import Subscription
from broker.personal.guard import PersonalGuard
from broker.personal.policy import Access
from broker.storage.port import OutboxRecord
from broker.subscriptions.payload import entity_of, narrowed


@dataclass(frozen=True)
class Cleared:
    """What may go out: the payload (narrowed for a personal entity), and for a personal entity
    its subject and the access that allowed it (for the access log); both None for open data."""

    payload: dict[str, Any]
    subject: str | None = None
    access: Access | None = None


async def recheck(guard: PersonalGuard, record: OutboxRecord, sub: Subscription) -> Cleared | None:
    """The notification as it may be sent now; None: nothing may be sent any more."""
    payload = record.payload
    subject = record.subject
    if subject is None:  # matched as open data: is the type personal by now?
        subject_attr = (await guard.personal_types(record.tenant)).get(payload["type"])
        if subject_attr is not None:
            subject = subject_of(entity_of(payload), subject_attr) or ""
    if subject is None:
        return Cleared(payload)
    access = await guard.notification_access(record.tenant, payload["type"], subject, sub.owner, sub.owner_roles)
    if access is None:
        return None  # withdrawn, expired or erased since the change
    return Cleared(narrowed(payload, access.shows), subject, access)
