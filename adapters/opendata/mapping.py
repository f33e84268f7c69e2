"""The mapping file: which columns become which typed attributes of which entity, and how values are converted.

    {"type": "AED", "id": "AED-{No}",
     "attrs": {"名称": {"name": "name", "type": "Text"}, "設置場所": "address"},
     "location": {"lat": "緯度", "lon": "経度"}}

An attribute given by name alone gets its type from its column (Number, Boolean, DateTime or Text);
columns not listed are not imported. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.opendata.geojson_reader import geometry_problem
from adapters.opendata.ids import is_valid_name, render_template, sanitize_id, template_fields
from adapters.opendata.records import Record

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
LEADING_ZERO = re.compile(r"^[+-]?0\d")
TRUE_WORDS = {"true", "yes", "1", "有", "あり", "○", "〇"}
FALSE_WORDS = {"false", "no", "0", "無", "なし", "×"}
FORBIDDEN_VALUE_CHARS = set("<>\"'=;()")
RESERVED_ATTRS = {"id", "type", "geo:distance", "*", "dateCreated", "dateModified", "dateExpires"}
KNOWN_TYPES = {"Text", "Number", "Boolean", "DateTime", "StructuredValue", "TextUnrestricted", "geo:json"}


class MappingError(ValueError):
    """The mapping file itself is wrong; the run stops before reading the source."""


@dataclass(frozen=True)
class AttrSpec:
    column: str
    name: str
    type: str | None  # None: inferred from the column's values


@dataclass(frozen=True)
class LocationSpec:
    lat: str
    lon: str
    name: str = "location"


@dataclass(frozen=True)
class Mapping:
    entity_type: str
    id_template: str
    attrs: tuple[AttrSpec, ...]
    location: LocationSpec | None = None
    geometry_attr: str = "location"
    timezone: str = "UTC"


def parse_mapping(doc: Any) -> Mapping:
    if not isinstance(doc, dict):
        raise MappingError("the mapping must be a JSON object")
    entity_type = doc.get("type")
    if not isinstance(entity_type, str) or not is_valid_name(entity_type):
        raise MappingError('"type" must be an entity type NGSI-v2 accepts (printable ASCII, no spaces or & ? / # ...)')
    template = doc.get("id")
    if not isinstance(template, str) or not template_fields(template):
        raise MappingError('"id" must be a template naming at least one column, e.g. "AED-{No}"')
    attrs_doc = doc.get("attrs", {})
    if not isinstance(attrs_doc, dict):
        raise MappingError('"attrs" must be an object {column: name or {"name", "type"}}')
    specs = []
    for column, target in attrs_doc.items():
        if isinstance(target, str):
            name, type_ = target, None
        elif isinstance(target, dict) and isinstance(target.get("name", column), str):
            name, type_ = target.get("name", column), target.get("type")
            if type_ is not None and (not isinstance(type_, str) or not is_valid_name(type_)):
                raise MappingError(f"attrs.{column}: type {type_!r} is not a valid NGSI-v2 type")
        else:
            raise MappingError(f'attrs.{column}: give a target name or {{"name": ..., "type": ...}}')
        if not is_valid_name(name) or name in RESERVED_ATTRS:
            raise MappingError(f"attrs.{column}: {name!r} is not an attribute name NGSI-v2 accepts")
        specs.append(AttrSpec(column, name, type_))
    location = None
    loc = doc.get("location")
    if loc is not None:
        if not isinstance(loc, dict) or not isinstance(loc.get("lat"), str) or not isinstance(loc.get("lon"), str):
            raise MappingError('"location" must be {"lat": column, "lon": column}')
        location = LocationSpec(loc["lat"], loc["lon"], loc.get("name", "location"))
    tz = doc.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise MappingError(f'"timezone" {tz!r} is not a known time zone') from None
    names = [s.name for s in specs] + ([location.name] if location else [])
    if len(names) != len(set(names)):
        raise MappingError("two columns map to the same attribute name")
    return Mapping(entity_type, template, tuple(specs), location, doc.get("geometryAttr", "location"), tz)


# --- values


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def parse_datetime(text: str, tz: str) -> str:
    """ISO 8601 or `YYYY/MM/DD[ hh:mm[:ss]]` as UTC `YYYY-MM-DDThh:mm:ss.sssZ`; naive times are in `tz`."""
    t = text.strip().replace("/", "-")
    if " " in t and "T" not in t:
        t = t.replace(" ", "T", 1)
    if re.match(r"^\d{4}-\d{1,2}-\d{1,2}", t):
        date, _, rest = t.partition("T")
        y, m, d = date.split("-")
        t = f"{y}-{int(m):02d}-{int(d):02d}" + (f"T{rest}" if rest else "")
    else:
        raise ValueError(f"{text!r} is not a date")
    moment = datetime.fromisoformat(t.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def infer_type(values: list[Any], tz: str) -> str:
    """Number, Boolean, DateTime or Text: the narrowest type every non-blank value of a column fits."""
    present = [v for v in values if not _is_blank(v)]
    if not present:
        return "Text"
    if all(isinstance(v, bool) for v in present):
        return "Boolean"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "Number"
    if all(isinstance(v, (dict, list)) for v in present):
        return "StructuredValue"
    texts = [v for v in present if isinstance(v, str)]
    if len(texts) != len(present):
        return "Text"
    if all(NUMBER.match(v.strip()) and not LEADING_ZERO.match(v.strip()) for v in texts):
        return "Number"
    if all(v.strip().lower() in ("true", "false") for v in texts):
        return "Boolean"
    try:
        for v in texts:
            parse_datetime(v, tz)
        return "DateTime"
    except ValueError:
        return "Text"


def convert(value: Any, type_: str, tz: str) -> Any:
    """The value as `type_`; raises ValueError with a reason."""
    if type_ == "Number":
        if isinstance(value, bool):
            raise ValueError("is a boolean, not a number")
        if isinstance(value, (int, float)):
            return value
        text = str(value).strip().replace(",", "")
        if not NUMBER.match(text):
            raise ValueError(f"{value!r} is not a number")
        n = float(text)
        return int(n) if n.is_integer() and abs(n) < 2**53 else n
    if type_ == "Boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if type_ == "DateTime":
        return parse_datetime(str(value), tz)
    if type_ in ("StructuredValue", "geo:json") and isinstance(value, (dict, list)):
        return value
    text = value if isinstance(value, str) else str(value)
    if type_ != "TextUnrestricted" and FORBIDDEN_VALUE_CHARS & set(text):
        raise ValueError(
            f"{text!r} holds characters NGSI-v2 forbids in text (< > \" ' = ; ( )); "
            'declare the attribute {"type": "TextUnrestricted"} to keep them'
        )
    return text


def point(record: Record, spec: LocationSpec) -> dict[str, Any]:
    """A `geo:json` Point (longitude, latitude) from two columns; raises ValueError when they are not coordinates."""
    lat_raw, lon_raw = record.fields.get(spec.lat), record.fields.get(spec.lon)
    if _is_blank(lat_raw) or _is_blank(lon_raw):
        raise ValueError(f"latitude ({spec.lat}) or longitude ({spec.lon}) is empty")
    try:
        lat, lon = float(str(lat_raw).strip()), float(str(lon_raw).strip())
    except ValueError:
        raise ValueError(f"coordinates {lat_raw!r}, {lon_raw!r} are not numbers") from None
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {lat} is outside [-90, 90]")
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {lon} is outside [-180, 180]")
    return {"type": "Point", "coordinates": [lon, lat]}


# --- records -> entities


def column_types(mapping: Mapping, records: list[Record]) -> dict[str, str]:
    """Each mapped column's type: the declared one, else inferred over all usable records."""
    usable = [r for r in records if r.problem is None]
    return {
        s.column: s.type or infer_type([r.fields.get(s.column) for r in usable], mapping.timezone)
        for s in mapping.attrs
    }


def to_entity(mapping: Mapping, record: Record, types: dict[str, str]) -> dict[str, Any]:
    """The NGSI-v2 entity for one record; raises ValueError with the reason the record cannot be imported."""
    if record.problem is not None:
        raise ValueError(record.problem)
    try:
        raw_id = render_template(mapping.id_template, record.fields)
    except KeyError as e:
        raise ValueError(
            f"id template {mapping.id_template!r} needs column {e.args[0]!r}, which is missing or empty"
        ) from None
    entity: dict[str, Any] = {"id": sanitize_id(raw_id), "type": mapping.entity_type}
    for spec in mapping.attrs:
        value = record.fields.get(spec.column)
        if _is_blank(value):
            continue
        type_ = types[spec.column]
        try:
            entity[spec.name] = {"type": type_, "value": convert(value, type_, mapping.timezone)}
        except ValueError as e:
            raise ValueError(f"column {spec.column!r}: {e}") from None
    if mapping.location is not None:
        entity[mapping.location.name] = {"type": "geo:json", "value": point(record, mapping.location)}
    elif record.geometry is not None:
        problem = geometry_problem(record.geometry)
        if problem:
            raise ValueError(problem)
        entity[mapping.geometry_attr] = {"type": "geo:json", "value": record.geometry}
    return entity
