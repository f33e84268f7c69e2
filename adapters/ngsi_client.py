"""A small NGSI-v2 client over aiohttp: batch update and batch query, with tenancy headers.

Shared by the IoT agent and the open-data importer; it knows only the public NGSI-v2 API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

QUERY_PAGE = 1000


@dataclass(frozen=True)
class Destination:
    """Where updates go: broker base URL, tenant and service path."""

    broker: str
    service: str = ""
    service_path: str = "/"

    def headers(self) -> dict[str, str]:
        h = {"Fiware-ServicePath": self.service_path or "/"}
        if self.service:
            h["Fiware-Service"] = self.service
        return h


class BrokerError(Exception):
    """The broker answered with an error status; `transient` when retrying may succeed."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"broker answered {status}: {body[:300]}")
        self.status = status
        self.body = body

    @property
    def transient(self) -> bool:
        return self.status >= 500 or self.status in (408, 429)


class NgsiClient:
    """Stateless calls on one aiohttp session; connection failures surface as aiohttp.ClientError."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def batch_update(self, dest: Destination, entities: list[dict[str, Any]], action: str = "append") -> None:
        """POST /v2/op/update; raises BrokerError unless 204."""
        body = orjson.dumps({"actionType": action, "entities": entities})
        headers = {**dest.headers(), "Content-Type": "application/json"}
        url = dest.broker.rstrip("/") + "/v2/op/update"
        async with self._session.post(url, data=body, headers=headers, timeout=self._timeout) as resp:
            text = await resp.text()
            if resp.status != 204:
                raise BrokerError(resp.status, text)

    async def query_ids(self, dest: Destination, type_: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Entities of `type_` among `ids` as the broker holds them (normalized), keyed by id."""
        found: dict[str, dict[str, Any]] = {}
        url = dest.broker.rstrip("/") + "/v2/op/query"
        headers = {**dest.headers(), "Content-Type": "application/json"}
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            body = orjson.dumps({"entities": [{"id": i, "type": type_} for i in chunk]})
            offset = 0
            while True:
                params = {"limit": str(QUERY_PAGE), "offset": str(offset)}
                async with self._session.post(
                    url, data=body, headers=headers, params=params, timeout=self._timeout
                ) as resp:
                    text = await resp.text()
                    if resp.status != 200:
                        raise BrokerError(resp.status, text)
                    page = orjson.loads(text)
                for entity in page:
                    found[entity["id"]] = entity
                if len(page) < QUERY_PAGE:
                    break
                offset += QUERY_PAGE
        return found
