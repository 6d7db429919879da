"""How a job reports its progress and times its steps, in one vocabulary: a step is announced as it starts
(spelt with spaces: "page out"), reports (done, total) as it goes where it can count, and is timed under its
name (spelt with underscores: "page_out")."""

from __future__ import annotations

import time
from typing import Callable

Progress = Callable[[str, int, int], None]  # (step, done, total); total 0 when not known


def label(step: str) -> str:
    """A step's name as people read it."""
    return step.replace("_", " ")


class Clock:
    """Seconds per step of a job; `begin` ends the running step and announces the next to `progress`."""

    def __init__(self, progress: Progress | None = None):
        self.timings: dict[str, float] = {}
        self.progress = progress
        self._running: str | None = None
        self._since = time.perf_counter()

    def begin(self, step: str) -> None:
        self.end()
        self._running = step
        if self.progress:
            self.progress(label(step), 0, 0)

    def end(self) -> None:
        now = time.perf_counter()
        if self._running is not None:
            self.timings[self._running] = round(self.timings.get(self._running, 0.0) + now - self._since, 3)
        self._running, self._since = None, now

    def report(self, done: int, total: int) -> None:
        """How far the running step is."""
        if self.progress and self._running:
            self.progress(label(self._running), done, total)

    def total(self) -> dict[str, float]:
        self.end()
        return {**self.timings, "total": round(sum(self.timings.values()), 3)}
