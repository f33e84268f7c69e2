"""Which context provider is asked for what: the pure rules of Orion's request forwarding.

A registration serves an entity when one of its `dataProvided.entities` names it (by id, or `.*`
for any id) with the same type; it serves an attribute when it lists it, or lists none. Local data
shadows providers: an attribute the entity has here is read and written here, and only what is
missing here goes to a provider (Orion's "no over-querying"). Registrations in `supportedForwardingMode`
`update` or `none` are not used for queries, `query` or `none` not for updates; expired ones never;
`status: inactive` is not looked at, as in Orion. Queries use the registrations of every service path
the request reads; updates those of exactly the path written to.

Differences from Orion, on purpose: a `.*` registration serves a request that names an entity by id
(Orion only uses it for pattern and type queries, its issue #3463), and a type-only query against a
registration without attributes is asked once, not twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from broker.ngsi.context import ServicePathScope
from broker.ngsi.model import Attribute, Entity
from broker.ngsi.patterns import compile_pattern
from broker.ngsi.query.evaluate import matches
from broker.ngsi.registration import ProvidedEntity, Registration
from broker.ngsi.selection import EntityFilter, EntitySelector
from broker.registrations.wire import ForwardedEntity

BUILTIN_ATTRS = frozenset({"dateCreated", "dateModified", "dateExpires", "servicePath", "*"})


@dataclass(frozen=True)
class QueryTarget:
    """One forwarded query: the registration asked, the entity and the attributes (empty: all)."""

    registration: Registration
    entity: ForwardedEntity
    attrs: tuple[str, ...]


@dataclass
class UpdateTarget:
    """One forwarded update: a registration and the entities' attributes it receives."""

    registration: Registration
    entities: list[tuple[str, str | None, dict[str, Attribute]]] = field(default_factory=list)

    @property
    def attribute_count(self) -> int:
        return sum(len(attrs) for _, _, attrs in self.entities)

    def add(self, entity_id: str, entity_type: str | None, attrs: dict[str, Attribute]) -> None:
        """The entity's attributes join the request, in the entity's entry when it has one."""
        for held_id, held_type, held in self.entities:
            if (held_id, held_type) == (entity_id, entity_type):
                held.update(attrs)
                return
        self.entities.append((entity_id, entity_type, dict(attrs)))


def same_provider(a: Registration, b: Registration) -> bool:
    """Two registrations whose forwards Orion sends as one request: the same provider URL (and
    protocol). The same creator too, here, since what may go to a provider follows its consents."""
    return (a.url, a.legacy_forwarding, a.owner, a.owner_roles) == (b.url, b.legacy_forwarding, b.owner, b.owner_roles)


def merge_queries(targets: Iterable[QueryTarget]) -> list[QueryTarget]:
    """One forwarded query per provider and entity, as Orion sends: the attributes that several
    registrations of one provider serve for an entity are asked in one request (all of them when
    one asks for all), on behalf of the first registration."""
    out: list[QueryTarget] = []
    for target in targets:
        for i, held in enumerate(out):
            if held.entity == target.entity and same_provider(held.registration, target.registration):
                attrs = () if not held.attrs or not target.attrs else _union(held.attrs, target.attrs)
                out[i] = QueryTarget(held.registration, held.entity, attrs)
                break
        else:
            out.append(target)
    return out


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(n for n in b if n not in a)


def usable(reg: Registration, operation: str, now: float) -> bool:
    """The registration forwards `operation` ("query" or "update") at `now`."""
    if reg.expires is not None and reg.expires <= now:
        return False
    return reg.forwarding_mode in ("all", operation)


def for_query(regs: Iterable[Registration], scopes: Sequence[ServicePathScope], now: float) -> list[Registration]:
    return [r for r in regs if usable(r, "query", now) and any(s.contains(r.service_path) for s in scopes)]


def for_update(regs: Iterable[Registration], write_path: str, now: float) -> list[Registration]:
    return [r for r in regs if usable(r, "update", now) and r.service_path == write_path]


def _serves(provided: ProvidedEntity, entity_id: str, entity_type: str | None) -> bool:
    if entity_type is not None and provided.type != entity_type:
        return False  # Orion: a typed request matches registrations of that type only
    return provided.id == entity_id if provided.id is not None else True


def wanted_names(attrs: Sequence[str] | None) -> tuple[str, ...] | None:
    """The user attributes a request's `attrs` asks for; None: every one (no list, or `*` in it)."""
    if attrs is None or "*" in attrs:
        return None
    names = tuple(a for a in attrs if a not in BUILTIN_ATTRS)
    return names if names or not attrs else ()


def _missing(
    reg: Registration, wanted: tuple[str, ...] | None, local: Entity | None, *, listing: bool = False
) -> tuple[str, ...] | None:
    """The attributes to ask `reg` for about one entity; None: nothing to ask, () every attribute.

    A list shows every entity it selects, with the attributes asked for when it has them (`attrs`
    projects, it does not filter): so a provider of the type, registered for none of them, is asked
    for them all the same when `listing` an entity not held here, as Orion asks it."""
    here = local.attrs if local is not None else {}
    if reg.attrs:
        names = tuple(a for a in reg.attrs if (wanted is None or a in wanted) and a not in here)
        if not names and listing and local is None and wanted:
            return wanted
        return names or None
    if wanted is None:
        return ()  # a provider of every attribute is asked for every attribute, as Orion does
    names = tuple(a for a in wanted if a not in here)
    return names or None


def plan_entity(
    regs: Iterable[Registration],
    entity_id: str,
    entity_type: str | None,
    attrs: Sequence[str] | None,
    local: Entity | None,
) -> list[QueryTarget]:
    """The forwarded queries completing one entity read by id (`local`: what this broker has)."""
    wanted = wanted_names(attrs)
    if wanted == ():
        return []
    targets = []
    for reg in regs:
        for provided in reg.entities:
            if not _serves(provided, entity_id, entity_type):
                continue
            if local is not None and provided.type is not None and provided.type != local.type:
                continue
            names = _missing(reg, wanted, local)
            if names is not None:
                key_type = entity_type or provided.type or (local.type if local is not None else None)
                targets.append(QueryTarget(reg, ForwardedEntity(entity_id, None, key_type), names))
            break
    return targets


def selectors_of(flt: EntityFilter) -> tuple[EntitySelector, ...]:
    """The filter's entity alternatives, the URI parameters' one when it has no `selectors`."""
    if flt.selectors:
        return flt.selectors
    return (EntitySelector(flt.ids, flt.id_pattern, flt.types, flt.type_pattern),)


def _type_ok(selector: EntitySelector, entity_type: str | None) -> bool:
    if selector.types:
        return entity_type in selector.types
    if selector.type_pattern is not None:
        regex = compile_pattern(selector.type_pattern)
        return entity_type is not None and regex is not None and regex.search(entity_type) is not None
    return True


def _id_ok(selector: EntitySelector, entity_id: str) -> bool:
    if selector.ids:
        return entity_id in selector.ids
    if selector.id_pattern is not None:
        regex = compile_pattern(selector.id_pattern)
        return regex is not None and regex.search(entity_id) is not None
    return True


def selected(flt: EntityFilter, entity: Entity) -> bool:
    """A provider's entity is kept when one alternative names it and the filter's `q`/`mq` hold.

    Orion does not filter providers' answers by `q`; we do, so a query never answers entities
    that do not satisfy it. Geographical conditions are not checked (a provider's entity has no
    stored location here): such queries are answered with local data only (see `plan_list`)."""
    if not any(_id_ok(s, entity.id) and _type_ok(s, entity.type) for s in selectors_of(flt)):
        return False
    if flt.any_attrs and not any(a in entity.attrs for a in flt.any_attrs):
        return False  # op/query's deprecated `attributes`: one of them at least
    if flt.q is not None and not matches(flt.q, entity):
        return False
    return flt.mq is None or matches(flt.mq, entity)


def plan_list(
    regs: Iterable[Registration], flt: EntityFilter, attrs: Sequence[str] | None, local: Sequence[Entity]
) -> list[QueryTarget]:
    """The forwarded queries of a list (`GET /v2/entities`, `op/query`): per registration and entity
    it serves, the attributes missing here; a `.*` registration is asked with the alternative's
    pattern or `.*`, as Orion asks it."""
    wanted = wanted_names(attrs)
    if wanted == () or flt.geo is not None:
        return []
    by_key = {(e.id, e.type): e for e in local}
    targets: list[QueryTarget] = []
    for reg in regs:
        seen: set[ForwardedEntity] = set()
        for provided in reg.entities:
            for selector in selectors_of(flt):
                if not _type_ok(selector, provided.type):
                    continue
                for key in _keys(provided, selector):
                    if key in seen:
                        continue
                    here = by_key.get((key.id, key.type)) if key.id is not None else None
                    names = _missing(reg, wanted, here, listing=True)
                    if names is not None:
                        seen.add(key)
                        targets.append(QueryTarget(reg, key, names))
    return targets


def _keys(provided: ProvidedEntity, selector: EntitySelector) -> list[ForwardedEntity]:
    if provided.id is not None:
        return [ForwardedEntity(provided.id, None, provided.type)] if _id_ok(selector, provided.id) else []
    if selector.ids:
        return [ForwardedEntity(i, None, provided.type) for i in selector.ids]
    return [ForwardedEntity(None, selector.id_pattern or ".*", provided.type)]


def merge_entity(
    local: Entity | None, answers: Iterable[Entity], entity_id: str, entity_type: str | None
) -> Entity | None:
    """The entity read here completed with the providers' attributes it lacks (local values win)."""
    result = local
    for remote in answers:
        if remote.id != entity_id or (entity_type is not None and remote.type != entity_type):
            continue
        if result is None:
            result = Entity(remote.id, remote.type, attrs=dict(remote.attrs))
        elif remote.type == result.type:
            missing = {n: a for n, a in remote.attrs.items() if n not in result.attrs}
            if missing:
                result = _with(result, missing)
    return result


def merge_list(local: Sequence[Entity], answers: Iterable[Entity], flt: EntityFilter) -> list[Entity]:
    """Local entities first, completed by the providers; then the providers' other entities, once each."""
    out = list(local)
    index = {(e.id, e.type): i for i, e in enumerate(out)}
    for remote in answers:
        key = (remote.id, remote.type)
        i = index.get(key)
        if i is None:
            if not selected(flt, remote):
                continue
            index[key] = len(out)
            out.append(Entity(remote.id, remote.type, attrs=dict(remote.attrs)))
            continue
        missing = {n: a for n, a in remote.attrs.items() if n not in out[i].attrs}
        if missing:
            out[i] = _with(out[i], missing)
    return out


def _with(entity: Entity, extra: dict[str, Attribute]) -> Entity:
    return Entity(
        entity.id,
        entity.type,
        entity.service_path,
        {**entity.attrs, **extra},
        entity.cre_date,
        entity.mod_date,
        entity.version,
        entity.location,
    )


def plan_update(
    regs: Sequence[Registration],
    entity_id: str,
    entity_type: str | None,
    attrs: dict[str, Attribute],
    local: Entity | None,
    targets: dict[str, UpdateTarget],
) -> dict[str, Attribute]:
    """Route one entity's update: the attributes it has here (or no provider serves) are returned,
    to be written here; the others are added to `targets` (one per provider), to be forwarded."""
    here = local.attrs if local is not None else {}
    kept: dict[str, Attribute] = {}
    routed: dict[str, dict[str, Attribute]] = {}
    owners: dict[str, Registration] = {}
    for name, attr in attrs.items():
        reg = None if name in here else _provider_of(regs, entity_id, entity_type, name, local)
        if reg is None:
            kept[name] = attr
            continue
        owners[reg.id] = reg
        routed.setdefault(reg.id, {})[name] = attr
    for reg_id, forwarded in routed.items():
        reg = owners[reg_id]
        target = _target_of(targets, reg)
        key_type = entity_type or (local.type if local is not None else None) or _registered_type(reg, entity_id)
        target.add(entity_id, key_type, forwarded)
    return kept


def _target_of(targets: dict[str, UpdateTarget], reg: Registration) -> UpdateTarget:
    """The request to `reg`'s provider: Orion sends one per provider URL, whatever the number of
    registrations and entities it serves (kept under the first registration's id)."""
    for target in targets.values():
        if same_provider(target.registration, reg):
            return target
    return targets.setdefault(reg.id, UpdateTarget(reg))


def _provider_of(
    regs: Sequence[Registration], entity_id: str, entity_type: str | None, name: str, local: Entity | None
) -> Registration | None:
    """The first registration (in creation order) serving this attribute of this entity."""
    for reg in regs:
        if reg.attrs and name not in reg.attrs:
            continue
        for provided in reg.entities:
            if _serves(provided, entity_id, entity_type) and (
                local is None or provided.type is None or provided.type == local.type
            ):
                return reg
    return None


def _registered_type(reg: Registration, entity_id: str) -> str | None:
    for provided in reg.entities:
        if provided.id == entity_id or provided.id is None:
            return provided.type
    return None
