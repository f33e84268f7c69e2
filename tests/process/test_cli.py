"""Command line and environment: `-flag` beats `ORION_*` beats the default; `-logLevel` drives the JSON log."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from broker.config import Config, load_config
from tests.process.broker_process import REPO_ROOT, BrokerProcess, broker_env, free_port, version_status

# --- load_config, in process -------------------------------------------------------------------------------


def test_no_flags_and_no_variables_give_orions_defaults() -> None:
    config = load_config([], {})
    assert config == Config()
    assert (config.port, config.localIp, config.corsOrigin, config.corsMaxAge) == (1026, "0.0.0.0", "", 86400)
    assert (config.inReqPayloadMaxSize, config.reqTimeout, config.multiservice) == (1048576, 0, False)
    assert config.dbPath == "./data/broker.db"


def test_each_variable_sets_its_setting_with_its_type() -> None:
    config = load_config(
        [],
        {
            "ORION_PORT": "2026",
            "ORION_LOCALIP": "127.0.0.1",
            "ORION_LOG_LEVEL": "WARN",
            "ORION_MULTI_SERVICE": "TRUE",
            "ORION_CORS_MAX_AGE": "600",
            "ORION_IN_REQ_PAYLOAD_MAX_SIZE": "2048",
            "ORION_REQ_TIMEOUT": "30",
            "ORION_DB_PATH": "/tmp/x.db",
        },
    )
    assert config == Config(
        port=2026,
        localIp="127.0.0.1",
        logLevel="WARN",
        multiservice=True,
        corsMaxAge=600,
        inReqPayloadMaxSize=2048,
        reqTimeout=30,
        dbPath="/tmp/x.db",
    )


def test_each_flag_sets_its_setting_with_its_type() -> None:
    config = load_config(
        [
            "-port",
            "2027",
            "-localIp",
            "::1",
            "-logLevel",
            "DEBUG",
            "-multiservice",
            "-corsOrigin",
            "__ALL",
            "-corsMaxAge",
            "5",
            "-inReqPayloadMaxSize",
            "10",
            "-reqTimeout",
            "7",
            "-dbPath",
            "a.db",
        ],
        {},
    )
    assert config == Config(
        port=2027,
        localIp="::1",
        logLevel="DEBUG",
        multiservice=True,
        corsOrigin="__ALL",
        corsMaxAge=5,
        inReqPayloadMaxSize=10,
        reqTimeout=7,
        dbPath="a.db",
    )


def test_a_flag_beats_its_variable() -> None:
    config = load_config(
        ["-port", "3000", "-logLevel", "ERROR", "-dbPath", "flag.db"],
        {"ORION_PORT": "4000", "ORION_LOG_LEVEL": "DEBUG", "ORION_DB_PATH": "env.db", "ORION_CORS_MAX_AGE": "9"},
    )
    assert (config.port, config.logLevel, config.dbPath, config.corsMaxAge) == (3000, "ERROR", "flag.db", 9)


def test_an_empty_variable_is_ignored() -> None:
    assert load_config([], {"ORION_PORT": "", "ORION_LOG_LEVEL": ""}) == Config()


@pytest.mark.parametrize(("raw", "expected"), [("TRUE", True), ("true", True), ("FALSE", False), ("false", False)])
def test_boolean_variables_take_orions_true_and_false_spellings(raw: str, expected: bool) -> None:
    assert load_config([], {"ORION_MULTI_SERVICE": raw}).multiservice is expected


def test_a_non_integer_variable_stops_with_a_message_naming_it() -> None:
    with pytest.raises(SystemExit) as exc:
        load_config([], {"ORION_PORT": "http"})
    assert str(exc.value) == "ORION_PORT must be an integer, got 'http'"


@pytest.mark.parametrize("argv", [["-port", "http"], ["-noSuchFlag"], ["-port"]])
def test_a_bad_command_line_stops_with_usage_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        load_config(argv, {})
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("usage: python -m broker")


@pytest.mark.parametrize("mode", ["transient", "persistent", "threadpool", "threadpool:1000:10"])
def test_orions_notification_modes_are_accepted(mode: str) -> None:
    assert load_config(["-notificationMode", mode], {}).notificationMode == mode
    assert load_config([], {"ORION_NOTIF_MODE": mode}).notificationMode == mode


@pytest.mark.parametrize("mode", ["pool", "threadpool:0:10", "threadpool:10", "threadpool:a:b"])
def test_an_unknown_notification_mode_stops_with_a_message(mode: str) -> None:
    with pytest.raises(SystemExit, match="notificationMode"):
        load_config(["-notificationMode", mode], {})


def test_notification_flags_of_orion_are_read_from_their_variables() -> None:
    config = load_config([], {"ORION_INSECURE_NOTIF": "true", "ORION_DISABLE_CUSTOM_NOTIF": "true"})
    assert (config.insecureNotif, config.disableCustomNotifications) == (True, True)


def test_without_explicit_environ_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORION_PORT", "5555")
    assert load_config([]).port == 5555


def test_cors_origin_is_read_from_orion_cors_allowed_origin() -> None:
    assert load_config([], {"ORION_CORS_ALLOWED_ORIGIN": "__ALL"}).corsOrigin == "__ALL"


# --- the real process --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_orion_port_variable_chooses_the_listening_port(tmp_path: Path) -> None:
    port = free_port()
    with BrokerProcess(tmp_path / "broker.db", port=port, pass_port=False, env={"ORION_PORT": str(port)}) as broker:
        broker.start()
        assert version_status(port) == 200


@pytest.mark.slow
def test_port_flag_beats_orion_port_variable(tmp_path: Path) -> None:
    ignored = free_port()
    with BrokerProcess(tmp_path / "broker.db", env={"ORION_PORT": str(ignored)}) as broker:
        assert broker.port != ignored
        broker.start()
        assert version_status(broker.port) == 200
        assert version_status(ignored) is None


@pytest.mark.slow
def test_orion_db_path_variable_chooses_the_store_file(tmp_path: Path) -> None:
    db = tmp_path / "from-env" / "store.db"
    with BrokerProcess(db, pass_db_path=False, env={"ORION_DB_PATH": str(db)}) as broker:
        broker.start()
        assert db.exists()


@pytest.mark.slow
def test_a_non_integer_orion_port_stops_the_process_with_a_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "broker", "-dbPath", str(tmp_path / "b.db")],
        cwd=REPO_ROOT,
        env=broker_env({"ORION_PORT": "http"}),
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.decode().strip() == "ORION_PORT must be an integer, got 'http'"


def request(broker: BrokerProcess, method: str, path: str, correlator: str, body: Any = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(broker.url + path, data=data, method=method)
    req.add_header("Fiware-Correlator", correlator)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return int(resp.status)


def run_and_read_log(tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Start a broker, make two requests, stop it; its stderr parsed line by line (each must be a JSON object)."""
    broker = BrokerProcess(tmp_path / "broker.db", args=args, env=env)
    try:
        broker.start()
        assert request(broker, "GET", "/version", "corr-version") == 200
        entity = {"id": "Room1", "type": "Room", "t": {"value": 1, "type": "Number"}}
        assert request(broker, "POST", "/v2/entities", "corr-create", entity) == 201
    finally:
        broker.stop()
    assert broker.stdout() == ""
    entries = [json.loads(line) for line in broker.logs().splitlines()]
    assert all(isinstance(e, dict) and {"time", "level", "msg"} <= e.keys() for e in entries), entries
    return entries


def request_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-request lines, without the startup probes that carry a generated correlator."""
    return [e for e in entries if e.get("correlator", "").startswith("corr-")]


@pytest.mark.slow
def test_info_level_logs_one_json_line_per_request_with_its_correlator(tmp_path: Path) -> None:
    entries = run_and_read_log(tmp_path, ["-logLevel", "INFO"])
    lines = request_lines(entries)
    assert [(e["level"], e["msg"], e["correlator"], e["method"], e["path"], e["status"]) for e in lines] == [
        ("INFO", "request", "corr-version", "GET", "/version", 200),
        ("INFO", "request", "corr-create", "POST", "/v2/entities", 201),
    ]
    probes = [e for e in entries if e.get("msg") == "request" and e not in lines]
    assert probes and all(e["correlator"] for e in probes), "readiness probes are requests too"
    assert entries[0]["msg"] == "listening" and entries[0]["level"] == "WARNING"


@pytest.mark.slow
def test_warn_level_logs_no_request_lines(tmp_path: Path) -> None:
    entries = run_and_read_log(tmp_path, ["-logLevel", "WARN"])
    assert [e for e in entries if "correlator" in e] == []
    assert [(e["level"], e["msg"]) for e in entries] == [("WARNING", "listening")]


@pytest.mark.slow
def test_orion_log_level_variable_sets_the_level(tmp_path: Path) -> None:
    entries = run_and_read_log(tmp_path, [], env={"ORION_LOG_LEVEL": "WARN"})
    assert [e for e in entries if "correlator" in e] == []


@pytest.mark.slow
def test_log_level_flag_beats_orion_log_level_variable(tmp_path: Path) -> None:
    entries = run_and_read_log(tmp_path, ["-logLevel", "INFO"], env={"ORION_LOG_LEVEL": "NONE"})
    assert [e["correlator"] for e in request_lines(entries)] == ["corr-version", "corr-create"]


@pytest.mark.slow
def test_none_level_logs_nothing(tmp_path: Path) -> None:
    assert run_and_read_log(tmp_path, ["-logLevel", "NONE"]) == []
