"""Process logs on stderr: one line per record, as text or as JSON objects (`log_format: json`).

The configured level applies to Drawbridge and to the libraries it uses (uvicorn, httpx, redis,
opentelemetry, …) alike; uvicorn's access log stays off (every message is an audit event already).
Audit events never go through here.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "drawbridge: %(levelname)s %(message)s"
HANDLER_NAME = "drawbridge-stderr"
# Library loggers that are chatty at INFO even when nothing is wrong; they follow the level from WARNING up.
QUIET_AT_INFO = ("httpx", "httpcore", "uvicorn.access", "mcp", "opentelemetry")
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                      "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (RFC 3339, UTC), level, logger, message, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "info", fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Install (or replace) Drawbridge's root handler: every logger, ours and the libraries', writes one line per
    record through it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:  # ours only: a host's stay
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    logging.getLogger("drawbridge").setLevel(numeric)
    for name in QUIET_AT_INFO:  # at debug, they speak too
        logging.getLogger(name).setLevel(numeric if numeric < logging.INFO else max(numeric, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # their handlers, if any, would print twice
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
