"""Which `embc serve` owns a data directory: it holds a lock there while it runs, beside a file with its
address, so that other embc processes on the directory go through it instead of waiting for it."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path

from embc.layout import Layout
from embc.store.locking import held, holding


def _lock(layout: Layout) -> Path:
    return layout.served.with_name(layout.served.name + ".lock")


def claim(layout: Layout, url: str) -> ExitStack:
    """Own the directory until the returned stack is closed (a second server on it waits for the first)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    stack = holding(_lock(layout), f"the data directory {layout.root} (another embc serve owns it)")
    tmp = layout.served.with_name(layout.served.name + ".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(tmp, layout.served)
    stack.callback(layout.served.unlink, missing_ok=True)
    return stack


def server_of(layout: Layout) -> str | None:
    """The address of the server that owns the directory now, if one does."""
    if not held(_lock(layout)):
        return None
    try:
        return json.loads(layout.served.read_text())["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
