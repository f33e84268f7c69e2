"""Provisioning API of the FIWARE IoT Agents: `/iot/services` (service groups), `/iot/devices`, `/iot/about`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from adapters.iot import errors
from adapters.iot.model import (
    DEVICE_SCHEMA,
    DEVICE_UPDATE_SCHEMA,
    GROUP_SCHEMA,
    GROUP_UPDATE_SCHEMA,
    Device,
    ServiceGroup,
    schema_errors,
)
from adapters.iot.provisioning_store import ProvisioningStore
from adapters.iot.web import make_app

STORE = web.AppKey("store", ProvisioningStore)
DEFAULT_RESOURCE = web.AppKey("default_resource", str)
NORTH_PORT = web.AppKey("north_port", int)
VERSION = "1.0.0"


def _tenancy(request: web.Request) -> tuple[str, str]:
    missing = [h for h in ("fiware-service", "fiware-servicepath") if h not in request.headers]
    if missing:
        raise errors.missing_headers(missing)
    return request.headers["fiware-service"], request.headers["fiware-servicepath"]


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError:
        raise errors.wrong_syntax("the body is not valid JSON") from None


def _page(request: web.Request, items: list[Any]) -> list[Any]:
    try:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query["limit"]) if "limit" in request.query else None
    except ValueError:
        raise errors.wrong_syntax("limit and offset must be integers") from None
    if offset < 0 or (limit is not None and limit < 0):
        raise errors.wrong_syntax("limit and offset must not be negative")
    return items[offset:] if limit is None else items[offset : offset + limit]


def _validated(schema: dict[str, Any], body: Any) -> None:
    problem = schema_errors(schema, body)
    if problem is not None:
        raise errors.wrong_syntax(f"Errors found validating request. {problem}")


# --- service groups


async def list_groups(request: web.Request) -> web.Response:
    service, subservice = _tenancy(request)
    groups = request.app[STORE].groups(service, None if subservice == "/*" else subservice)
    return web.json_response({"count": len(groups), "services": [g.to_api() for g in _page(request, groups)]})


async def create_groups(request: web.Request) -> web.Response:
    service, subservice = _tenancy(request)
    body = await _json(request)
    _validated(
        {
            "type": "object",
            "required": ["services"],
            "properties": {"services": {"type": "array", "minItems": 1, "items": GROUP_SCHEMA}},
        },
        body,
    )
    default = request.app[DEFAULT_RESOURCE]
    groups = [ServiceGroup.from_api(service, subservice, g, default) for g in body["services"]]
    clash = await request.app[STORE].add_groups(groups)
    if clash is not None:
        raise errors.duplicate_group(*clash)
    return web.json_response({}, status=201)


def _target_group(request: web.Request) -> ServiceGroup:
    service, subservice = _tenancy(request)
    missing = [p for p in ("resource", "apikey") if p not in request.query]
    if missing:
        raise errors.missing_headers(missing)
    resource, apikey = request.query["resource"], request.query["apikey"]
    group = request.app[STORE].group(resource, apikey)
    if group is None or group.service != service or group.subservice != subservice:
        raise errors.group_not_found(
            ["service", "subservice", "resource", "apikey"], [service, subservice, resource, apikey]
        )
    return group


async def update_group(request: web.Request) -> web.Response:
    group = _target_group(request)
    body = await _json(request)
    _validated(GROUP_UPDATE_SCHEMA, body)
    changed = {k: v for k, v in body.items() if k not in ("apikey", "resource")}
    await request.app[STORE].replace_group(group.updated(changed))
    return web.Response(status=204)


async def delete_group(request: web.Request) -> web.Response:
    """Remove the group; with `?device=true` also the devices provisioned under its apikey."""
    group = _target_group(request)
    store = request.app[STORE]
    await store.remove_group(group)
    if request.query.get("device") == "true":
        for device in store.devices(group.service, group.subservice):
            if device.apikey == group.apikey:
                await store.remove_device(device)
    return web.Response(status=204)


# --- devices


def _default_type(store: ProvisioningStore, service: str, subservice: str, apikey: str | None) -> str:
    for g in store.groups(service, subservice):
        if (apikey is None or g.apikey == apikey) and g.entity_type:
            return g.entity_type
    return "Thing"


async def list_devices(request: web.Request) -> web.Response:
    service, subservice = _tenancy(request)
    devices = request.app[STORE].devices(service, None if subservice == "/*" else subservice)
    return web.json_response({"count": len(devices), "devices": [d.to_api() for d in _page(request, devices)]})


async def create_devices(request: web.Request) -> web.Response:
    service, subservice = _tenancy(request)
    body = await _json(request)
    _validated(
        {
            "type": "object",
            "required": ["devices"],
            "properties": {"devices": {"type": "array", "minItems": 1, "items": DEVICE_SCHEMA}},
        },
        body,
    )
    store = request.app[STORE]
    devices = [
        Device.from_api(service, subservice, d, _default_type(store, service, subservice, d.get("apikey")))
        for d in body["devices"]
    ]
    clash = await store.add_devices(devices)
    if clash is not None:
        raise errors.duplicate_device(clash)
    return web.json_response({}, status=201)


def _target_device(request: web.Request) -> Device:
    service, subservice = _tenancy(request)
    device_id = request.match_info["device_id"]
    device = request.app[STORE].device(service, subservice, device_id)
    if device is None:
        raise errors.device_not_found(device_id)
    return device


async def get_device(request: web.Request) -> web.Response:
    return web.json_response(_target_device(request).to_api())


async def update_device(request: web.Request) -> web.Response:
    device = _target_device(request)
    body = await _json(request)
    if isinstance(body, dict) and "device_id" in body:
        raise errors.bad_request("Can't change the ID of a preprovisioned device")
    _validated(DEVICE_UPDATE_SCHEMA, body)
    await request.app[STORE].replace_device(device.updated(body))
    return web.Response(status=204)


async def delete_device(request: web.Request) -> web.Response:
    device = _target_device(request)
    await request.app[STORE].remove_device(device)
    return web.Response(status=204)


async def about(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "libVersion": VERSION,
            "port": request.app[NORTH_PORT],
            "baseRoot": "/",
            "version": VERSION,
            "agent": "area-broker IoT agent (UltraLight 2.0, JSON)",
        }
    )


def build_north_app(
    store: ProvisioningStore, default_resource: str = "/iot/d", north_port: int = 4041
) -> web.Application:
    app = make_app(1024 * 1024)
    app[STORE] = store
    app[DEFAULT_RESOURCE] = default_resource
    app[NORTH_PORT] = north_port
    r = app.router
    r.add_route("GET", "/iot/services", list_groups)
    r.add_route("POST", "/iot/services", create_groups)
    r.add_route("PUT", "/iot/services", update_group)
    r.add_route("DELETE", "/iot/services", delete_group)
    r.add_route("GET", "/iot/devices", list_devices)
    r.add_route("POST", "/iot/devices", create_devices)
    r.add_route("GET", "/iot/devices/{device_id}", get_device)
    r.add_route("PUT", "/iot/devices/{device_id}", update_device)
    r.add_route("DELETE", "/iot/devices/{device_id}", delete_device)
    r.add_route("GET", "/iot/about", about)
    return app
