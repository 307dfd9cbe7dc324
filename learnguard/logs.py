"""Logs as one JSON object a line, each with the request id of the request it belongs to.

The API sets ``request_id`` for each request (from ``X-Request-ID`` or a new one); every
log line written while that request is handled carries it, so one id finds a request's
whole story in the logs. ``configure`` is called once by the CLI.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id"?, "error"?}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        current = request_id.get()
        if current:
            line["request_id"] = current
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(verbose: bool, json_lines: bool = True) -> None:
    """Root logging for a command: JSON lines (or plain text for people at a terminal)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
