"""Process start and stop: time to first answer, `-h`, refusal of a busy port, shutdown on signals."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process.broker_process import REPO_ROOT, BrokerProcess, broker_env, version_status

pytestmark = pytest.mark.slow  # processes, real outages or external tools: `make test`, not `make test-fast`

# Orion's flag -> environment variable table (doc/manuals/admin/cli.md, "Configuration using environment variables")
ORION_VARIABLES = {
    "port": "ORION_PORT",
    "logLevel": "ORION_LOG_LEVEL",
    "multiservice": "ORION_MULTI_SERVICE",
    "corsOrigin": "ORION_CORS_ALLOWED_ORIGIN",
    "corsMaxAge": "ORION_CORS_MAX_AGE",
    "inReqPayloadMaxSize": "ORION_IN_REQ_PAYLOAD_MAX_SIZE",
    "reqTimeout": "ORION_REQ_TIMEOUT",
    "localIp": "ORION_LOCALIP",
}


def test_first_start_creates_the_store_and_answers_version(tmp_path: Path) -> None:
    """How fast is measured by the benchmarks (`make bench` reports start-up), not here: a timed test
    fails on a loaded machine whatever the broker does."""
    db = tmp_path / "data" / "broker.db"
    broker = BrokerProcess(db, log_dir=tmp_path)
    try:
        broker.start(timeout=30)
        assert db.exists(), "the store and its directory are created on first start"
        assert version_status(broker.port) == 200
    finally:
        broker.kill()


@pytest.fixture(scope="module")
def help_text() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "broker", "-h"], cwd=REPO_ROOT, env=broker_env(), capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    return done.stdout.decode()


def help_entry(help_text: str, flag: str) -> str:
    """The text of one option in the help, its wrapped lines joined with single spaces."""
    match = re.search(rf"^  -{flag}\b(.*?)(?=^  -|\Z)", help_text, re.M | re.S)
    assert match, f"-{flag} is not listed:\n{help_text}"
    return " ".join(match.group(1).split())


@pytest.mark.parametrize(
    ("flag", "variable"),
    [(flag, var) for flag, var in ORION_VARIABLES.items()] + [("dbPath", "ORION_DB_PATH")],
)
def test_help_lists_each_flag_with_its_orion_variable(help_text: str, flag: str, variable: str) -> None:
    entry = help_entry(help_text, flag)
    assert f"[env {variable}]" in entry, entry


def test_help_starts_with_usage_naming_python_m_broker(help_text: str) -> None:
    assert help_text.startswith("usage: python -m broker ")


def test_busy_port_makes_the_broker_exit_1_with_a_json_critical_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        broker = BrokerProcess(tmp_path / "broker.db", port=port)
        proc = broker.spawn()
        try:
            assert proc.wait(15) == 1
        finally:
            broker.kill()
    lines = [json.loads(line) for line in broker.logs().splitlines()]
    assert [(entry["level"], entry["msg"]) for entry in lines] == [("CRITICAL", "cannot start")]
    assert "address already in use" in lines[0]["error"].lower()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_broker_within_five_seconds_and_frees_the_port(tmp_path: Path, sig: signal.Signals) -> None:
    broker = BrokerProcess(tmp_path / "broker.db")
    try:
        broker.start()
        assert broker.proc is not None
        broker.proc.send_signal(sig)
        broker.proc.wait(5)
        assert version_status(broker.port) is None
    finally:
        broker.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_broker_with_exit_status_0(tmp_path: Path, sig: signal.Signals) -> None:
    broker = BrokerProcess(tmp_path / "broker.db")
    try:
        broker.start()
        assert broker.stop(sig, timeout=5) == 0
    finally:
        broker.kill()
