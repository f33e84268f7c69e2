"""Batch operations: `POST /v2/op/update` and `POST /v2/op/query`.

An update batch is computed against one snapshot of the entities it names, entity after entity
in request order (so a batch can delete attributes and then the entity), and written with one
storage transaction; a concurrent change to any of them makes the store refuse the transaction
and the batch is recomputed from a fresh snapshot. Failures are reported as Orion does: the first
failure sets the error and its prefix, later ones are appended, and `PartialUpdate` replaces the
error name when something was applied.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from broker.ngsi.changes import ChangeEvent
from broker.ngsi.context import RequestContext, ServicePathScope
from broker.ngsi.entities import EntityRef, EntityService, UpdateMode, apply_update, fresh_attributes, locate
from broker.ngsi.errors import NgsiError, bad_request, internal_error, parse_error
from broker.ngsi.geo import parse_geo_query
from broker.ngsi.model import DEFAULT_ENTITY_TYPE, Attribute, Entity
from broker.ngsi.payload import parse_attribute
from broker.ngsi.query import parse_mq, parse_q
from broker.ngsi.validation import check_entity_key_length, check_identifier, check_pattern
from broker.personal.auth import forbidden
from broker.personal.policy import View
from broker.storage.port import EntityFilter, EntitySelector, Page, Write

ACTIONS = {
    "append": "append", "appendStrict": "appendStrict", "update": "update", "delete": "delete", "replace": "replace",
    "APPEND": "append", "APPEND_STRICT": "appendStrict", "UPDATE": "update", "DELETE": "delete", "REPLACE": "replace",
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


def _entity_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("entity is not a JSON object")
    if "id" in raw and "idPattern" in raw:
        raise bad_request("both /id/ and /idPattern/ present")
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
            if not isinstance(value, str) or value not in ACTIONS:
                raise bad_request("invalid update action type: right ones are: append, appendStric, delete, replace, update")
            action = ACTIONS[value]
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
    raw = _entity_object(raw)
    if "id" not in raw:
        raise bad_request("nor /id/ nor /idPattern/ present")
    entity_id = check_identifier(raw["id"], "entity id")
    entity_type = raw.get("type")
    if entity_type is not None or "type" in raw:
        check_identifier(entity_type, "entity type")
    attrs = {
        name: parse_attribute(name, value, key_values=key_values)
        for name, value in raw.items()
        if name not in ("id", "type")
    }
    return BatchItem(entity_id, entity_type, attrs)


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

    def touch(self, key: tuple[str, str, str], item: "BatchItem") -> None:
        names = self.request_attrs.get(key, ())
        self.request_attrs[key] = names + tuple(n for n in item.attrs if n not in names)

    def find(self, item: BatchItem) -> Entity | None | str:
        """The current entity for the item, None if there is none, "ambiguous" if several."""
        found = [e for k, e in self.now.items() if e is not None and k[0] == item.id and (item.type is None or k[1] == item.type)]
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
        guard = self.entities.guard
        for _ in range(MAX_RETRIES):
            view = await guard.view(ctx, "write")
            snapshot = await self._snapshot(ctx, batch, view)
            report = _Report()
            for item in batch.items:
                self._apply(batch.action, item, snapshot, report, ctx, override_md)
            writes = snapshot.writes()
            events: list[ChangeEvent] = []
            for w in writes:  # all checked before anything is written
                key = (w.entity.id, w.entity.type, w.entity.service_path)
                guard.check_write(ctx, view, w.entity, () if w.action == "delete" else snapshot.request_attrs.get(key, ()))
            for w in writes:
                if w.action != "delete":
                    w.entity.location = locate(w.entity.attrs)
                    w.entity.correlator = ctx.correlator
                key = (w.entity.id, w.entity.type, w.entity.service_path)
                before = snapshot.read.get(key)
                after = snapshot.now.get(key)
                names = snapshot.request_attrs.get(key, ())
                events.append(ChangeEvent(ctx.tenant, before, after, names, ctx.correlator,
                                          auth_token=ctx.auth_token, forced=ctx.forced_update))
            outbox = await self.entities.changes.outbox_for(events)
            storage = self.entities.storage
            if not writes or await storage.write_batch(ctx.tenant, writes, outbox):
                await self.entities.changes.committed(outbox)
                error = report.result()
                if error is not None:
                    raise error
                return
            await self.entities.changes.abandoned(outbox)
        raise internal_error("too many concurrent changes to the entities of a batch")

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
                report.attributes(item, NgsiError(422, "Unprocessable", f"do not exist: {item.ref.describe()} - {names}"))
            return
        mode = {
            "append": UpdateMode.APPEND,
            "appendStrict": UpdateMode.APPEND_STRICT,
            "update": UpdateMode.UPDATE,
            "replace": UpdateMode.REPLACE,
        }[action]
        updated, error = apply_update(current, item.attrs, mode, now, override_md, item.ref)
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
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"/{what}/ must be a JSON array of strings")
    return tuple(value)




def _selector(raw: Any) -> EntitySelector:
    raw = _entity_object(raw)
    if set(raw) - {"id", "idPattern", "type", "typePattern"}:
        raise bad_request("no attributes allowed in Entity in this payload")
    if "id" not in raw and "idPattern" not in raw:
        raise bad_request("nor /id/ nor /idPattern/ present")
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
    body = _require_object(body)
    for key in body:
        if key not in QUERY_KEYS:
            raise bad_request(f"Unrecognized field in JSON payload: /{key}/")
    if not any(k in body for k in ("entities", "attributes", "attrs", "expression")):
        raise bad_request("Invalid JSON payload, no relevant fields found")
    selectors: tuple[EntitySelector, ...] = ()
    if "entities" in body:
        if not isinstance(body["entities"], list):
            raise bad_request("not a JSON array")
        selectors = tuple(_selector(raw) for raw in body["entities"])
    attrs = None
    if "attrs" in body or "attributes" in body:
        attrs = _string_list(body.get("attrs", body.get("attributes")), "attrs")
    metadata = _string_list(body["metadata"], "metadata") if "metadata" in body else None
    expr = _expression(body["expression"]) if "expression" in body else {}
    geo = parse_geo_query(
        expr.get("georel"), expr.get("geometry"), expr.get("coords"),
        require_georel=True, error_prefix="error parsing geo-query fields: ",
    )
    flt = EntityFilter(
        selectors=selectors,
        q=parse_q(expr["q"]) if "q" in expr else None,
        mq=parse_mq(expr["mq"]) if "mq" in expr else None,
        geo=geo,
    )
    return BatchQuery(flt, attrs or None, metadata)
