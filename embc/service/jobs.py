"""Recluster jobs of the service: each runs in a thread of its own, one per collection at a time, and reports
its state and progress until asked. A job asked to stop (cancelled, or the server stopping) ends at its next step as
a crash would, which loses nothing: a recluster run cut short is recorded as failed, and the next one refits."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from embc.cluster.progress import Progress
from embc.errors import EmbcError, NotFound, describe_error

LIVE = ("queued", "running")
ENDED = ("done", "failed", "cancelled")
CANCELLED = "cancelled by a client"


@dataclass
class Job:
    id: str
    collection: str
    state: str = "queued"  # queued, running, done, failed, cancelled
    step: str | None = None
    done: int = 0
    total: int = 0
    result: dict | None = None
    error: str | None = None
    origin: str = "request"  # request, schedule
    thread: threading.Thread | None = field(default=None, repr=False)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "collection": self.collection, "state": self.state, "origin": self.origin,
                "progress": {"step": self.step, "done": self.done, "total": self.total},
                "result": self.result, "error": self.error}


KEPT = 1_000  # ended jobs kept to be asked about: a schedule of every 30 s would otherwise grow without end


@dataclass
class Jobs:
    """The jobs this server started: every one not yet ended, and the last KEPT that have ended, oldest first;
    `ended` counts all that have ended, by state."""

    jobs: dict[str, Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ended: Counter = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)  # the server is stopping: no new work

    def counts(self) -> dict[str, int]:
        """Jobs by state: those queued and running now, and all that have ended since the server started."""
        with self.lock:
            now = Counter(j.state for j in self.jobs.values() if j.state in LIVE)
            return {state: now[state] for state in LIVE} | {state: self.ended[state] for state in ENDED}

    def _end(self, job: Job, state: str) -> None:
        with self.lock:
            job.state = state
            self.ended[state] += 1
            old = [key for key, j in self.jobs.items() if j.state in ENDED]
            for key in old[:max(0, len(old) - KEPT)]:
                del self.jobs[key]

    @contextmanager
    def held_off(self, collection: str) -> Iterator[None]:
        """No job of the collection starts until the block ends; EmbcError (a 409) when one is running: a
        collection deleted under a running job failed it with the engine's own error."""
        with self.lock:
            job = self.active(collection)
            if job is not None:
                raise EmbcError(f"a job on '{collection}' is running: job {job.id}; try again once it has ended")
            yield

    def active(self, collection: str) -> Job | None:
        return next((j for j in list(self.jobs.values())  # a copy: other threads add and remove jobs
                     if j.collection == collection and j.state in LIVE), None)

    def start(self, collection: str, work: Callable[[Progress], dict], origin: str = "request") -> Job | None:
        """Start `work(progress)` for the collection; None when a job of the collection is already running."""
        with self.lock:
            if self.stopping.is_set():
                raise EmbcError("the server is stopping: no job starts now")
            if self.active(collection):
                return None
            job = Job(uuid.uuid4().hex, collection, origin=origin)
            self.jobs[job.id] = job

        def progress(step: str, done: int, total: int) -> None:
            if self.stopping.is_set():
                raise EmbcError("the server stopped during the job; the next run starts again")
            if job.cancelled.is_set():
                raise EmbcError(CANCELLED)
            job.step, job.done, job.total = step, done, total

        def run() -> None:
            job.state = "running"
            try:
                job.result = work(progress)
            except Exception as exc:  # the job's failure is its state, for the client to read
                job.error = describe_error(exc)
                self._end(job, "cancelled" if job.cancelled.is_set() else "failed")
            else:
                self._end(job, "done")

        job.thread = threading.Thread(target=run, name=f"embc-job-{job.id[:8]}", daemon=True)
        job.thread.start()
        return job

    def get(self, job_id: str) -> Job:
        """The job; NotFound for one this server does not know (or no longer keeps)."""
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job '{job_id}'")
        return job

    def cancel(self, job_id: str) -> Job:
        """Ask a job to end at its next step (a job that ends first ends as it would have); NotFound for a job
        this server does not know, EmbcError (a 409) for one that has ended."""
        with self.lock:
            job = self.get(job_id)
            if job.state in ENDED:
                raise EmbcError(f"job {job_id} has already ended: {job.state}")
            job.cancelled.set()
        return job

    def stop(self, timeout: float, *others: threading.Thread) -> None:
        """Start no more jobs, end the running ones at their next step, and wait up to `timeout` seconds for them
        and for `others` (threads that start jobs or use the store), so that the store closes after them."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in [job.thread for job in list(self.jobs.values()) if job.thread is not None] + list(others):
            thread.join(max(0.0, deadline - time.monotonic()))
