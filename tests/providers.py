"""A scripted context provider for the forwarding tests: a local HTTP server that answers NGSI-v2
`op/query` and `op/update` on any path prefix from the entities it holds, the way an IoT Agent or
another broker answers a broker's forwarded requests, and records what it receives.

`mode` scripts misbehaviour: "hang" answers nothing until the test ends (the broker's timeout is
the event the test waits on), "garbage" answers a non-JSON body, "error" answers 500 with an NGSI
error body. `update_status` is the status of an accepted update (204 as NGSI-v2 says).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.receivers import Request


@dataclass
class Provider:
    entities: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (id, type) -> attributes
    mode: str = "ok"
    update_status: int = 204
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app)

    def add(self, entity_id: str, entity_type: str, **attrs: Any) -> None:
        """Hold an entity; each keyword is an attribute, given normalized (`{"type", "value"}`)."""
        self.entities[(entity_id, entity_type)] = dict(attrs)

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        self._release.set()
        await self.server.close()

    def url(self, path: str = "/v2") -> str:
        """The URL to register: the server's root with `path` (an IoT Agent registers none)."""
        return str(self.server.make_url("")).rstrip("/") + path

    @property
    def queries(self) -> list[Request]:
        return [r for r in self.requests if r.path_qs.split("?")[0].endswith("/op/query")]

    @property
    def updates(self) -> list[Request]:
        return [r for r in self.requests if r.path_qs.split("?")[0].endswith("/op/update")]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.mode == "hang":
            await self._release.wait()
            return web.Response(status=503)
        status, answer, headers = self._answer(request.path, body)
        # the path as sent (`path_qs` of a path starting with `//` is not)
        path_qs = request.raw_path
        self.requests.append(Request(request.method, path_qs, dict(request.headers), body, status))
        return web.Response(status=status, body=answer, headers=headers)

    def _answer(self, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        if self.mode == "garbage":
            return 200, b"<html>not NGSI</html>", {"Content-Type": "text/html"}
        if self.mode == "error":
            return 500, b'{"error":"InternalServerError","description":"provider down"}', {}
        request = orjson.loads(body)
        if path.endswith("/queryContext") or path.endswith("/updateContext"):
            return self._answer_v1(path, request)
        if path.endswith("/op/update"):
            for item in request["entities"]:
                held = self.entities.setdefault((item["id"], item.get("type", "Thing")), {})
                held.update({k: v for k, v in item.items() if k not in ("id", "type")})
            return self.update_status, b"", {}
        found = [self._render(key, request.get("attrs") or []) for key in self._matching(request["entities"])]
        headers = {"Content-Type": "application/json", "Fiware-Total-Count": str(len(found))}
        return 200, orjson.dumps(found), headers

    def _answer_v1(self, path: str, request: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        """NGSIv1, for `legacyForwarding` registrations: `queryContext` and `updateContext`."""
        ok = {"code": "200", "reasonPhrase": "OK"}
        if path.endswith("/updateContext"):
            for element in request["contextElements"]:
                held = self.entities.setdefault((element["id"], element["type"]), {})
                held.update({a["name"]: {"type": a["type"], "value": a["value"]} for a in element["attributes"]})
            responses = [{"contextElement": e, "statusCode": ok} for e in request["contextElements"]]
            return 200, orjson.dumps({"contextResponses": responses}), {"Content-Type": "application/json"}
        wanted = [{"id": e["id"], "type": e["type"]} for e in request["entities"]]
        names = request.get("attributes") or []
        responses = []
        for key in self._matching(wanted):
            shown = [
                {"name": n, "type": a.get("type", ""), "value": a["value"]}
                for n, a in self.entities[key].items()
                if not names or n in names
            ]
            element = {"id": key[0], "type": key[1], "isPattern": "false", "attributes": shown}
            responses.append({"contextElement": element, "statusCode": ok})
        if not responses:
            return 200, b'{"errorCode":{"code":"404","reasonPhrase":"No context element found"}}', {}
        return 200, orjson.dumps({"contextResponses": responses}), {"Content-Type": "application/json"}

    def _matching(self, wanted: list[dict[str, str]]) -> list[tuple[str, str]]:
        out = []
        for key in self.entities:
            for w in wanted:
                if ("id" in w and w["id"] != key[0]) or ("type" in w and w["type"] != key[1]):
                    continue
                out.append(key)
                break
        return out

    def _render(self, key: tuple[str, str], attrs: list[str]) -> dict[str, Any]:
        held = self.entities[key]
        shown = {n: {"metadata": {}, **a} for n, a in held.items() if not attrs or n in attrs}
        return {"id": key[0], "type": key[1], **shown}
