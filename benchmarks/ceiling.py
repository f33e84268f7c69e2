"""The bare-aiohttp ceiling: the benchmark's routes answered with the broker's own bytes, no storage.

    python -m benchmarks.ceiling --port P [--get-body FILE] [--list-body FILE]

One serving process; `benchmarks.http_load` starts as many as the broker has workers, all on one
port (SO_REUSEPORT), so the comparison is process for process. Each handler parses the request
body with orjson as the broker does, and answers the status, headers and body the broker gives for
that route (the GET bodies are captured from the broker in the same run). It also serves as the
notification receiver of the `notify` scenario: POST /notify counts, GET /notify/count reports.
It runs on the broker's event loop (`event_loop_factory`: uvloop where installed), so the ratio
compares storage and NGSI work, not two event loops.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
from aiohttp import web

from broker.runtime.cli import event_loop_factory

JSON = "application/json"


def make_app(get_body: bytes, list_body: bytes) -> web.Application:
    received = 0

    async def create(request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        return web.Response(status=201, headers={"Location": f"/v2/entities/{doc['id']}?type={doc['type']}"})

    async def no_content(request: web.Request) -> web.Response:
        orjson.loads(await request.read())
        return web.Response(status=204)

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=get_body, content_type=JSON)

    async def listing(request: web.Request) -> web.Response:
        return web.Response(body=list_body, content_type=JSON)

    async def notify(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.Response(status=200)

    async def count(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"received": received}), content_type=JSON)

    app = web.Application()
    app.router.add_post("/v2/entities", create)
    app.router.add_patch("/v2/entities/{id}/attrs", no_content)
    app.router.add_get("/v2/entities/{id}", get)
    app.router.add_get("/v2/entities", listing)
    app.router.add_post("/v2/op/update", no_content)
    app.router.add_post("/notify", notify)
    app.router.add_get("/notify/count", count)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--get-body", type=Path)
    parser.add_argument("--list-body", type=Path)
    args = parser.parse_args(argv)
    get_body = args.get_body.read_bytes() if args.get_body else b"{}"
    list_body = args.list_body.read_bytes() if args.list_body else b"[]"
    factory = event_loop_factory()
    web.run_app(
        make_app(get_body, list_body),
        loop=factory() if factory is not None else None,
        host="127.0.0.1",
        port=args.port,
        reuse_port=True,
        access_log=None,
        print=None,
        backlog=1024,
    )


if __name__ == "__main__":
    main()
