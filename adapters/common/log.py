"""Structured logs: one JSON object a line, what the operator and its parts write."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

#: A logger: `log(level, message, **fields)`.
Log = Callable[..., None]
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class JsonLog:
    """Structured logs: one JSON object a line (time, level, msg, then fields)."""

    def __init__(self, stream: TextIO | None = None, level: str = "info") -> None:
        self.stream = stream or sys.stderr
        self.threshold = LEVELS[level]
        self._lock = threading.Lock()

    def __call__(self, level: str, msg: str, **fields: Any) -> None:
        if LEVELS.get(level, 20) < self.threshold:
            return
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "msg": msg,
        }
        record.update({k: v if isinstance(v, int | float | bool) or v is None else str(v)
                       for k, v in fields.items()})
        with self._lock:
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()
