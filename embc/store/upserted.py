"""Which points of an embedded collection were upserted while a job watched it, by any embc process on the data
directory: each watch is a file in the collection's folder (`PID.TOKEN.upserted`), and every upsert appends
its ids to each such file there (mostly none: one listing of the folder). A recluster reads its own after its
label write: the labels it wrote to those points were of vectors they no longer have."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterator, Sequence

SUFFIX = ".upserted"


@contextmanager
def watching(folder: Path) -> Iterator[Callable[[], set[str]]]:
    """While the block runs: a call that gives the ids upserted into the collection in `folder` since it began."""
    _forget_the_dead(folder)
    path = folder / f"{os.getpid()}.{uuid.uuid4().hex}{SUFFIX}"
    path.touch()
    try:
        yield lambda: _read(path)
    finally:
        path.unlink(missing_ok=True)


def note(folder: Path, ids: Sequence[str]) -> None:
    """Add `ids` to every watch of the collection in `folder`."""
    lines = "".join(f"{i}\n" for i in ids).encode()
    for path in folder.glob(f"*{SUFFIX}"):
        with suppress(OSError):  # a watch that ended meanwhile is not made again
            handle = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(handle, lines)
            finally:
                os.close(handle)


def _read(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def _forget_the_dead(folder: Path) -> None:
    """Remove the watches of processes that died before they ended them (every upsert would add to them)."""
    for path in folder.glob(f"*{SUFFIX}"):
        pid = path.name.split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
