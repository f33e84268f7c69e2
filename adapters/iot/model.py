"""Provisioning records (service groups and devices) and their IoT Agent API JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import jsonschema

# NGSI-v2 ids, types and names: 1-256 printable ASCII without whitespace or " # & ' ( ) / ; < = > ?
NGSI_NAME = r"^[!$%*+,.:@\[\]^_`{|}~0-9A-Za-z\\-]{1,256}$"
_ATTR = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "object_id": {"type": "string", "minLength": 1},
        "name": {"type": "string", "pattern": NGSI_NAME},
        "type": {"type": "string", "pattern": NGSI_NAME},
        "metadata": {"type": "object"},
    },
}
_STATIC = {
    "type": "object",
    "required": ["name", "value"],
    "properties": {
        "name": {"type": "string", "pattern": NGSI_NAME},
        "type": {"type": "string", "pattern": NGSI_NAME},
        "metadata": {"type": "object"},
    },
}
_LISTS = {
    "attributes": {"type": "array", "items": _ATTR},
    "lazy": {"type": "array", "items": _ATTR},
    "commands": {"type": "array", "items": _ATTR},
    "static_attributes": {"type": "array", "items": _STATIC},
}
GROUP_SCHEMA = {
    "type": "object",
    "required": ["apikey"],
    "properties": {
        "apikey": {"type": "string", "minLength": 1},
        "resource": {"type": "string"},
        "entity_type": {"type": "string", "pattern": NGSI_NAME},
        "cbroker": {"type": "string"},
        "cbHost": {"type": "string"},
        "explicitAttrs": {"type": ["boolean", "string"]},
        "timestamp": {"type": "boolean"},
        "autoprovision": {"type": "boolean"},
        **_LISTS,
    },
}
GROUP_UPDATE_SCHEMA = {**GROUP_SCHEMA, "required": []}
DEVICE_SCHEMA = {
    "type": "object",
    "required": ["device_id"],
    "properties": {
        "device_id": {"type": "string", "pattern": NGSI_NAME},
        "entity_name": {"type": "string", "pattern": NGSI_NAME},
        "entity_type": {"type": "string", "pattern": NGSI_NAME},
        "apikey": {"type": "string"},
        "protocol": {"type": "string"},
        "transport": {"type": "string"},
        "timezone": {"type": "string"},
        "timestamp": {"type": "boolean"},
        "explicitAttrs": {"type": ["boolean", "string"]},
        **_LISTS,
    },
}
DEVICE_UPDATE_SCHEMA = {**DEVICE_SCHEMA, "required": []}


def schema_errors(schema: dict[str, Any], body: Any) -> str | None:
    """The first validation error as text, or None when `body` conforms."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(body))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@dataclass(frozen=True)
class AttrMapping:
    """A measure (`object_id`, as the device names it) mapped to an entity attribute."""

    name: str
    type: str = "Text"
    object_id: str | None = None
    metadata: dict[str, Any] | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> AttrMapping:
        return cls(
            name=d["name"], type=d.get("type") or "Text", object_id=d.get("object_id"), metadata=d.get("metadata")
        )

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"object_id": self.object_id, "name": self.name, "type": self.type}
        if self.object_id is None:
            del out["object_id"]
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out


def _mappings(items: list[dict[str, Any]] | None) -> tuple[AttrMapping, ...]:
    return tuple(AttrMapping.from_api(i) for i in items or ())


@dataclass(frozen=True)
class ServiceGroup:
    """Config for every device sending with one apikey (and resource) in one service and subservice."""

    service: str
    subservice: str
    apikey: str
    resource: str = "/iot/d"
    entity_type: str | None = None
    cbroker: str | None = None
    attributes: tuple[AttrMapping, ...] = ()
    lazy: tuple[AttrMapping, ...] = ()
    static_attributes: tuple[dict[str, Any], ...] = ()
    explicit_attrs: bool = False
    timestamp: bool | None = None
    autoprovision: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "apikey",
        "resource",
        "entity_type",
        "cbroker",
        "cbHost",
        "attributes",
        "lazy",
        "static_attributes",
        "explicitAttrs",
        "timestamp",
        "autoprovision",
        "service",
        "subservice",
    )

    @classmethod
    def from_api(cls, service: str, subservice: str, d: dict[str, Any], default_resource: str) -> ServiceGroup:
        return cls(
            service=service,
            subservice=subservice,
            apikey=d["apikey"],
            resource=d.get("resource") or default_resource,
            entity_type=d.get("entity_type"),
            cbroker=d.get("cbroker") or d.get("cbHost"),
            attributes=_mappings(d.get("attributes")),
            lazy=_mappings(d.get("lazy")),
            static_attributes=tuple(d.get("static_attributes") or ()),
            explicit_attrs=d.get("explicitAttrs") is True,
            timestamp=d.get("timestamp"),
            autoprovision=d.get("autoprovision", True) is not False,
            extra={k: v for k, v in d.items() if k not in cls._KNOWN},
        )

    def updated(self, d: dict[str, Any]) -> ServiceGroup:
        """This group with the fields present in a PUT body replaced (apikey and resource stay)."""
        merged = {**self.to_api(), **d, "apikey": self.apikey, "resource": self.resource}
        if "cbHost" in d:
            merged["cbroker"] = d["cbHost"]
        return ServiceGroup.from_api(self.service, self.subservice, merged, self.resource)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.extra,
            "service": self.service,
            "subservice": self.subservice,
            "resource": self.resource,
            "apikey": self.apikey,
            "entity_type": self.entity_type,
            "cbroker": self.cbroker,
            "attributes": [a.to_api() for a in self.attributes],
            "lazy": [a.to_api() for a in self.lazy],
            "static_attributes": list(self.static_attributes),
            "explicitAttrs": self.explicit_attrs,
            "autoprovision": self.autoprovision,
        }
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Device:
    """One device: which entity its measures update and how they are named and typed."""

    service: str
    subservice: str
    device_id: str
    entity_name: str
    entity_type: str
    apikey: str | None = None
    protocol: str | None = None
    transport: str | None = None
    timezone: str | None = None
    attributes: tuple[AttrMapping, ...] = ()
    lazy: tuple[AttrMapping, ...] = ()
    static_attributes: tuple[dict[str, Any], ...] = ()
    explicit_attrs: bool | None = None
    timestamp: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "device_id",
        "entity_name",
        "entity_type",
        "apikey",
        "protocol",
        "transport",
        "timezone",
        "attributes",
        "lazy",
        "static_attributes",
        "explicitAttrs",
        "timestamp",
        "service",
        "service_path",
    )

    @classmethod
    def from_api(cls, service: str, subservice: str, d: dict[str, Any], default_type: str = "Thing") -> Device:
        entity_type = d.get("entity_type") or default_type
        explicit = d.get("explicitAttrs")
        return cls(
            service=service,
            subservice=subservice,
            device_id=d["device_id"],
            entity_name=d.get("entity_name") or f"{entity_type}:{d['device_id']}",
            entity_type=entity_type,
            apikey=d.get("apikey"),
            protocol=d.get("protocol"),
            transport=d.get("transport"),
            timezone=d.get("timezone"),
            attributes=_mappings(d.get("attributes")),
            lazy=_mappings(d.get("lazy")),
            static_attributes=tuple(d.get("static_attributes") or ()),
            explicit_attrs=None if explicit is None else explicit is True,
            timestamp=d.get("timestamp"),
            extra={k: v for k, v in d.items() if k not in cls._KNOWN},
        )

    def updated(self, d: dict[str, Any]) -> Device:
        return Device.from_api(self.service, self.subservice, {**self.to_api(), **d, "device_id": self.device_id})

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.extra,
            "device_id": self.device_id,
            "service": self.service,
            "service_path": self.subservice,
            "entity_name": self.entity_name,
            "entity_type": self.entity_type,
            "apikey": self.apikey,
            "protocol": self.protocol,
            "transport": self.transport,
            "timezone": self.timezone,
            "attributes": [a.to_api() for a in self.attributes],
            "lazy": [a.to_api() for a in self.lazy],
            "static_attributes": list(self.static_attributes),
            "explicitAttrs": self.explicit_attrs,
            "timestamp": self.timestamp,
        }
        return {k: v for k, v in out.items() if v is not None}


def autoprovisioned(group: ServiceGroup, device_id: str, transport: str) -> Device:
    """The device the IoT Agent creates for an unknown id under a known apikey: group type, `<type>:<id>` name."""
    entity_type = group.entity_type or "Thing"
    return replace(
        Device.from_api(group.service, group.subservice, {"device_id": device_id, "entity_type": entity_type}),
        apikey=group.apikey,
        transport=transport,
    )
