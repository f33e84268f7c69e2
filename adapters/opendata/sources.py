"""Load a source (file path, http(s) URL, or CKAN dataset/resource URL) into a Dataset of records."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.opendata import ckan
from adapters.opendata.csv_reader import read_csv
from adapters.opendata.geojson_reader import read_geojson
from adapters.opendata.records import Dataset

MAX_SOURCE_BYTES = 512 * 1024 * 1024


class SourceError(ValueError):
    """The source cannot be read at all; the run stops with this message."""


def guess_kind(name: str, content_type: str | None, data: bytes) -> str:
    lower = name.lower().split("?")[0]
    if lower.endswith((".geojson", ".json")):
        return "geojson"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if content_type and ("geo+json" in content_type or "json" in content_type):
        return "geojson"
    if content_type and "csv" in content_type:
        return "csv"
    return "geojson" if data.lstrip()[:1] in (b"{", b"[") else "csv"


async def _fetch(session: aiohttp.ClientSession, url: str) -> tuple[bytes, str | None]:
    try:
        async with session.get(url) as resp:
            if resp.status != 200:
                raise SourceError(f"{url} answered {resp.status}")
            data = await resp.content.read(MAX_SOURCE_BYTES + 1)
            if len(data) > MAX_SOURCE_BYTES:
                raise SourceError(f"{url} is larger than {MAX_SOURCE_BYTES} bytes")
            return data, resp.headers.get("Content-Type")
    except aiohttp.ClientError as e:
        raise SourceError(f"cannot fetch {url}: {e}") from None


async def load(
    session: aiohttp.ClientSession, source: str, encoding: str | None = None, delimiter: str | None = None
) -> Dataset:
    kind: str | None = None
    name = source
    if source.startswith(("http://", "https://")):
        if ckan.is_ckan_url(source):
            try:
                resource = await ckan.resolve(session, source)
            except ckan.CkanError as e:
                raise SourceError(str(e)) from None
            name, kind = resource.url, resource.kind
        data, content_type = await _fetch(session, name)
    else:
        path = Path(source)
        if not path.is_file():
            raise SourceError(f"{source}: no such file")
        data, content_type = path.read_bytes(), None
    kind = kind or guess_kind(name, content_type, data)
    if kind == "geojson":
        try:
            return read_geojson(name, data)
        except ValueError as e:
            raise SourceError(str(e)) from None
    sep = delimiter or ("\t" if name.lower().split("?")[0].endswith(".tsv") else ",")
    try:
        return read_csv(name, data, encoding, sep)
    except (ValueError, LookupError) as e:
        raise SourceError(f"{name}: {e}") from None
