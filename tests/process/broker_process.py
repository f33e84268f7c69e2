"""Run `python -m broker` as a subprocess on a free port and a given store, for process-level tests.

The broker's stderr (its JSON log) and stdout go to files in `log_dir` (by default the store's
directory), never to pipes: a pipe nobody reads fills up after ~64 KiB of request lines and would
stall the broker.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_INTERVAL = 0.02


class BrokerFailedToStart(RuntimeError):
    """The process exited, or /version did not answer 200 in time."""


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def version_status(port: int, timeout: float = 1.0) -> int | None:
    """Status of GET /version on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/version")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def broker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any ORION_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class BrokerProcess:
    """One broker process; `start()` may be called again after `kill()`/`stop()` (same store, same port)."""

    def __init__(
        self,
        db_path: Path | str,
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        pass_port: bool = True,
        pass_db_path: bool = True,
        log_dir: Path | str | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.log_dir = Path(log_dir) if log_dir is not None else self.db_path.parent
        self.port = port if port is not None else free_port()
        self.args = list(args)
        self.env = broker_env(env)
        self.pass_port = pass_port
        self.pass_db_path = pass_db_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """stderr of the latest start."""
        return self.log_dir / f"broker-{self.port}-{self.starts}.stderr"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"broker-{self.port}-{self.starts}.stdout"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "broker"]
        if self.pass_port:
            cmd += ["-port", str(self.port)]
        if self.pass_db_path:
            cmd += ["-dbPath", str(self.db_path)]
        return cmd + self.args

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting; `started_at` is taken just before Popen."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("broker already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                self.command(), cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        return self.proc

    def wait_ready(self, timeout: float = 15.0) -> float:
        """Poll GET /version every 20 ms until it answers 200; returns seconds since Popen."""
        assert self.proc is not None
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BrokerFailedToStart(f"broker exited with {self.proc.returncode}:\n{self.logs()}")
            if version_status(self.port, timeout=0.5) == 200:
                return time.perf_counter() - self.started_at
            if time.perf_counter() > deadline:
                self.kill()
                raise BrokerFailedToStart(f"no 200 from /version within {timeout} s:\n{self.logs()}")
            time.sleep(POLL_INTERVAL)

    def start(self, timeout: float = 15.0) -> float:
        """Spawn and wait until /version answers; returns the startup time in seconds."""
        self.spawn()
        return self.wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and wait for the exit status; SIGKILL if it does not exit in time."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode)

    def logs(self) -> str:
        """stderr of the latest start so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> BrokerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
