"""The `/personal/v1` use cases: personal types, consents and receipts, the access log, the
residents' rights (export, erasure) and k-anonymous statistics.

Roles come from the caller's token: operators manage types and consents (never personal data),
residents grant and withdraw consents and exercise their rights, analysts get statistics only.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from broker.core.entities import EntityRef, EntityService
from broker.ngsi.consent import Consent
from broker.ngsi.context import ALL_PATHS, RequestContext
from broker.ngsi.datetimes import format_iso8601, parse_iso8601
from broker.ngsi.errors import NgsiError, bad_request, not_found, parse_error
from broker.ngsi.model import Entity
from broker.ngsi.render import render_entity
from broker.ngsi.selection import EntityFilter, Grant, Page, Visibility
from broker.ngsi.validation import check_identifier
from broker.personal import access_log
from broker.personal.auth import forbidden, unauthorized
from broker.personal.consents import parse_consent, render_consent
from broker.personal.guard import PersonalGuard
from broker.personal.policy import SELF
from broker.personal.statistics import aggregate, parse_statistics
from broker.storage.port import Storage

if TYPE_CHECKING:
    from broker.personal.receipts import ReceiptSigner

TYPE_NOT_PERSONAL = "The entity type is not declared personal"
CONSENT_NOT_FOUND = "The requested consent has not been found. Check its id"
CHUNK = 1000


def require(ctx: RequestContext, *roles: str) -> str:
    """The caller's principal when it holds one of `roles` (401 without a token, 403 without the role)."""
    if ctx.principal is None:
        raise unauthorized("a valid bearer token is needed")
    if not set(roles) & set(ctx.roles):
        raise forbidden(f"this operation needs the role {' or '.join(roles)}")
    return ctx.principal


def _time_param(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    value = parse_iso8601(text)
    if value is None:
        raise bad_request(f"/{name}/ must be an ISO 8601 date and time")
    return value


def render_record(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "time": format_iso8601(record["time"])}


class PersonalDataService:
    def __init__(self, entities: EntityService, *, clock: Callable[[], float] = time.time, min_k: int = 10) -> None:
        self.entities = entities
        self.storage: Storage = entities.storage
        self.guard: PersonalGuard = entities.guard
        self.clock = clock
        self.min_k = min_k
        self._signer: ReceiptSigner | None = None

    # -- personal types (operator) -----------------------------------------------------------
    async def put_type(self, ctx: RequestContext, type_name: str, body: Any) -> None:
        require(ctx, "operator")
        if not isinstance(body, dict):
            raise parse_error()
        unknown = [k for k in body if k != "subjectAttr"]
        if unknown:
            raise bad_request(f"unknown field in personal type: /{unknown[0]}/")
        if "subjectAttr" not in body:
            raise bad_request("mandatory field /subjectAttr/ not found")
        subject_attr = check_identifier(body["subjectAttr"], "attribute name")
        await self.storage.put_personal_type(ctx.tenant, type_name, subject_attr)
        self.guard.forget_types(ctx.tenant)

    async def list_types(self, ctx: RequestContext) -> list[dict[str, str]]:
        require(ctx, "operator")
        types = await self.storage.personal_types(ctx.tenant)
        return [{"type": t, "subjectAttr": a} for t, a in types.items()]

    async def get_type(self, ctx: RequestContext, type_name: str) -> dict[str, str]:
        require(ctx, "operator")
        types = await self.storage.personal_types(ctx.tenant)
        if type_name not in types:
            raise not_found(TYPE_NOT_PERSONAL)
        return {"type": type_name, "subjectAttr": types[type_name]}

    async def delete_type(self, ctx: RequestContext, type_name: str) -> None:
        require(ctx, "operator")
        removed = await self.storage.delete_personal_type(ctx.tenant, type_name)
        self.guard.forget_types(ctx.tenant)
        if not removed:
            raise not_found(TYPE_NOT_PERSONAL)

    # -- consents -----------------------------------------------------------------------------
    async def grant(self, ctx: RequestContext, body: Any) -> Consent:
        subject = require(ctx, "resident")
        consent = parse_consent(body, subject=subject, consent_id=secrets.token_hex(12), now=self.clock())
        await self.storage.save_consent(ctx.tenant, consent)
        return consent

    async def list_consents(self, ctx: RequestContext, page: Page) -> tuple[list[Consent], int]:
        """A resident's given consents, a service's or analyst's received ones, an operator's: all."""
        me = require(ctx, "resident", "service", "analyst", "operator")
        if "operator" in ctx.roles:
            return await self.storage.find_consents(ctx.tenant, page=page)
        if "resident" in ctx.roles:
            return await self.storage.find_consents(ctx.tenant, subject=me, page=page)
        return await self.storage.find_consents(ctx.tenant, recipient=me, page=page)

    async def get_consent(self, ctx: RequestContext, consent_id: str) -> Consent:
        me = require(ctx, "resident", "service", "analyst", "operator")
        consent = await self.storage.get_consent(ctx.tenant, consent_id)
        if consent is None or not ("operator" in ctx.roles or me in (consent.subject, consent.recipient)):
            raise not_found(CONSENT_NOT_FOUND)
        return consent

    async def withdraw(self, ctx: RequestContext, consent_id: str) -> None:
        """Its resident or an operator withdraws it; the record stays, `withdrawn`."""
        consent = await self.get_consent(ctx, consent_id)
        if "operator" not in ctx.roles and ctx.principal != consent.subject:
            raise forbidden("only the consent's resident or an operator can withdraw it")
        if consent.withdrawn_at is None:
            withdrawn = dataclasses.replace(consent, withdrawn_at=self.clock())
            await self.storage.save_consent(ctx.tenant, withdrawn)

    async def signer(self) -> ReceiptSigner:
        from broker.personal.receipts import ReceiptSigner, new_private_key_pem  # cryptography: only when used

        if self._signer is None:
            pem = await self.storage.setting("consent_receipt_key", new_private_key_pem())
            self._signer = ReceiptSigner(pem)
        return self._signer

    async def receipt(self, ctx: RequestContext, consent_id: str) -> str:
        consent = await self.get_consent(ctx, consent_id)
        now = self.clock()
        claims = {
            "iss": "area-broker",
            "iat": int(now),
            "tenant": ctx.tenant,
            **render_consent(consent, now),
        }
        return (await self.signer()).sign(claims)

    # -- the access log -------------------------------------------------------------------------
    async def read_log(self, ctx: RequestContext, query: dict[str, str], page: Page) -> tuple[list[dict], int]:
        me = require(ctx, "operator", "resident")
        since = _time_param(query.get("from"), "from")
        until = _time_param(query.get("to"), "to")
        if "operator" in ctx.roles:
            subject, recipient = query.get("subject"), query.get("recipient")
        else:
            subject, recipient = me, None
        records, total = await self.storage.read_access_log(
            ctx.tenant, subject=subject, recipient=recipient, since=since, until=until, page=page
        )
        return [render_record(r) for r in records], total

    async def verify_log(self, ctx: RequestContext) -> dict[str, Any]:
        require(ctx, "operator")
        records, _ = await self.storage.read_access_log(ctx.tenant)
        head = await self.storage.access_log_head(ctx.tenant)
        faults = await self.storage.access_log_index_faults(ctx.tenant)
        return access_log.verify(records, head, faults)

    # -- residents' rights ------------------------------------------------------------------------
    async def _own_entities(self, ctx: RequestContext, subject: str) -> list[Entity]:
        """Every personal entity of the subject in the tenant, whole, whatever the service path."""
        personal = await self.storage.personal_types(ctx.tenant)
        if not personal:
            return []
        grants = tuple(Grant(t, a, (subject,), None) for t, a in personal.items())
        flt = EntityFilter(types=tuple(personal), scopes=ALL_PATHS, visibility=Visibility(tuple(personal), grants))
        out: list[Entity] = []
        while True:
            found, _ = await self.storage.query_entities(ctx.tenant, flt, Page(CHUNK, len(out)))
            out += found
            if len(found) < CHUNK:
                return out

    async def export(self, ctx: RequestContext) -> dict[str, Any]:
        subject = require(ctx, "resident")
        now = self.clock()
        entities = await self._own_entities(ctx, subject)
        consents, _ = await self.storage.find_consents(ctx.tenant, subject=subject)
        records, _ = await self.storage.read_access_log(ctx.tenant, subject=subject)
        await self.guard.log(
            ctx.tenant,
            [self._record(ctx, subject, e, "export", now) for e in entities],
        )
        return {
            "subject": subject,
            "service": ctx.tenant,
            "exportedAt": format_iso8601(now),
            "entities": [render_entity(e) for e in entities],
            "consents": [render_consent(c, now) for c in consents],
            "accessLog": [render_record(r) for r in records],
        }

    async def erase(self, ctx: RequestContext) -> None:
        """Withdraw every consent, delete every personal entity, drop queued notifications, log it."""
        subject = require(ctx, "resident")
        now = self.clock()
        consents, _ = await self.storage.find_consents(ctx.tenant, subject=subject, active_at=now)
        for consent in consents:
            await self.storage.save_consent(ctx.tenant, dataclasses.replace(consent, withdrawn_at=now))
        for entity in await self._own_entities(ctx, subject):
            where = dataclasses.replace(ctx, write_path=entity.service_path)
            try:
                await self.entities.delete(where, EntityRef(entity.id, entity.type))
            except NgsiError as exc:
                if exc.status != 404:  # 404: deleted meanwhile, nothing left to erase
                    raise
        await self.storage.drop_notifications_of(ctx.tenant, subject)
        erasure = access_log.disclosure(
            time=now,
            tenant=ctx.tenant,
            recipient=subject,
            subject=subject,
            entity_id=None,
            entity_type=None,
            attrs=[],
            consents=(),
            channel="erasure",
            correlator=ctx.correlator,
        )
        await self.guard.log(ctx.tenant, [erasure])

    def _record(self, ctx: RequestContext, subject: str, entity: Entity, channel: str, now: float) -> dict:
        return access_log.disclosure(
            time=now,
            tenant=ctx.tenant,
            recipient=subject,
            subject=subject,
            entity_id=entity.id,
            entity_type=entity.type,
            attrs=list(entity.attrs),
            consents=(SELF,),
            channel=channel,
            correlator=ctx.correlator,
        )

    # -- statistics (analyst) ----------------------------------------------------------------------
    async def statistics(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        require(ctx, "analyst")
        req = parse_statistics(body)
        view = await self.guard.view(ctx, "statistics")
        if view is None or not view.is_personal(req.type):
            raise bad_request(TYPE_NOT_PERSONAL)
        flt = EntityFilter(types=(req.type,), scopes=ctx.scopes, q=req.q, visibility=view.visibility())
        rows: list[tuple[str, Entity]] = []
        offset = 0
        while True:
            found, _ = await self.storage.query_entities(ctx.tenant, flt, Page(CHUNK, offset))
            offset += len(found)
            for entity in found:
                shown = view.project(entity)
                subject = view.subject(entity)
                if shown is not None and subject is not None:
                    rows.append((subject, shown))
            if len(found) < CHUNK:
                break
        return aggregate(req, rows, self.min_k)
