"""Change events: what a write tells the notification side.

The core builds one event per entity changed and hands them to its sink (`broker.core.sink`)."""

from __future__ import annotations

from dataclasses import dataclass

from broker.ngsi.model import Attribute, Entity


@dataclass(frozen=True)
class ChangeEvent:
    tenant: str
    before: Entity | None  # None: the entity was created
    after: Entity | None  # None: the entity was deleted
    request_attrs: tuple[str, ...]  # attributes the request named (Orion: "updated" attributes)
    correlator: str = ""
    auth_token: str = ""  # the request's X-Auth-Token (Orion forwards it with the notification)
    forced: bool = False  # `options=forcedUpdate`: every attribute the request named counts as changed

    @property
    def entity(self) -> Entity:
        current = self.after if self.after is not None else self.before
        assert current is not None
        return current

    @property
    def alteration(self) -> str:
        if self.before is None:
            return "entityCreate"
        if self.after is None:
            return "entityDelete"
        return "entityChange" if self.changed_attrs(True) else "entityUpdate"

    def changed_attrs(self, with_metadata: bool) -> tuple[str, ...]:
        """Attributes whose value or type (and metadata, if asked) differ, plus added and removed ones;
        with `forced`, also every attribute the request named that the entity has.

        Computed once per event: every subscription the event is matched against asks again.
        """
        cache = self.__dict__.setdefault("_changed", {})
        if with_metadata not in cache:
            cache[with_metadata] = self._changed_attrs(with_metadata)
        return cache[with_metadata]

    def _changed_attrs(self, with_metadata: bool) -> tuple[str, ...]:
        before = self.before.attrs if self.before is not None else {}
        after = self.after.attrs if self.after is not None else {}
        out = [n for n in after if n not in before or attribute_changed(before[n], after[n], with_metadata)]
        out += [n for n in before if n not in after]
        if self.forced and self.before is not None and self.after is not None:
            out += [n for n in self.request_attrs if n in after and n not in out]
        return tuple(out)


def attribute_changed(a: Attribute, b: Attribute, with_metadata: bool) -> bool:
    """Whether `b` differs from `a` in type or value (and metadata, if asked), as Orion judges it."""
    if a.type != b.type or not same_value(a.value, b.value):
        return True
    if with_metadata:
        if a.metadata.keys() != b.metadata.keys():
            return True
        return any(
            m.type != b.metadata[k].type or not same_value(m.value, b.metadata[k].value) for k, m in a.metadata.items()
        )
    return False


def same_value(a: object, b: object) -> bool:
    """Whether two JSON values are the same for change detection.

    Orion stores every number as a double, so `20` and `20.0` are one value (a client that sent
    `20.0` and later `20` as text/plain changed nothing); a boolean is never a number.
    """
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    return a == b


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
