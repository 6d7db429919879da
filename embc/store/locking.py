"""Cross-process exclusive locks that wait (and say so) instead of failing."""

from __future__ import annotations

import fcntl
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from embc.environment import setting
from embc.errors import EmbcError


def wait_limit() -> float:
    """Seconds to wait for another process before giving up (EMBC_WAIT_TIMEOUT, default 600)."""
    return setting("EMBC_WAIT_TIMEOUT")


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_REGISTRY = threading.Lock()


def _thread_lock(lock_path: Path) -> threading.Lock:
    with _REGISTRY:
        return _THREAD_LOCKS.setdefault(str(lock_path.resolve()), threading.Lock())


def _gave_up(what: str) -> EmbcError:
    return EmbcError(f"gave up waiting for {what} after {wait_limit():.0f} s (set EMBC_WAIT_TIMEOUT to wait longer)")


@contextmanager
def exclusive(lock_path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path`; if another process holds it, tell stderr and wait. Threads of
    this process (a server's) take turns quietly first: the file lock is for other processes."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    turn = _thread_lock(lock_path)
    if not turn.acquire(timeout=wait_limit()):
        raise _gave_up(what)
    try:
        with open(lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"embc: waiting for {what}: another embc process is using it", file=sys.stderr, flush=True)
                deadline = time.monotonic() + wait_limit()
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise _gave_up(what) from None
                        time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        turn.release()


def holding(lock_path: Path, what: str) -> ExitStack:
    """Take the lock (as `exclusive`) and keep it until the returned stack is closed."""
    stack = ExitStack()
    stack.enter_context(exclusive(lock_path, what))
    return stack


def held(lock_path: Path) -> bool:
    """Whether another process holds the lock now (a probe: it is not taken)."""
    if not lock_path.exists():
        return False
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
