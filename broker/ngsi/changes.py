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
        out = [n for n in after if n not in before or _differs(before[n], after[n], with_metadata)]
        out += [n for n in before if n not in after]
        if self.forced and self.before is not None and self.after is not None:
            out += [n for n in self.request_attrs if n in after and n not in out]
        return tuple(out)


def _differs(a: Attribute, b: Attribute, with_metadata: bool) -> bool:
    if a.type != b.type or a.value != b.value or type(a.value) is not type(b.value):
        return True
    if with_metadata:
        return {k: (m.type, m.value) for k, m in a.metadata.items()} != {
            k: (m.type, m.value) for k, m in b.metadata.items()
        }
    return False
