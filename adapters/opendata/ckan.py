"""CKAN: a dataset or resource page URL resolved through the action API (`package_show`, `resource_show`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

SUPPORTED = {"csv": "csv", "geojson": "geojson", "json": "geojson"}
_DATASET = re.compile(r"^(?P<base>.*?)/dataset/(?P<dataset>[^/?#]+)(/resource/(?P<resource>[^/?#]+))?/?$")
_ACTION = re.compile(r"^(?P<base>.*?)/api/3/action/(?P<action>package_show|resource_show)$")


class CkanError(ValueError):
    pass


@dataclass(frozen=True)
class CkanResource:
    url: str
    kind: str  # "csv" or "geojson"
    name: str


def is_ckan_url(url: str) -> bool:
    path = urlsplit(url).path
    return bool(_DATASET.match(url.split("?")[0]) or _ACTION.match(path)) and not path.lower().endswith(
        (".csv", ".geojson", ".json")
    )


def _kind(resource: dict[str, Any]) -> str | None:
    fmt = str(resource.get("format") or "").strip().lower()
    if fmt in SUPPORTED:
        return SUPPORTED[fmt]
    url = str(resource.get("url") or "").lower().split("?")[0]
    if url.endswith(".csv"):
        return "csv"
    if url.endswith((".geojson", ".json")):
        return "geojson"
    return None


async def _action(session: aiohttp.ClientSession, base: str, action: str, ident: str) -> dict[str, Any]:
    url = f"{base}/api/3/action/{action}"
    async with session.get(url, params={"id": ident}) as resp:
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            raise CkanError(f"{url} did not answer JSON (status {resp.status})") from None
    if not isinstance(body, dict) or not body.get("success"):
        message = (
            body.get("error", {}).get("message")
            if isinstance(body, dict) and isinstance(body.get("error"), dict)
            else None
        )
        raise CkanError(f"CKAN {action} {ident!r} failed: {message or 'no such dataset or resource'}")
    return body["result"]


def _resource(result: dict[str, Any]) -> CkanResource:
    kind = _kind(result)
    if kind is None:
        raise CkanError(
            f"resource {result.get('name') or result.get('id')!r} is {result.get('format')!r}, not CSV or GeoJSON"
        )
    return CkanResource(str(result["url"]), kind, str(result.get("name") or result.get("id")))


async def resolve(session: aiohttp.ClientSession, url: str) -> CkanResource:
    """The CSV or GeoJSON resource a CKAN URL designates (for a dataset: its first such resource)."""
    split = urlsplit(url)
    action = _ACTION.match(f"{split.scheme}://{split.netloc}{split.path}")
    if action:
        ident = (parse_qs(split.query).get("id") or [""])[0]
        base, name = action.group("base"), action.group("action")
        dataset, resource = (ident, None) if name == "package_show" else (None, ident)
    else:
        m = _DATASET.match(url.split("?")[0])
        if m is None:
            raise CkanError(f"{url} is not a CKAN dataset or resource URL")
        base, dataset, resource = m.group("base"), m.group("dataset"), m.group("resource")
    if resource:
        return _resource(await _action(session, base, "resource_show", resource))
    package = await _action(session, base, "package_show", str(dataset))
    for r in package.get("resources") or []:
        if _kind(r) is not None:
            return _resource(r)
    raise CkanError(f"dataset {dataset!r} has no CSV or GeoJSON resource")
