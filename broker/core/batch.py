"""Batch operations: `POST /v2/op/update` and `POST /v2/op/query`.

An update batch is computed against one snapshot of the entities it names, entity after entity
in request order (so a batch can delete attributes and then the entity), and written with one
storage transaction; a concurrent change to any of them makes the store refuse the transaction
and the batch is recomputed from a fresh snapshot. Failures are reported as Orion does: the first
failure sets the error and its prefix, later ones are appended, and `PartialUpdate` replaces the
error name when something was applied.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import Any

from broker.core.entities import EntityRef, EntityService, UpdateMode, apply_update, fresh_attributes, locate
from broker.core.providers import UpdateReport, update_error
from broker.ngsi.changes import ChangeEvent
from broker.ngsi.context import RequestContext, ServicePathScope
from broker.ngsi.errors import NgsiError, bad_request, internal_error, parse_error
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.model import DEFAULT_ENTITY_TYPE, Attribute, Entity
from broker.ngsi.payload import check_entity_key, check_entity_member, parse_attribute
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.registration import Registration
from broker.ngsi.selection import EntityFilter, EntitySelector, Page
from broker.ngsi.validation import check_entity_key_length, check_identifier, check_pattern
from broker.personal.auth import forbidden
from broker.personal.policy import View
from broker.storage.port import Write

V2_ACTIONS = ("append", "appendStrict", "update", "delete", "replace")
# NGSIv1 spellings, which Orion still takes, compared without regard to case
V1_ACTIONS = {
    "append": "append",
    "append_strict": "appendStrict",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
}
MAX_RETRIES = 20
MAX_SNAPSHOT = 10000


@dataclass
class BatchItem:
    id: str
    type: str | None  # None: the request named no type
    attrs: dict[str, Attribute]

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.id, self.type)


@dataclass
class BatchUpdate:
    action: str
    items: list[BatchItem]


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise parse_error()
    if not body:
        raise bad_request("empty payload")
    return body


def parse_action_type(value: Any) -> str | None:
    """Orion's `parseActionType`: the v2 names exactly, else the v1 names in any case."""
    if not isinstance(value, str):
        return None
    if value in V2_ACTIONS:
        return value
    return V1_ACTIONS.get(value.lower())


def _entity_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("entity is not a JSON object")
    if "id" in raw and "idPattern" in raw:
        raise bad_request("both /id/ and /idPattern/ present")
    if "id" not in raw and "idPattern" not in raw:
        raise bad_request("nor /id/ nor /idPattern/ present")
    return raw


def parse_batch_update(body: Any, *, key_values: bool = False) -> BatchUpdate:
    body = _require_object(body)
    if "entities" not in body:
        raise bad_request("Invalid JSON payload, mandatory field /entities/ not found")
    if "actionType" not in body:
        raise bad_request("Invalid JSON payload, mandatory field /actionType/ not found")
    items: list[BatchItem] = []
    action = ""
    for key, value in body.items():
        if key == "entities":
            if not isinstance(value, list):
                raise bad_request("not a JSON array")
            items = [_batch_item(raw, key_values) for raw in value]
        elif key == "actionType":
            parsed = parse_action_type(value)
            if parsed is None:
                raise bad_request(
                    "invalid update action type: right ones are: append, appendStric, delete, replace, update"
                )
            action = parsed
        else:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    if not items:
        raise bad_request("empty entities vector")
    return BatchUpdate(action, items)


def parse_notify(body: Any, *, key_values: bool = False) -> BatchUpdate:
    """`POST /v2/op/notify`: another broker's notification, applied as an append of its entities."""
    body = _require_object(body)
    if "subscriptionId" not in body:
        raise bad_request("Invalid JSON payload, mandatory field /subscriptionId/ not found")
    if "data" not in body:
        raise bad_request("Invalid JSON payload, mandatory field /data/ not found")
    if not isinstance(body["subscriptionId"], str):
        raise bad_request("/subscriptionId/ must be a JSON String")
    if not isinstance(body["data"], list):
        raise bad_request("/data/ must be a JSON Array")
    for key in body:
        if key not in ("subscriptionId", "data"):
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    items = [_batch_item(raw, key_values) for raw in body["data"]]
    if not items:
        raise bad_request("empty entities vector")
    return BatchUpdate("append", items)


def _batch_item(raw: Any, key_values: bool) -> BatchItem:
    """One entity of an update batch, its members checked in document order as Orion does;
    an `idPattern` there is Orion's 501 (batch updates by pattern are not implemented)."""
    raw = _entity_object(raw)
    attrs: dict[str, Attribute] = {}
    for name, value in raw.items():
        if name in ("id", "type"):
            check_entity_member(name, value)
        elif name == "idPattern":
            raise NgsiError(501, "NotImplemented", "NotImplemented")
        else:
            attrs[name] = parse_attribute(name, value, key_values=key_values)
    check_entity_key(raw["id"], raw.get("type"))
    return BatchItem(raw["id"], raw.get("type"), attrs)


@dataclass
class _Report:
    """Orion's accumulated batch error: first failure sets prefix and error, later ones append."""

    first: NgsiError | None = None
    text: str = ""
    applied: bool = False

    def missing_entity(self, item: BatchItem) -> None:
        name = item.ref.describe()
        if self.first is None:
            self._set(NgsiError(404, "NotFound", ""), f"do not exist: {name} - [entity itself]")
        else:
            self.text += f", {name} [entity itself]"

    def attributes(self, item: BatchItem, error: NgsiError) -> None:
        if self.first is None:
            self._set(error, error.description)
        else:
            self.text += ", " + error.description.split(": ", 1)[1]

    def _set(self, error: NgsiError, text: str) -> None:
        self.first = error
        self.text = text

    def result(self) -> NgsiError | None:
        if self.first is None:
            return None
        if self.applied:
            return NgsiError(422, "PartialUpdate", self.text)
        return NgsiError(self.first.status, self.first.error, self.text)


@dataclass
class _Snapshot:
    """The entities a batch touches: as read (with versions) and as the batch leaves them."""

    read: dict[tuple[str, str, str], Entity] = field(default_factory=dict)
    now: dict[tuple[str, str, str], Entity | None] = field(default_factory=dict)
    hidden: set[tuple[str, str, str]] = field(default_factory=set)  # personal, not the caller's to write
    request_attrs: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)

    def touch(self, key: tuple[str, str, str], item: BatchItem) -> None:
        names = self.request_attrs.get(key, ())
        self.request_attrs[key] = names + tuple(n for n in item.attrs if n not in names)

    def find(self, item: BatchItem) -> Entity | None | str:
        """The current entity for the item, None if there is none, "ambiguous" if several."""
        found = [
            e
            for k, e in self.now.items()
            if e is not None and k[0] == item.id and (item.type is None or k[1] == item.type)
        ]
        if len(found) > 1:
            return "ambiguous"
        return found[0] if found else None

    def writes(self) -> list[Write]:
        out: list[Write] = []
        for key, current in self.now.items():
            before = self.read.get(key)
            if before is None and current is not None:
                out.append(Write("insert", current))
            elif before is not None and current is None:
                out.append(Write("delete", before))
            elif before is not None and current is not None and current is not before:
                current.version = before.version
                out.append(Write("replace", current))
        return out


class BatchService:
    def __init__(self, entities: EntityService) -> None:
        self.entities = entities

    async def update(self, ctx: RequestContext, batch: BatchUpdate, *, override_md: bool = False) -> None:
        for item in batch.items:
            check_entity_key_length(item.id, item.type or DEFAULT_ENTITY_TYPE, ctx.write_path)
        providers = self.entities.providers
        if batch.action in ("update", "replace") and providers is not None:
            regs = await providers.update_registrations(ctx)
            if regs:
                await self._update_with_providers(ctx, regs, batch, override_md)
                return
        await self._update_here(ctx, batch, override_md)

    async def _update_with_providers(
        self, ctx: RequestContext, regs: list[Registration], batch: BatchUpdate, override_md: bool
    ) -> None:
        """Orion forwards the `update` and `replace` of a batch: the attributes held here are written
        here (one transaction, as always), the others go to their context providers."""
        providers = self.entities.providers
        assert providers is not None
        view = await self.entities.guard.view(ctx, "write")
        snapshot = await self._snapshot(ctx, batch, view)
        items = []
        for item in batch.items:
            held = snapshot.find(item)
            items.append((item.id, item.type, item.attrs, held if isinstance(held, Entity) else None))
        routed = await providers.route_update(ctx, regs, items, replace=batch.action == "replace")
        if not routed.forwards:
            await self._update_here(ctx, batch, override_md)
            return
        report = UpdateReport()
        local = []
        for (item, kept), (_, _, _, held) in zip(zip(batch.items, routed.kept, strict=True), items, strict=True):
            if not kept and item.attrs:
                continue
            if isinstance(snapshot.find(item), str):  # ambiguous: answered by the local batch
                local.append(BatchItem(item.id, item.type, kept))
                continue
            here = {
                n: a for n, a in kept.items() if held is not None and (batch.action == "replace" or n in held.attrs)
            }
            absent = [n for n in kept if n not in here]
            if absent:  # what neither this broker nor a provider has, listed first as Orion does
                report.fail(item.id, item.type or (held.type if held is not None else None), absent)
            if here or not item.attrs:
                local.append(BatchItem(item.id, item.type, here))
        local_error: NgsiError | None = None
        if local:
            try:
                await self._update_here(ctx, BatchUpdate(batch.action, local), override_md)
            except NgsiError as exc:
                if exc.status not in (404, 422):
                    raise
                local_error = exc
        report = await providers.forward_update(ctx, routed, report)
        if not report.failed:
            if local_error is not None:
                raise NgsiError(422, "PartialUpdate", local_error.description) if report.applied else local_error
            return
        error = update_error(report, bool(local) and (local_error is None or local_error.error == "PartialUpdate"))
        if error is not None:
            raise error

    async def _update_here(self, ctx: RequestContext, batch: BatchUpdate, override_md: bool) -> None:
        if await self._update_once_or_more(ctx, batch, override_md, 1):
            return
        # another write got to one of its entities first. Retried freely, overlapping batches kept
        # failing each other's versioned writes (at 128 connections a batch of 100 cost three times
        # its CPU); they now take the entities' turns in this process, in one order (no two wait
        # on each other), and retry in turn. Taken from the start, the turns cost a third of the
        # throughput at 16 connections, where overlaps are rare.
        async with contextlib.AsyncExitStack() as turns:
            for key in sorted({(ctx.tenant, item.id) for item in batch.items}):
                await turns.enter_async_context(self.entities.locks.hold(key))
            if await self._update_once_or_more(ctx, batch, override_md, MAX_RETRIES):
                return
        raise internal_error("too many concurrent changes to the entities of a batch")

    async def _update_once_or_more(
        self, ctx: RequestContext, batch: BatchUpdate, override_md: bool, attempts: int
    ) -> bool:
        """The batch written within `attempts` reads and versioned writes; False when every write
        met an entity another write had changed since the read."""
        guard = self.entities.guard
        for _ in range(attempts):
            view = await guard.view(ctx, "write")
            snapshot = await self._snapshot(ctx, batch, view)
            report = _Report()
            for item in batch.items:
                self._apply(batch.action, item, snapshot, report, ctx, override_md)
            writes = snapshot.writes()
            events: list[ChangeEvent] = []
            for w in writes:  # all checked before anything is written
                key = (w.entity.id, w.entity.type, w.entity.service_path)
                guard.check_write(
                    ctx, view, w.entity, () if w.action == "delete" else snapshot.request_attrs.get(key, ())
                )
            for w in writes:
                if w.action != "delete":
                    w.entity.location = locate(w.entity.attrs)
                    w.entity.correlator = ctx.correlator
                key = (w.entity.id, w.entity.type, w.entity.service_path)
                before = snapshot.read.get(key)
                after = snapshot.now.get(key)
                names = snapshot.request_attrs.get(key, ())
                events.append(
                    ChangeEvent(
                        ctx.tenant,
                        before,
                        after,
                        names,
                        ctx.correlator,
                        auth_token=ctx.auth_token,
                        forced=ctx.forced_update,
                    )
                )
            outbox = await self.entities.changes.outbox_for(events)
            storage = self.entities.storage
            if not writes or await storage.write_batch(ctx.tenant, writes, outbox):
                await self.entities.changes.committed(outbox)
                error = report.result()
                if error is not None:
                    raise error
                return True
            await self.entities.changes.abandoned(outbox)
        return False

    async def _snapshot(self, ctx: RequestContext, batch: BatchUpdate, view: View | None) -> _Snapshot:
        ids = tuple(dict.fromkeys(item.id for item in batch.items))
        flt = EntityFilter(ids=ids, scopes=(ServicePathScope(ctx.write_path),))
        found, _ = await self.entities.storage.query_entities(ctx.tenant, flt, Page(limit=MAX_SNAPSHOT))
        snap = _Snapshot()
        for e in found:
            key = (e.id, e.type, e.service_path)
            if view is not None and view.access_to(e) is None:
                snap.hidden.add(key)  # does not exist for this caller
                continue
            snap.read[key] = e
            snap.now[key] = e
        return snap

    def _apply(
        self, action: str, item: BatchItem, snap: _Snapshot, report: _Report, ctx: RequestContext, override_md: bool
    ) -> None:
        now = self.entities.clock()
        current = snap.find(item)
        if current == "ambiguous":
            report.missing_entity(item)
            return
        assert current is None or isinstance(current, Entity)
        if current is None:
            if action in ("append", "appendStrict"):
                if (item.id, item.type or DEFAULT_ENTITY_TYPE, ctx.write_path) in snap.hidden:
                    raise forbidden("no active write consent from the data subject of this entity")
                new = Entity(
                    id=item.id,
                    type=item.type or DEFAULT_ENTITY_TYPE,
                    service_path=ctx.write_path,
                    attrs=fresh_attributes(item.attrs, now),
                    cre_date=now,
                    mod_date=now,
                )
                snap.now[(new.id, new.type, new.service_path)] = new
                snap.touch((new.id, new.type, new.service_path), item)
                report.applied = True
            else:
                report.missing_entity(item)
            return
        key = (current.id, current.type, current.service_path)
        snap.touch(key, item)
        if action == "delete":
            if not item.attrs:
                snap.now[key] = None
                report.applied = True
                return
            missing = [n for n in item.attrs if n not in current.attrs]
            kept = [n for n in item.attrs if n in current.attrs]
            if kept:
                updated = copy.copy(current)
                updated.attrs = {n: a for n, a in current.attrs.items() if n not in item.attrs}
                updated.mod_date = now
                snap.now[key] = updated
                report.applied = True
            if missing:
                names = "[ " + ", ".join(missing) + " ]"
                report.attributes(
                    item, NgsiError(422, "Unprocessable", f"do not exist: {item.ref.describe()} - {names}")
                )
            return
        mode = {
            "append": UpdateMode.APPEND,
            "appendStrict": UpdateMode.APPEND_STRICT,
            "update": UpdateMode.UPDATE,
            "replace": UpdateMode.REPLACE,
        }[action]
        updated, error = apply_update(current, item.attrs, mode, now, override_md, item.ref, ctx.forced_update)
        if updated is not current:
            snap.now[key] = updated
            report.applied = True
        if error is not None:
            report.attributes(item, error)


# -- op/query ------------------------------------------------------------------------------------

QUERY_KEYS = ("entities", "attributes", "attrs", "expression", "metadata")


@dataclass
class BatchQuery:
    filter: EntityFilter
    attrs: tuple[str, ...] | None = None
    metadata: tuple[str, ...] | None = None


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    """Orion's parseStringList (duplicates dropped)."""
    if not isinstance(value, list):
        raise bad_request(f"the field /{what}/ must be a JSON array")
    if not all(isinstance(v, str) for v in value):
        raise bad_request(f"only JSON Strings allowed in {what} list")
    return tuple(dict.fromkeys(value))


def _selector(raw: Any) -> EntitySelector:
    raw = _entity_object(raw)
    if set(raw) - {"id", "idPattern", "type", "typePattern"}:
        raise bad_request("no attributes allowed in Entity in this payload")
    ids = (check_identifier(raw["id"], "entity id"),) if "id" in raw else ()
    id_pattern = check_pattern(raw["idPattern"], "idPattern") if "idPattern" in raw else None
    types = (check_identifier(raw["type"], "entity type"),) if "type" in raw else ()
    type_pattern = check_pattern(raw["typePattern"], "typePattern") if "typePattern" in raw else None
    return EntitySelector(ids, id_pattern, types, type_pattern)


def _expression(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("expression is not an object")
    if not raw:
        raise bad_request("expression is empty")
    out: dict[str, Any] = {}
    for key in ("q", "mq", "georel", "geometry", "coords"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, str):
                raise bad_request(f"{key} is not a string")
            if value == "":
                raise bad_request(f"{key} is empty")
            out[key] = value
    return out


def parse_batch_query(body: Any) -> BatchQuery:
    """The body of `op/query`, checked member by member in document order as Orion does.

    The deprecated `attributes` is NGSIv1's attribute list: only entities with at least one of
    them match, and only those attributes are shown (within `attrs` when both are given).
    """
    body = _require_object(body)
    if not any(k in body for k in ("entities", "attributes", "attrs", "expression")):
        raise bad_request("Invalid JSON payload, no relevant fields found")
    selectors: tuple[EntitySelector, ...] = ()
    attrs: tuple[str, ...] | None = None
    attributes: tuple[str, ...] = ()
    metadata: tuple[str, ...] | None = None
    expr: dict[str, Any] = {}
    for key, value in body.items():
        if key == "entities":
            if not isinstance(value, list):
                raise bad_request("not a JSON array")
            selectors = tuple(_selector(raw) for raw in value)
        elif key == "attributes":
            attributes = _string_list(value, key)
        elif key == "attrs":
            attrs = _string_list(value, key)
        elif key == "expression":
            expr = _expression(value)
        elif key == "metadata":
            metadata = _string_list(value, key)
        else:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    geo = parse_geo_query(
        expr.get("georel"),
        expr.get("geometry"),
        expr.get("coords"),
        require_georel=True,
        error_prefix="error parsing geo-query fields: ",
    )
    flt = EntityFilter(
        selectors=selectors,
        q=parse_q(expr["q"]) if "q" in expr else None,
        mq=parse_mq(expr["mq"]) if "mq" in expr else None,
        geo=geo,
        any_attrs=attributes,
    )
    if attributes:  # shown: those of `attrs` among them, or all of them
        attrs = tuple(a for a in attrs or () if a in attributes) or attributes
    return BatchQuery(flt, attrs or None, metadata)
