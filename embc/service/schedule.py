"""What the server does on its own: `embc serve --every` reclusters every collection on a schedule, as jobs that
clients see at /v1/jobs like their own, and every few seconds a collection that is due gets its vector index
built (`embc.store.indexing`), one line for each on stderr; a quiet collection gets the answers people ask
first made ahead (`embc.service.answers`), and the model its text and image questions are embedded by loaded."""

from __future__ import annotations

import threading
import time

from embc.errors import describe_error
from embc.service.answers import Answers
from embc.service.jobs import Jobs
from embc.service.logs import say
from embc.store.vectors import DAMAGED, CollectionInfo
from embc.workspace import Workspace


def tick(workspace: Workspace, jobs: Jobs) -> None:
    """Bring every collection's clustering up to date, one collection at a time (one whose job a client
    started is left to it), and its decoder, where it has one and has grown past it."""
    for info in workspace.collections():
        if info.modality == DAMAGED:
            say(f"{info.name}: damaged, skipped")
            continue
        r = _run(jobs, info.name, lambda progress, name=info.name: workspace.recluster(
            name, progress=progress).to_dict())
        if r is None:
            continue
        if r["run_id"] is None:
            say(f"{info.name}: {r['reason']}")
        else:
            say(f"{info.name}: run {r['run_id']} ({r['mode']}: {r['reason']}), {r['points']} points")
        if workspace.decoder_due(info.name):
            r = _run(jobs, info.name, lambda progress, name=info.name: workspace.train_decoder(
                name, progress=progress).to_dict())
            if r is not None:
                say(f"{info.name}: decoder trained again on {r['items']} items, validation loss {r['val_loss']}")


def index_tick(workspace: Workspace, jobs: Jobs, answers: Answers | None = None,
               models_tried: set[tuple] | None = None) -> None:
    """Make the first answers of each quiet collection ahead (with `answers`) and load its query model (each model
    once: `models_tried` holds those tried), and build the vector index of each one that is due for one, one at
    a time; none for a collection with a job running."""
    for info in workspace.collections():
        if jobs.stopping.is_set():
            return
        if info.modality == DAMAGED or jobs.active(info.name) is not None:
            continue
        if answers is not None and workspace.store.quiet(info.name):
            answers.warm(info.name)
            if models_tried is not None:
                load_model(workspace, info, models_tried)
        # `info.points` was counted just now: a count holds the engine (10 ms at 100k).
        if workspace.store.index_due(info.name, info.points):
            started = time.monotonic()
            built = workspace.store.index(info.name, jobs.stopping)
            if jobs.stopping.is_set():
                return
            say(f"{info.name}: vector index {'built' if built else 'dropped (the collection was written to or busy)'}"
                f" in {time.monotonic() - started:.0f} s")


def load_model(workspace: Workspace, info: CollectionInfo, tried: set[tuple]) -> None:
    """Load the model that embeds the collection's text and image questions and run it once, unless it was
    `tried`, so that the first question waits for neither (seconds; over 20 for some image models, and 2 more for
    CLIP's text encoder): a line on stderr."""
    from embc.ingest.registry import accepts
    from embc.queries import run_query_model

    model = (info.model, info.dim, info.weights, info.precision)
    if model in tried or not (accepts(info.model, "text") or accepts(info.model, "image")):
        return
    tried.add(model)
    started = time.monotonic()
    try:
        run_query_model(info, workspace.embedder)
    except Exception as exc:  # the first question that needs it will say why, to whoever asks
        say(f"{info.name}: model {info.model} not loaded ahead: {describe_error(exc)}")
        return
    say(f"{info.name}: model {info.model} loaded in {time.monotonic() - started:.0f} s")


def _run(jobs: Jobs, collection: str, work) -> dict | None:
    """Run a scheduled job on the collection and wait for it: its result, or None (said when it failed)."""
    job = jobs.start(collection, work, origin="schedule")
    if job is None:
        return None
    job.thread.join()
    if job.state != "done":
        say(f"{collection}: {'error: ' if job.state == 'failed' else ''}{job.error}")  # or cancelled by a client
        return None
    return job.result


def start(workspace: Workspace, jobs: Jobs, interval: float, work=tick, *more) -> threading.Thread:
    """`work(workspace, jobs, *more)` (a tick) now and every `interval` seconds after each one's start, in a daemon
    thread, until the jobs stop."""
    def loop() -> None:
        while not jobs.stopping.is_set():
            started = time.monotonic()
            try:
                work(workspace, jobs, *more)
            except Exception as exc:  # a tick that fails (a store error) is reported; the next one tries again
                if not jobs.stopping.is_set():
                    say(f"error: {describe_error(exc)}")
            jobs.stopping.wait(max(0.0, interval - (time.monotonic() - started)))

    thread = threading.Thread(target=loop, name=f"embc-{work.__name__}", daemon=True)
    thread.start()
    return thread
