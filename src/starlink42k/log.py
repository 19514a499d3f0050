"""Structured logs: one line per event, JSON in the cluster, aligned text in a terminal.

Every event has a name (``extract.page``) and fields; the JSON form keeps them as keys so that a
log system can query them, the text form prints them as ``key=value``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "starlink42k"
# Fields whose values must never reach a log line, whatever the caller passes.
_SECRET_KEYS = ("password", "secret", "token", "webhook", "key")


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def event(logger: logging.Logger, name: str, message: str = "", level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with machine-readable fields."""
    logger.log(level, message or name, extra={"event": name, "fields": fields})


@contextmanager
def timed(logger: logging.Logger, name: str, message: str = "", **fields: Any) -> Iterator[dict]:
    """Log ``<name>.start`` and ``<name>.done`` with the duration; the caller may add result fields."""
    event(logger, f"{name}.start", message, level=logging.DEBUG, **fields)
    result: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        yield result
    except BaseException:
        seconds = round(time.perf_counter() - started, 3)
        event(logger, f"{name}.failed", message, level=logging.ERROR, seconds=seconds, **fields)
        raise
    seconds = round(time.perf_counter() - started, 3)
    event(logger, f"{name}.done", f"{message} ({seconds:.1f}s)", seconds=seconds, **fields, **result)


def masked_url(url: str) -> str:
    """A URL without its password (postgresql://user:***@host/db), for logs and messages: the
    password of the user part (up to its last ``@``, which an unencoded password may contain) and
    a ``password=`` query parameter or keyword (libpq reads one there too, and in ``key=value`` strings)."""
    url = re.sub(r"(://[^:/@?#]*):[^?#]*@", r"\1:***@", url)
    return re.sub(r"((?:^|[?&\s])password\s*=\s*)('[^']*'|[^&#\s]*)", r"\1***", url, flags=re.IGNORECASE)


def _redact(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if any(s in k.lower() for s in _SECRET_KEYS) else v) for k, v in fields.items()}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
            "msg": record.getMessage(),
            **_redact(getattr(record, "fields", {})),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        event_name = getattr(record, "event", "")
        fields = " ".join(f"{k}={v}" for k, v in _redact(getattr(record, "fields", {})).items())
        level = "" if record.levelno == logging.INFO else f"{record.levelname}: "
        message = record.getMessage()
        text = f"{stamp} {level}{message}" if message != event_name else f"{stamp} {level}{event_name}"
        if fields:
            text = f"{text:<60} {fields}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def is_json() -> bool:
    """Whether log lines are JSON (then foreign output, like dbt's, is wrapped in events)."""
    handlers = logging.getLogger(LOGGER_NAME).handlers
    return bool(handlers) and isinstance(handlers[0].formatter, JsonFormatter)


def configure(verbosity: int = 0, fmt: str | None = None) -> None:
    """Send logs to stderr (stdout carries the answer). verbosity: -1 quiet, 0 normal, 1 debug.

    fmt: ``json`` or ``text``; default from LOG_FORMAT, else JSON inside Kubernetes, text elsewhere.
    """
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "").lower()
    if fmt not in ("json", "text"):
        fmt = "json" if os.environ.get("KUBERNETES_SERVICE_HOST") else "text"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))
