"""The server's log on stderr: embc's own lines and uvicorn's, each stamped with the time (UTC) and `embc serve`."""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime, timezone

from embc.service.streams import Stalled

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def say(line: str) -> None:
    """One line of the server's log."""
    print(f"{datetime.now(timezone.utc):{STAMP}} embc serve: {line}", file=sys.stderr, flush=True)


class Stamped(logging.Formatter):
    """A log record as `say` writes a line, with its level before the message (and a traceback after it)."""

    converter = time.gmtime

    def __init__(self):
        super().__init__("%(asctime)s embc serve: %(levelname)s: %(message)s", STAMP)


class NoWebSocketAdvice(logging.Filter):
    """Drops uvicorn's advice to install a WebSocket library, which it gives at every request to upgrade (to h2c
    too, as `curl --http2` asks): embc serves no WebSocket, and answers such a request over HTTP/1.1."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No supported WebSocket library")


class StallsInOneLine(logging.Filter):
    """uvicorn logs an export that ends because its client stopped reading as an exception in the app, with a
    traceback: it is the client's doing, so its one line, as a warning, is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], Stalled):
            record.msg, record.args, record.exc_info, record.exc_text = str(record.exc_info[1]), (), None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


LOG_CONFIG = {  # for uvicorn.Config, which applies it as the server starts
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"stamped": {"()": Stamped}},
    "filters": {"no_websocket_advice": {"()": NoWebSocketAdvice}, "stalls_in_one_line": {"()": StallsInOneLine}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "stamped", "stream": "ext://sys.stderr",
                            "filters": ["no_websocket_advice", "stalls_in_one_line"]}},
    "loggers": {name: {"handlers": ["stderr"], "propagate": False} for name in ("uvicorn", "embc")},
}
