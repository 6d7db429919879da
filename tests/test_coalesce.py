"""Queries asked at once from many threads share model calls (embc.coalesce): each caller gets its own
vectors, an item the model refuses fails only its own caller, and the model runs in one thread of its own."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from embc.coalesce import Coalesced
from embc.ingest.embedders import PrecomputedEmbedder
from embc.ingest.items import Item
from embc.store.embedded import EmbeddedStore
from embc.store.vectors import CollectionInfo

CALLERS = 16


def _together(ask, requests: list) -> list:
    """`ask(request)` for every request from its own thread, all released at once; each result or the error
    it raised."""
    start = threading.Barrier(len(requests))

    def one(request):
        start.wait()
        try:
            return ask(request)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def test_each_caller_gets_its_own_vectors(minilm, wordnet_rows):
    texts = [r["text"] for r in wordnet_rows[:CALLERS * 3]]
    batches = [[Item(key=t, source="q", kind="text", text=t) for t in texts[n::CALLERS]] for n in range(CALLERS)]
    alone = [minilm.embed(batch) for batch in batches]
    for _ in range(3):  # three rounds, so callers meet the model busy in different ways
        together = _together(Coalesced(minilm).embed, batches)
        for mine, expected in zip(together, alone):
            assert mine.shape == expected.shape
            # Padding to a batch's longest text moves the float32 result in its last digits, nothing more.
            assert (mine * expected).sum(axis=1).min() > 0.9999


def test_an_item_the_model_refuses_fails_only_its_caller():
    embedder = Coalesced(PrecomputedEmbedder(4))
    good = [[Item(key=f"k{n}", source="q", kind="vector", vector=np.full(4, n + 1.0, np.float32))]
            for n in range(CALLERS - 1)]
    bad = [Item(key="bad", source="q", kind="vector", vector=None)]  # no vector to normalise
    results = _together(embedder.embed, [*good[:5], bad, *good[5:]])
    assert isinstance(results[5], Exception)
    for result in results[:5] + results[6:]:
        np.testing.assert_allclose(result, np.full((1, 4), 0.5, np.float32))
    with pytest.raises(type(results[5])):  # the error it raises alone
        embedder.embed(bad)
    np.testing.assert_allclose(embedder.embed(good[0]), np.full((1, 4), 0.5, np.float32))


def test_searches_asked_at_once_find_what_each_finds_alone(tmp_path, wordnet_vectors):
    X, labels, _ = wordnet_vectors
    store = EmbeddedStore(tmp_path, resident=True)  # a server's: searches asked at once go in one engine call
    try:
        store.create_collection(CollectionInfo("wn", dim=X.shape[1], model="minilm", modality="text"))
        ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"wn-{i}")) for i in range(len(X))]
        store.upsert("wn", ids, X, [{"cluster": int(c)} for c in labels])
        asks = [(X[n], None if n % 2 else {"cluster": int(labels[n])}) for n in range(CALLERS * 2)]
        alone = [[r.id for r in store.search("wn", vector, 10, match)] for vector, match in asks]
        for _ in range(3):
            together = _together(lambda ask: [r.id for r in store.search("wn", ask[0], 10, ask[1])], asks)
            assert together == alone
        assert all(hits[0] == ids[n] for n, hits in enumerate(alone))  # each vector finds itself first
    finally:
        store.close()


def test_every_model_call_runs_in_the_one_model_thread():
    threads: set[int] = set()

    class Observed(PrecomputedEmbedder):
        def embed(self, items):
            threads.add(threading.get_ident())
            return super().embed(items)

    embedder = Coalesced(Observed(4))
    asks = [[Item(key=f"k{n}", source="q", kind="vector", vector=np.full(4, n + 1.0, np.float32))]
            for n in range(CALLERS)]
    for _ in range(3):
        for result in _together(embedder.embed, asks):
            np.testing.assert_allclose(result, np.full((1, 4), 0.5, np.float32))
    embedder.embed(asks[0])  # and a caller alone
    assert len(threads) == 1 and threading.get_ident() not in threads
