"""An embedded collection's payload write in a process of its own (`python -m embc.store.payload_writer`).

The engine's Python binding holds the GIL for the whole of each call, so a thread cannot write labels beside
a recluster's own work (the map's layout); a second process can. The child reads (root, collection, groups)
pickled on stdin, says "done total" on stdout after each group and ends with "ok" or "error MESSAGE"; it
dies with its parent, so that killing a job also stops its write part-way, as it would in one process.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

from embc.errors import EmbcError
from embc.store.vectors import Group


def start(root: Path, name: str, groups: Sequence[Group],
          progress: Callable[[int, int], None] | None = None) -> Callable[[], None]:
    """Start writing; the result waits for the write to end and raises its error as an EmbcError."""
    child = subprocess.Popen([sys.executable, "-m", __name__, str(os.getpid())], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=False)
    outcome: list[str] = []

    def talk() -> None:  # in a thread: the pickle is bigger than a pipe holds, and the job goes on meanwhile
        try:
            with child.stdin:
                pickle.dump((str(root), name, list(groups)), child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            pass  # the child failed early: its last line says why
        with child.stdout:
            for line in child.stdout:
                word, _, rest = line.decode().rstrip("\n").partition(" ")
                if word == "done" and progress:
                    progress(*map(int, rest.split()))
                elif word in ("ok", "error"):
                    outcome.append(rest if word == "error" else "")

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()

    def wait() -> None:
        talker.join()
        code = child.wait()
        if not outcome or outcome[0] or code:
            raise EmbcError(outcome[0] if outcome and outcome[0] else
                            f"the label write stopped (exit code {code}) before it ended")
    return wait


def die_with_parent(parent: int) -> None:
    """End this child process when `parent` ends."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)


def main() -> int:
    die_with_parent(int(sys.argv[1]))
    from embc.store.embedded import EmbeddedStore

    root, name, groups = pickle.load(sys.stdin.buffer)
    try:
        EmbeddedStore(Path(root)).set_payloads(name, groups, lambda done, total: print(
            "done", done, total, flush=True))
    except Exception as exc:  # every failure goes back to the job as one line
        print("error", " ".join(str(exc).split()) or type(exc).__name__, flush=True)
        return 1
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
