"""One call for the requests that arrive together.

A server answers many questions at once. A text or image query needs the model, and MiniLM embeds 16
sentences in one batch in a fraction of the time of 16 calls of one; a search needs the engine, whose batch
query answered 16 searches of 100,000 points in 6.3 ms each against 15-18 ms alone. Calls from several
threads at once would only fight over the same cores. So while one call runs, the requests that arrive wait,
and the next call takes all of them; a request that arrives when nothing runs goes at once, alone.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Generic, Sequence, TypeVar

import numpy as np

if TYPE_CHECKING:
    from embc.ingest.embedders import Embedder
    from embc.ingest.items import Item

GATHER = 0.002  # seconds a call waits for more requests when the last call had a queue behind it
Request = TypeVar("Request")
Result = TypeVar("Result")


class _Call(Generic[Request, Result]):
    """One caller's request, and what became of it."""

    def __init__(self, request: Request):
        self.request = request
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.lead = False  # set when this caller is to make the next call
        self.ready = threading.Event()

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        return self.result


class Coalescer(Generic[Request, Result]):
    """`coalescer(request)` from several threads at once: one `run(requests)` (results in the same order) on
    every request waiting."""

    def __init__(self, run: Callable[[list[Request]], Sequence[Result]]):
        self._run_many = run
        self._lock = threading.Lock()
        self._waiting: list[_Call] = []
        self._busy = False

    def __call__(self, request: Request) -> Result:
        call = _Call(request)
        with self._lock:
            self._waiting.append(call)
            call.lead, self._busy = not self._busy, True
        if not call.lead:
            call.ready.wait()
            if not call.lead:  # a leader ran this request
                return call.outcome()
            # The lead was handed on, so requests are streaming in. An engine call holds the GIL throughout,
            # so none could queue during the last one: give them a moment to.
            time.sleep(GATHER)
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._run(batch)
        finally:
            with self._lock:  # the lead passes to the first caller that came meanwhile
                if self._waiting:
                    self._waiting[0].lead = True
                    self._waiting[0].ready.set()
                else:
                    self._busy = False
        return call.outcome()

    def _run(self, batch: list[_Call]) -> None:
        try:
            for call, (result, error) in zip(batch, outcomes(self._run_many, [call.request for call in batch])):
                call.result, call.error = result, error
        finally:
            for call in batch:
                call.ready.set()


def outcomes(run: Callable[[list[Request]], Sequence[Result]],
             requests: list[Request]) -> list[tuple[Result | None, BaseException | None]]:
    """(result, error) of each request: every request in one `run`; when that fails, each alone, so that a
    request that cannot be answered fails only its own caller."""
    try:
        return [(result, None) for result in run(requests)]
    except Exception as exc:
        if len(requests) == 1:
            return [(None, exc)]
    alone: list[tuple[Result | None, BaseException | None]] = []
    for request in requests:
        try:
            alone.append((run([request])[0], None))
        except Exception as exc:
            alone.append((None, exc))
    return alone


class Coalesced:
    """`embedder` for queries: `embed` calls from several threads at once share model calls, which all run in
    one thread of its own."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.embed: Callable[[Sequence[Item]], np.ndarray] = Coalescer(self._embed_many)
        # torch's intra-op threads are a team per calling thread. Run from whichever caller led, a served
        # similar-by-text answered 240-246 requests/s to 16 clients; from one thread, 292-309.
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="embc-model")

    def prepare(self, item: Item):
        return self.embedder.prepare(item)

    def _embed_many(self, calls: list[Sequence[Item]]) -> list[np.ndarray]:
        vectors = self._model_thread.submit(self.embedder.embed, [item for items in calls for item in items]).result()
        return np.split(vectors, np.cumsum([len(items) for items in calls])[:-1])
