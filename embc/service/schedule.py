"""`embc serve --every`: recluster every collection on a schedule, inside the server, as jobs that clients
see at /v1/jobs like their own; one line per run on stderr."""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timezone

from embc.service.jobs import Jobs
from embc.store.vectors import DAMAGED
from embc.workspace import Workspace


def _say(line: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} embc serve: {line}", file=sys.stderr, flush=True)


def tick(workspace: Workspace, jobs: Jobs) -> None:
    """Bring every collection's clustering up to date, one collection at a time (one whose job a client
    started is left to it)."""
    for info in workspace.collections():
        if info.modality == DAMAGED:
            _say(f"{info.name}: damaged, skipped")
            continue
        job = jobs.start(info.name, lambda progress, name=info.name: workspace.recluster(
            name, progress=progress).to_dict(), origin="schedule")
        if job is None:
            continue
        job.thread.join()
        if job.state == "failed":
            _say(f"{info.name}: error: {job.error}")
        elif job.result["run_id"] is None:
            _say(f"{info.name}: {job.result['reason']}")
        else:
            r = job.result
            _say(f"{info.name}: run {r['run_id']} ({r['mode']}: {r['reason']}), {r['points']} points")


def start(workspace: Workspace, jobs: Jobs, interval: float) -> threading.Thread:
    """Tick now and every `interval` seconds after each tick's start, in a daemon thread."""
    def loop() -> None:
        while True:
            started = time.monotonic()
            try:
                tick(workspace, jobs)
            except Exception as exc:  # a tick that fails (a store error) is reported; the next one tries again
                _say(f"error: {' '.join(str(exc).split()) or type(exc).__name__}")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    thread = threading.Thread(target=loop, name="embc-schedule", daemon=True)
    thread.start()
    return thread
