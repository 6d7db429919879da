"""Queries asked at once from many threads share model calls (embc.ingest.coalesce): each caller gets its own
vectors, and an item the model refuses fails only its own caller."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from embc.ingest.coalesce import Coalesced
from embc.ingest.embedders import PrecomputedEmbedder
from embc.ingest.items import Item

CALLERS = 16


def _together(coalesced: Coalesced, batches: list[list[Item]]) -> list:
    """Every batch embedded from its own thread, all released at once; each result or the error it raised."""
    start = threading.Barrier(len(batches))

    def ask(items: list[Item]):
        start.wait()
        try:
            return coalesced.embed(items)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(batches)) as pool:
        return list(pool.map(ask, batches))


def test_each_caller_gets_its_own_vectors(minilm, wordnet_rows):
    texts = [r["text"] for r in wordnet_rows[:CALLERS * 3]]
    batches = [[Item(key=t, source="q", kind="text", text=t) for t in texts[n::CALLERS]] for n in range(CALLERS)]
    alone = [minilm.embed(batch) for batch in batches]
    for _ in range(3):  # three rounds, so callers meet the model busy in different ways
        together = _together(Coalesced(minilm), batches)
        for mine, expected in zip(together, alone):
            assert mine.shape == expected.shape
            # Padding to a batch's longest text moves the float32 result in its last digits, nothing more.
            assert (mine * expected).sum(axis=1).min() > 0.9999


def test_an_item_the_model_refuses_fails_only_its_caller():
    embedder = Coalesced(PrecomputedEmbedder(4))
    good = [[Item(key=f"k{n}", source="q", kind="vector", vector=np.full(4, n + 1.0, np.float32))]
            for n in range(CALLERS - 1)]
    bad = [Item(key="bad", source="q", kind="vector", vector=None)]  # no vector to normalise
    results = _together(embedder, [*good[:5], bad, *good[5:]])
    assert isinstance(results[5], Exception)
    for result in results[:5] + results[6:]:
        np.testing.assert_allclose(result, np.full((1, 4), 0.5, np.float32))
    with pytest.raises(type(results[5])):  # the error it raises alone
        embedder.embed(bad)
    np.testing.assert_allclose(embedder.embed(good[0]), np.full((1, 4), 0.5, np.float32))
