"""A FerretDB server (MongoDB wire protocol on SQLite) for the tests: `make test` builds the binary.

It runs on a free loopback port with its state in a temporary directory and is reached through
PyMongo over the network, like a real MongoDB. `MONGO_URI`, when set, names a real server instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pymongo

FERRETDB = Path(os.environ.get("FERRETDB", str(Path.home() / ".cache" / "area-broker" / "bin" / "ferretdb-v1.24.2")))
MISSING = f"FerretDB is not built at {FERRETDB}: run `make test` (it builds it once), or set MONGO_URI"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FerretDB:
    process: subprocess.Popen[bytes]
    uri: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_ferretdb(
    state_dir: Path, *, timeout: float = 30.0, extra_args: Sequence[str] = (), port: int | None = None
) -> FerretDB:
    """Start FerretDB (on `port`, or a free one) and wait until it answers `ping`; raises RuntimeError when it does not."""
    if not FERRETDB.exists():
        raise RuntimeError(MISSING)
    port = port or _free_port()
    data = state_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    log = open(state_dir / "ferretdb.log", "wb")
    process = subprocess.Popen(
        [
            str(FERRETDB),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{port}",
            f"--state-dir={state_dir}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "FERRETDB_TELEMETRY": "disable"},
    )
    server = FerretDB(process, f"mongodb://127.0.0.1:{port}/")
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"FerretDB exited with {process.returncode}; see {state_dir / 'ferretdb.log'}")
        try:
            with pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=500, directConnection=True) as client:
                client.admin.command("ping")
            return server
        except pymongo.errors.PyMongoError as exc:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"FerretDB did not answer within {timeout}s; see {state_dir / 'ferretdb.log'}"
                ) from exc
            time.sleep(0.1)
