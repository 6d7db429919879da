"""Answers kept as the JSON bytes sent, until the next write to their collection or to the report store.

A cluster list or a page of members asked again (a map, a dashboard, several users) is then sent as it was,
without asking the store or checking and encoding it again: at 100,000 points a page of 50 members costs about
3 ms to make and 0.4 ms to send as kept. An answer is kept only when no write began or ended while it was
made (`Workspace.version` the same before and after), and only where the Workspace is the store's only writer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter

from embc.workspace import Workspace

MAX_BYTES = 64 << 20  # the answers kept, together; the least recently sent go first


class Answers:
    """The kept answers of one service."""

    def __init__(self, workspace: Workspace, max_bytes: int = MAX_BYTES):
        self.workspace = workspace
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple, tuple[tuple, bytes]] = OrderedDict()  # (collection, question) -> version, JSON
        self._size = 0
        self._lock = threading.Lock()

    async def json(self, collection: str, question: Hashable, shape: TypeAdapter,
                   answer: Callable[[], Any]) -> Response:
        """The JSON of `answer()` (run in a worker thread), checked against `shape`, or the kept one."""
        version = self.workspace.version(collection)
        key = (collection, question)
        with self._lock:
            kept_version, body = self._kept.get(key, (None, None))
            if version is None or kept_version != version:
                body = None
            elif body is not None:
                self._kept.move_to_end(key)
        if body is None:
            body = shape.dump_json(shape.validate_python(await run_in_threadpool(answer)))
            if version is not None and self.workspace.version(collection) == version:
                self._keep(key, version, body)
        return Response(body, media_type="application/json")

    def _keep(self, key: tuple, version: tuple, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return
        with self._lock:
            _, old = self._kept.pop(key, (None, b""))
            self._kept[key] = (version, body)
            self._size += len(body) - len(old)
            while self._size > self.max_bytes:
                self._size -= len(self._kept.popitem(last=False)[1][1])
