"""FIWARE's IoT Agent library (npm `iotagent-node-lib`) as a subprocess, and the HTTP odds and ends its test needs.

The agent is `iotagent/agent.js`: the library's north API plus a small UltraLight 2.0 over HTTP
southbound. Node.js is the only requirement: the library is installed from `iotagent/package-lock.json`
(`make iotagent`, or here on first use) into `iotagent/node_modules`, which git ignores.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import selectors
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

AGENT_DIR = Path(__file__).resolve().parent / "iotagent"
LIBRARY = AGENT_DIR / "node_modules" / "iotagent-node-lib"
MIN_NODE_MAJOR = 20  # iotagent-node-lib 4.x: engines.node >= 20


class ToolMissing(RuntimeError):
    """Node.js (or npm, to install the library) is not on this machine."""


def node_executable() -> str:
    """The `node` to run the agent with; ToolMissing when there is none recent enough."""
    node = shutil.which("node")
    if node is None:
        raise ToolMissing("Node.js is not installed (the IoT Agent library needs node >= 20 and npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    if major < MIN_NODE_MAJOR:
        raise ToolMissing(f"Node.js {version} is too old for iotagent-node-lib 4.x (needs >= {MIN_NODE_MAJOR})")
    return node


def install_library() -> None:
    """`npm ci` in iotagent/ unless the library is there already (what `make iotagent` does)."""
    if LIBRARY.is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ToolMissing("npm is not installed, and tests/e2e/iotagent/node_modules is missing")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=AGENT_DIR, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {AGENT_DIR}:\n{done.stdout}\n{done.stderr}")


class AgentProcess:
    """`node agent.js` against a broker; `start()` returns once both its ports listen."""

    def __init__(self, node: str, broker_url: str, north_port: int, south_port: int, log_path: Path) -> None:
        self.node = node
        self.broker_url = broker_url
        self.north_port = north_port
        self.south_port = south_port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def north_url(self) -> str:
        return f"http://127.0.0.1:{self.north_port}"

    @property
    def south_url(self) -> str:
        return f"http://127.0.0.1:{self.south_port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOTA_")}  # the library reads IOTA_*
        env.update(BROKER_URL=self.broker_url, NORTH_PORT=str(self.north_port), SOUTH_PORT=str(self.south_port))
        ready_r, ready_w = os.pipe()  # its own pipe: the library logs to stdout, which goes to the log file
        env["READY_FD"] = str(ready_w)
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [self.node, "agent.js"],
                    cwd=AGENT_DIR,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(ready_w,),
                )
            os.close(ready_w)
            ready_w = -1
            if _read_line(ready_r, timeout) != b"READY\n":
                self.stop()
                raise RuntimeError(f"the IoT Agent did not start:\n{self.logs()}")
        finally:
            os.close(ready_r)
            if ready_w != -1:
                os.close(ready_w)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _read_line(fd: int, timeout: float) -> bytes:
    """What a child writes on `fd` up to its first newline, or less when it closes it or `timeout` passes."""
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 64)
            if not chunk:
                break
            data += chunk
    return data


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None, text: str | None = None
) -> Reply:
    """One HTTP request: `body` is sent as JSON, `text` as text/plain."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    sent = dict(headers or {})
    data: bytes | None = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    elif text is not None:
        data = text.encode()
        sent["Content-Type"] = "text/plain"
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return Reply(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


class DeviceEndpoint:
    """A device's HTTP endpoint for UltraLight push commands: records each command (`received`) and
    answers `<device>@<command>|<result>` with the result `answer` computes from the command's value."""

    def __init__(self, answer: Callable[[str, str], str]) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                endpoint.received.put(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                device, _, rest = body.partition("@")
                command, _, value = rest.partition("|")
                out = f"{device}@{command}|{answer(command, value)}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> DeviceEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(probe: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """The first truthy result of `probe`, polled every `interval` (for state another process writes)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
