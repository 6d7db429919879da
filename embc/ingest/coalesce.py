"""One model call for the queries that arrive together.

A server answers many questions at once, and each text or image query needs the model. MiniLM embeds 16
sentences in one batch in a fraction of the time of 16 calls of one, and calls from several threads at once
only fight over the same cores. So while the model embeds one batch of queries, the queries that arrive wait,
and the next call takes all of them; a query that arrives when the model is idle runs at once, alone.
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from embc.ingest.embedders import Embedder
from embc.ingest.items import Item


class _Call:
    """One caller's items, and what became of them."""

    def __init__(self, items: Sequence[Item]):
        self.items = items
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None
        self.lead = False  # set when this caller is to run the next model call
        self.ready = threading.Event()

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        return self.vectors


class Coalesced:
    """`embedder` for queries: `embed` calls from several threads at once share model calls."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self._lock = threading.Lock()
        self._waiting: list[_Call] = []
        self._busy = False

    def prepare(self, item: Item):
        return self.embedder.prepare(item)

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        call = _Call(items)
        with self._lock:
            self._waiting.append(call)
            call.lead, self._busy = not self._busy, True
        if not call.lead:
            call.ready.wait()
            if not call.lead:  # a leader ran this call's items
                return call.result()
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
        return call.result()

    def _run(self, batch: list[_Call]) -> None:
        """Embed every call's items in one model call; when that fails, each call's alone, so that an item the
        model refuses fails only its own caller."""
        try:
            try:
                vectors = self.embedder.embed([item for call in batch for item in call.items])
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                    return
                for call in batch:
                    try:
                        call.vectors = self.embedder.embed(call.items)
                    except Exception as own:
                        call.error = own
                return
            for call, part in zip(batch, np.split(vectors, np.cumsum([len(c.items) for c in batch])[:-1])):
                call.vectors = part
        finally:
            for call in batch:
                call.ready.set()
