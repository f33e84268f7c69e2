"""Domain objects -> NGSI-v2 JSON trees, in Orion's formats (normalized, keyValues, values, unique).

Numbers are rendered as Orion does (integral floats as integers, at most 9 decimals), dates as
`YYYY-MM-DDThh:mm:ss.sssZ`. Built-in attributes and metadata appear only when asked for by name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from broker.ngsi.datetimes import format_iso8601
from broker.ngsi.geo import is_location
from broker.ngsi.model import EXPIRY_ATTR, Attribute, Entity

_INT64 = 2**63
_PRECISION = 1e-9


def render_number(x: float) -> int | float:
    """Orion's `double2string`: a value within 1e-9 of its integer part (toward zero) prints as that
    integer (so 42.000000001 is 42), any other with nine decimals, trailing zeros removed."""
    if not math.isfinite(x):
        return 0
    if x.is_integer() and -_INT64 <= x < _INT64:  # the common case, answered without formatting
        return int(x)
    whole = math.trunc(x)
    if -_PRECISION < x - whole < _PRECISION and -_INT64 <= whole < _INT64:
        return int(whole)
    value = float(f"{x:.9f}")  # 42.9999999999 -> 43.000000000 -> 43
    if value.is_integer() and -_INT64 <= value < _INT64:
        return int(value)
    return value


def render_json(value: Any) -> Any:
    """A JSON tree with Orion's number rendering applied to every float."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most values: nothing to do
        return value
    if isinstance(value, float):
        return render_number(value)
    if isinstance(value, dict):
        return {k: render_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render_json(v) for v in value]
    return value


def _typed_value(type_: str, value: Any, is_date: bool) -> Any:
    if is_date and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_iso8601(value)
    return render_json(value)


@dataclass(frozen=True)
class Projection:
    """A parsed `attrs` or `metadata` list: None means every user-defined name, no built-ins."""

    names: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str | None) -> Projection:
        if text is None or text == "":
            return cls(None)
        return cls(tuple(n for n in text.split(",") if n != ""))

    def with_builtins(self, builtins: tuple[str, ...]) -> Projection:
        """Also these built-ins, besides what is already selected (every attribute when nothing was)."""
        if not builtins:
            return self
        names = self.names or ("*",)
        return Projection(names + tuple(b for b in builtins if b not in names))

    def includes_user(self, name: str) -> bool:
        return self.names is None or "*" in self.names or name in self.names

    def asks_for(self, builtin: str) -> bool:
        return self.names is not None and builtin in self.names


ALL = Projection(None)
BUILTIN_ATTR_NAMES = ("dateCreated", "dateModified", "dateExpires", "servicePath")

BUILTIN_MD_NAMES = ("dateCreated", "dateModified")


def stored_order(names: Iterable[str]) -> list[str]:
    """Names in the order Orion reads them back: it collects a document's field names into a
    `std::set`, so attributes and metadata come sorted by their stored (`.` -> `=`) names."""
    ordered = sorted(names)
    if any("." in name for name in ordered):
        ordered.sort(key=lambda name: name.replace(".", "="))
    return ordered


def render_metadata(attr: Attribute, md: Projection = ALL) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in stored_order(attr.metadata):
        m = attr.metadata[name]
        if md.includes_user(name):
            is_date = m.type in ("DateTime", "ISO8601")
            out[name] = {"type": m.type, "value": _typed_value(m.type, m.value, is_date)}
    # a metadata the client named like a built-in takes its place, as attributes do
    if md.asks_for("dateCreated") and attr.cre_date and "dateCreated" not in attr.metadata:
        out["dateCreated"] = {"type": "DateTime", "value": format_iso8601(attr.cre_date)}
    if md.asks_for("dateModified") and attr.mod_date and "dateModified" not in attr.metadata:
        out["dateModified"] = {"type": "DateTime", "value": format_iso8601(attr.mod_date)}
    return out


def _feature_geometry(value: dict[str, Any]) -> Any:
    kind = value.get("type")
    if kind == "Feature":
        return value.get("geometry")
    if kind == "FeatureCollection":
        features = value.get("features")
        if isinstance(features, list) and features and isinstance(features[0], dict):
            return features[0].get("geometry")
    return None


def as_read_back(attr: Attribute) -> Attribute:
    """The attribute as Orion reads it back from its database: a `geo:json` Feature shows only its
    `geometry`, a FeatureCollection the geometry of its one feature (the whole value stays stored);
    `ignoreType: true` turns this off, as it turns off the location."""
    if attr.type != "geo:json" or not isinstance(attr.value, dict) or not is_location(attr):
        return attr
    geometry = _feature_geometry(attr.value)
    return attr if geometry is None else dataclasses.replace(attr, value=geometry)


def render_attribute(attr: Attribute, md: Projection = ALL) -> dict[str, Any]:
    return {
        "type": attr.type,
        "value": _typed_value(attr.type, attr.value, attr.is_datetime),
        "metadata": render_metadata(attr, md),
    }


def attribute_value(attr: Attribute) -> Any:
    return _typed_value(attr.type, attr.value, attr.is_datetime)


def _builtin_attributes(entity: Entity, attrs: Projection) -> Iterable[tuple[str, Attribute]]:
    if attrs.asks_for("dateCreated") and "dateCreated" not in entity.attrs:
        yield "dateCreated", Attribute("DateTime", entity.cre_date)
    if attrs.asks_for("dateModified") and "dateModified" not in entity.attrs:
        yield "dateModified", Attribute("DateTime", entity.mod_date)
    if attrs.asks_for("servicePath") and "servicePath" not in entity.attrs:
        yield "servicePath", Attribute("Text", entity.service_path)
    if attrs.asks_for(EXPIRY_ATTR) and EXPIRY_ATTR in entity.attrs:
        yield EXPIRY_ATTR, entity.attrs[EXPIRY_ATTR]  # the client's own, but shown as a built-in (Orion)


def selected_attributes(entity: Entity, attrs: Projection) -> list[tuple[str, Attribute]]:
    """The attributes `attrs` selects, as Orion's `filterAndOrderAttrs`.

    No list: the entity's own attributes in Orion's stored order (sorted by name, see
    `stored_order`). A list with `*`: the same, then the
    built-ins it names (`dateExpires` keeps its place among the attributes). A list without `*`:
    the list's order (as `values` needs).
    """
    own = [(name, as_read_back(entity.attrs[name])) for name in stored_order(entity.attrs)]
    if attrs.names is None:
        return [(name, a) for name, a in own if name != EXPIRY_ATTR]
    builtins = list(_builtin_attributes(entity, attrs))
    if "*" in attrs.names:
        chosen = [(n, a) for n, a in own if n != EXPIRY_ATTR or EXPIRY_ATTR in attrs.names]
        return chosen + [(n, a) for n, a in builtins if n != EXPIRY_ATTR]
    pool = {name: a for name, a in own if name != EXPIRY_ATTR}
    pool.update(dict(builtins))
    return [(name, pool[name]) for name in dict.fromkeys(attrs.names) if name in pool]


def render_entity(entity: Entity, fmt: str = "normalized", attrs: Projection = ALL, md: Projection = ALL) -> Any:
    chosen = selected_attributes(entity, attrs)
    if fmt == "values":
        return [attribute_value(a) for _, a in chosen]
    if fmt == "unique":  # Orion's toJsonUniqueValues: a value already in this entity's array is left out
        out_values: list[Any] = []
        seen: set[bytes] = set()
        for _, a in chosen:
            value = attribute_value(a)
            key = orjson.dumps(value)
            if key not in seen:
                seen.add(key)
                out_values.append(value)
        return out_values
    out: dict[str, Any] = {"id": entity.id, "type": entity.type}
    if fmt == "keyValues":
        for name, a in chosen:
            out[name] = attribute_value(a)
    else:
        for name, a in chosen:
            out[name] = render_attribute(a, md)
    return out


def render_entity_attrs(entity: Entity, fmt: str = "normalized", attrs: Projection = ALL, md: Projection = ALL) -> Any:
    """`GET /v2/entities/{id}/attrs`: the entity without id and type."""
    rendered = render_entity(entity, fmt, attrs, md)
    if isinstance(rendered, dict):
        rendered.pop("id")
        rendered.pop("type")
    return rendered
