"""Structured logs: one JSON object per line on stderr, with the correlator when there is one."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

ORION_LEVELS = {
    "NONE": logging.CRITICAL + 10,
    "FATAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
}

log = logging.getLogger("broker")


class JsonFormatter(logging.Formatter):
    def __init__(self, *, pid: bool = False) -> None:
        super().__init__()
        self.pid = pid  # several processes write to one log (-workers): say which one wrote the line

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "msg": record.getMessage(),
        }
        if self.pid:
            entry["pid"] = record.process
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str, *, pid: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(pid=pid))
    root = logging.getLogger("broker")
    root.handlers[:] = [handler]
    root.setLevel(ORION_LEVELS.get(level.upper(), logging.INFO))
    root.propagate = False


def event(level: int, msg: str, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, msg, extra={"fields": fields})
