"""The vector cache of full page-outs, on every store adapter: unchanged points come from it, and the vectors
paged out are always the store's."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from embc.cluster.fitting import spill
from embc.cluster.vector_cache import VectorCache, keys
from embc.ingest.items import HASH_KEY, Item
from embc.ingest.pipeline import ingest
from embc.store.vectors import CollectionInfo


def _ingest(store, X: np.ndarray, first: int = 0) -> None:
    ingest(store, "c", (Item(key=f"p{first + i}", source="t", kind="vector", vector=v) for i, v in enumerate(X)))


def _unit(n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _page_out(store, folder: Path, cache: VectorCache | None = None):
    data = spill(store, "c", folder, cache=cache or VectorCache(folder / "vectors", store.collection("c"))).read()
    stored = {r.id: r.vector for r in store.retrieve("c", data.ids, with_vectors=True)}
    np.testing.assert_array_equal(data.X, np.stack([stored[i] for i in data.ids]))  # the store's own vectors
    return data


def _hits(store, cache: VectorCache) -> int:
    """How many of the collection's points the cache holds, by id and vector hash."""
    records = store.retrieve("c", _ids(store), keys=[HASH_KEY])
    return int((cache.find(keys([r.id for r in records], [r.payload.get(HASH_KEY) for r in records])) >= 0).sum())


def _ids(store) -> list[str]:
    return [i for page in store.pages("c", with_vectors=False, keys=[]) for i in page.ids]


def test_unchanged_points_come_from_the_cache_and_changed_or_new_ones_from_the_store(store, tmp_path):
    _ingest(store, _unit(300, 0))
    first = _page_out(store, tmp_path)
    assert (tmp_path / "vectors" / "c.vectors").exists()
    _ingest(store, _unit(5, 1))  # p0-p4 re-embedded: new vectors under the same ids
    _ingest(store, _unit(3, 2), first=300)  # three new points
    cache = VectorCache(tmp_path / "vectors", store.collection("c"))
    assert len(cache) == 300 and _hits(store, cache) == 295
    second = _page_out(store, tmp_path, cache)
    assert len(second.ids) == 303 and set(first.ids) < set(second.ids)
    # The second page-out became the cache: now every point is in it.
    assert _hits(store, VectorCache(tmp_path / "vectors", store.collection("c"))) == 303


def test_a_cache_of_another_model_a_damaged_one_and_points_without_a_hash_are_read_from_the_store(store, tmp_path):
    _ingest(store, _unit(200, 0))
    _page_out(store, tmp_path)
    info = store.collection("c")
    other = CollectionInfo("c", info.dim, "another-model", info.modality)
    assert len(VectorCache(tmp_path / "vectors", other)) == 0
    path = tmp_path / "vectors" / "c.vectors"
    path.write_bytes(path.read_bytes()[:-5])
    assert len(VectorCache(tmp_path / "vectors", info)) == 0
    _page_out(store, tmp_path)  # every vector from the store, and a sound cache again
    assert len(VectorCache(tmp_path / "vectors", info)) == 200
    ids = _ids(store)[:10]
    store.upsert("c", ids, _unit(10, 3), [{"item": "by hand"}] * 10)  # written without embc's vector hash
    assert _hits(store, VectorCache(tmp_path / "vectors", info)) == 190
    _page_out(store, tmp_path)


def test_no_cache_is_kept_for_a_collection_stored_without_hashes(store, tmp_path):
    store.create_collection(CollectionInfo("c", 16, "precomputed", "vector"))
    store.upsert("c", [str(uuid.uuid4()) for _ in range(50)], _unit(50, 0), [{}] * 50)
    assert len(_page_out(store, tmp_path).ids) == 50
    assert not list((tmp_path / "vectors").iterdir())
