"""Consent decisions, pure: what a caller may see and write of a tenant's personal types.

A `View` is built per request from the tenant's personal types and the caller's active consents.
It yields the storage `Visibility` constraint (so filtering, counting and paging happen in the
query) and projects the entities the query returns to the consented attributes. A resident always
sees and writes its own data; an operator has no access to personal data at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from broker.ngsi.consent import Consent
from broker.ngsi.model import Entity
from broker.ngsi.selection import Grant, Visibility, subject_of

SELF = "self"  # the consent id recorded for a resident's access to its own data


@dataclass(frozen=True)
class Access:
    """What one subject's entities of one type show to the caller, and under which consents."""

    attrs: frozenset[str] | None  # None: every attribute
    consents: tuple[str, ...]

    def shows(self, name: str) -> bool:
        return self.attrs is None or name in self.attrs


def union(a: Access | None, b: Access) -> Access:
    if a is None:
        return b
    attrs = None if a.attrs is None or b.attrs is None else a.attrs | b.attrs
    return Access(attrs, a.consents + tuple(c for c in b.consents if c not in a.consents))


def narrow(entity: Entity, access: Access) -> Entity:
    """The entity with only the attributes `access` shows (its location too, if hidden)."""
    if access.attrs is None:
        return entity
    shown = access.attrs
    location = entity.location if entity.location is not None and entity.location.attr in shown else None
    return Entity(
        entity.id,
        entity.type,
        entity.service_path,
        {n: a for n, a in entity.attrs.items() if n in shown},
        entity.cre_date,
        entity.mod_date,
        entity.version,
        location,
    )


@dataclass
class View:
    personal: dict[str, str]  # personal type -> subject attribute
    access: dict[tuple[str, str], Access] = field(default_factory=dict)  # (type, subject) -> access

    def is_personal(self, entity_type: str) -> bool:
        return entity_type in self.personal

    def subject(self, entity: Entity) -> str | None:
        attr = self.personal.get(entity.type)
        return subject_of(entity, attr) if attr is not None else None

    def access_to(self, entity: Entity) -> Access | None:
        """None: the entity does not exist for the caller. Non-personal entities show everything."""
        if entity.type not in self.personal:
            return Access(None, ())
        subject = self.subject(entity)
        return self.access.get((entity.type, subject)) if subject is not None else None

    @functools.cached_property
    def _visibility(self) -> Visibility:
        groups: dict[tuple[str, frozenset[str] | None], list[str]] = {}
        for (type_, subject), access in self.access.items():
            groups.setdefault((type_, access.attrs), []).append(subject)
        grants = tuple(
            Grant(type_, self.personal[type_], tuple(sorted(subjects)), attrs)
            for (type_, attrs), subjects in sorted(groups.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1] or ())))
        )
        return Visibility(tuple(sorted(self.personal)), grants)

    def visibility(self) -> Visibility:
        """The storage constraint (computed once per view: views are cached and never change)."""
        return self._visibility

    def project(self, entity: Entity) -> Entity | None:
        """The entity as the caller may see it: consented attributes only, or None."""
        access = self.access_to(entity)
        return narrow(entity, access) if access is not None else None


def build_view(
    personal: dict[str, str],
    consents: Iterable[Consent],
    *,
    principal: str | None,
    roles: Iterable[str],
    operation: str,
    now: float,
) -> View:
    """The caller's view: consents to it for `operation`, plus its own data when it is a resident."""
    view = View(dict(personal))
    if principal is None:
        return view
    for c in consents:
        if c.recipient != principal:
            continue
        for type_ in c.entity_types:
            if type_ in personal and c.allows(operation, type_, now):
                access = Access(frozenset(c.attrs) if c.attrs is not None else None, (c.id,))
                view.access[(type_, c.subject)] = union(view.access.get((type_, c.subject)), access)
    if operation != "statistics" and "resident" in roles:
        for type_ in personal:
            view.access[(type_, principal)] = Access(None, (SELF,))
    return view
