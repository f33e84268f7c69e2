"""Agent configuration from IOTA_* environment variables and matching command-line flags."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentConfig:
    cb_url: str = "http://localhost:1026"
    north_port: int = 4041
    http_port: int = 7896
    host: str = "0.0.0.0"
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    default_resource: str = "/iot/d"
    json_resource: str = "/iot/json"
    db_path: str = "./data/iota.db"
    timestamp: bool = True
    max_payload: int = 1024 * 1024
    batch_max: int = 200
    http_wait: float = 30.0
    log_level: str = "INFO"


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {value!r}") from None


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def load_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> AgentConfig:
    """Flags win over IOTA_* variables, which win over the defaults (those of the FIWARE agents)."""
    env = os.environ if env is None else env
    d = AgentConfig()
    p = argparse.ArgumentParser(
        prog="python -m adapters.iot", description="NGSI-v2 IoT agent (UltraLight 2.0 and JSON)"
    )
    p.add_argument("--cb-url", default=env.get("IOTA_CB_URL", d.cb_url), help="context broker URL (IOTA_CB_URL)")
    p.add_argument(
        "--north-port",
        type=int,
        default=_int(env.get("IOTA_NORTH_PORT", str(d.north_port)), "IOTA_NORTH_PORT"),
        help="provisioning API port (IOTA_NORTH_PORT)",
    )
    p.add_argument(
        "--http-port",
        type=int,
        default=_int(env.get("IOTA_HTTP_PORT", str(d.http_port)), "IOTA_HTTP_PORT"),
        help="southbound HTTP port (IOTA_HTTP_PORT)",
    )
    p.add_argument("--host", default=env.get("IOTA_HOST", d.host), help="address both HTTP servers bind (IOTA_HOST)")
    p.add_argument(
        "--mqtt-host",
        default=env.get("IOTA_MQTT_HOST") or None,
        help="MQTT broker host; MQTT is off without it (IOTA_MQTT_HOST)",
    )
    p.add_argument(
        "--mqtt-port",
        type=int,
        default=_int(env.get("IOTA_MQTT_PORT", str(d.mqtt_port)), "IOTA_MQTT_PORT"),
        help="MQTT broker port (IOTA_MQTT_PORT)",
    )
    p.add_argument("--mqtt-username", default=env.get("IOTA_MQTT_USERNAME") or None, help="(IOTA_MQTT_USERNAME)")
    p.add_argument("--mqtt-password", default=env.get("IOTA_MQTT_PASSWORD") or None, help="(IOTA_MQTT_PASSWORD)")
    p.add_argument(
        "--default-resource",
        default=env.get("IOTA_DEFAULT_RESOURCE", d.default_resource),
        help="UltraLight HTTP path (IOTA_DEFAULT_RESOURCE)",
    )
    p.add_argument(
        "--db-path", default=env.get("IOTA_DB_PATH", d.db_path), help="SQLite file holding provisioning (IOTA_DB_PATH)"
    )
    p.add_argument(
        "--timestamp",
        default=env.get("IOTA_TIMESTAMP", "true"),
        help="add TimeInstant to every update (IOTA_TIMESTAMP)",
    )
    p.add_argument(
        "--max-payload",
        type=int,
        default=_int(env.get("IOTA_MAX_PAYLOAD", str(d.max_payload)), "IOTA_MAX_PAYLOAD"),
        help="largest measure payload in bytes (IOTA_MAX_PAYLOAD)",
    )
    p.add_argument(
        "--http-wait",
        type=float,
        default=float(env.get("IOTA_HTTP_WAIT", str(d.http_wait))),
        help="seconds an HTTP device waits for the broker before a 503; the update stays queued (IOTA_HTTP_WAIT)",
    )
    p.add_argument("--log-level", default=env.get("IOTA_LOG_LEVEL", d.log_level), help="(IOTA_LOG_LEVEL)")
    a = p.parse_args(argv)
    resource = a.default_resource if a.default_resource.startswith("/") else "/" + a.default_resource
    return AgentConfig(
        cb_url=a.cb_url,
        north_port=a.north_port,
        http_port=a.http_port,
        host=a.host,
        mqtt_host=a.mqtt_host,
        mqtt_port=a.mqtt_port,
        mqtt_username=a.mqtt_username,
        mqtt_password=a.mqtt_password,
        default_resource=resource,
        db_path=a.db_path,
        timestamp=_bool(str(a.timestamp)),
        max_payload=a.max_payload,
        http_wait=a.http_wait,
        log_level=a.log_level.upper(),
    )
