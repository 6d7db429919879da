"""A resident store (a server's) builds a collection's vector index in a child process on a copy of its shard
and swaps it in: questions go on meanwhile, the answers stay the same, a write in the meantime cancels the
swap, and a crash in the middle of a swap loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid

import numpy as np
import pytest
from qdrant_edge import EdgeShard

from embc.errors import EmbcError
from embc.store.embedded import EmbeddedStore
from embc.store.vectors import CollectionInfo

N, DIM = 8000, 384  # 12 MB of vectors: the engine indexes a segment from 10 MB


def _filled(root) -> tuple[EmbeddedStore, np.ndarray]:
    store = EmbeddedStore(root, resident=True)
    store.create_collection(CollectionInfo("c", DIM, "test-model", "text"))
    rng = np.random.default_rng(0)  # 20 topics, as embeddings have: the index finds neighbours by them
    vectors = rng.normal(size=(20, DIM))[rng.integers(20, size=N)] + 0.6 * rng.normal(size=(N, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    store.upsert("c", [str(uuid.uuid5(uuid.NAMESPACE_URL, str(i))) for i in range(N)], vectors,
                 [{"item": f"i{i}", "cluster": i % 5} for i in range(N)])
    return store, vectors


def _indexed(root) -> int:
    shard = EdgeShard.load(str(root / "c" / "shard"))
    try:
        return shard.info().indexed_vectors_count
    finally:
        shard.close()


def _nearest(store: EmbeddedStore, queries: np.ndarray, cluster: int | None = None) -> list[set[str]]:
    return [{r.id for r in store.search("c", q, 10, None if cluster is None else {"cluster": cluster})}
            for q in queries]


def _recall(found: list[set[str]], exact: list[set[str]]) -> float:
    return sum(len(f & e) for f, e in zip(found, exact)) / sum(len(e) for e in exact)


def test_the_index_is_built_beside_questions_and_answers_stay_the_same(tmp_path):
    store, vectors = _filled(tmp_path)
    queries = vectors[:50]  # similar by item
    before, inside = _nearest(store, queries), _nearest(store, queries, cluster=3)
    asked: list[int] = []
    building = threading.Event()

    def ask() -> None:
        while building.is_set():
            asked.append(len(store.search("c", queries[0], 10)))

    building.set()
    asker = threading.Thread(target=ask)
    asker.start()
    try:
        assert store.index("c")
    finally:
        building.clear()
        asker.join()
    assert asked and set(asked) == {10}  # answered throughout the build and the swap
    # The index is approximate: nearly every one of the exact ten nearest, inside a cluster too.
    assert _recall(_nearest(store, queries), before) >= 0.95
    inside_after = _nearest(store, queries, cluster=3)
    assert _recall(inside_after, inside) >= 0.95
    assert {r.payload["cluster"] for r in store.retrieve("c", list(set().union(*inside_after)))} == {3}
    assert store.count("c") == N and sorted(os.listdir(tmp_path / "c")) == ["lock", "meta.json", "shard"]
    store.close()
    assert _indexed(tmp_path) == N
    # Searched on int8 copies of the vectors, kept in the shard's config for every later build.
    config = json.loads((tmp_path / "c" / "shard" / "edge_config.json").read_text())
    assert config["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "memory": "cached"}}


def test_a_write_during_the_build_cancels_the_swap_and_is_kept(tmp_path):
    store, vectors = _filled(tmp_path)
    new = str(uuid.uuid5(uuid.NAMESPACE_URL, "written meanwhile"))

    def write_once_copied() -> None:
        deadline = time.monotonic() + 60
        while not (tmp_path / "c" / "shard.new").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        store.upsert("c", [new], vectors[:1], [{"item": "new", "cluster": 0}])

    writer = threading.Thread(target=write_once_copied)
    writer.start()
    assert not store.index("c")
    writer.join()
    assert store.count("c") == N + 1 and store.retrieve("c", [new])[0].payload["item"] == "new"
    assert not (tmp_path / "c" / "shard.new").exists()
    store.close()
    assert _indexed(tmp_path) == 0


def test_a_swap_cut_short_by_a_crash_is_put_right_when_the_collection_opens(tmp_path):
    store, _ = _filled(tmp_path)
    store.close()
    folder = tmp_path / "c"
    shutil.copytree(folder / "shard", folder / "shard.new")
    os.replace(folder / "shard", folder / "shard.old")  # the crash came between the swap's two renames
    reopened = EmbeddedStore(tmp_path, resident=True)
    assert reopened.count("c") == N
    assert sorted(os.listdir(folder)) == ["lock", "meta.json", "shard"]
    reopened.close()
    shutil.copytree(folder / "shard", folder / "shard.new")  # a build that died: its copy is dropped
    assert EmbeddedStore(tmp_path).count("c") == N and not (folder / "shard.new").exists()


def test_the_server_indexes_a_collection_once_it_is_large_and_quiet_and_again_after_a_tenth_is_rewritten(
        tmp_path, monkeypatch):
    from embc import Workspace
    from embc.service import schedule
    from embc.service.jobs import Jobs
    from embc.store import embedded

    monkeypatch.setattr(embedded, "QUIET", 0.2)
    store, _ = _filled(tmp_path / "collections")
    ids = [i for page in store.pages("c", with_vectors=False, keys=[]) for i in page.ids]
    time.sleep(0.3)
    monkeypatch.setattr(embedded, "INDEX_FROM", N + 1)
    assert not store.index_due("c", store.count("c"))  # too small
    monkeypatch.setattr(embedded, "INDEX_FROM", N)
    assert store.index_due("c", store.count("c"))
    with Workspace(tmp_path, store=store) as workspace:
        schedule.index_tick(workspace, Jobs())
    assert not store.index_due("c", store.count("c"))
    store.set_payloads("c", [(ids[:N // 20], {"cluster": 9})])
    time.sleep(0.3)
    assert not store.index_due("c", store.count("c"))  # a twentieth of the points moved out of the index
    store.set_payloads("c", [(ids[N // 20:N // 10], {"cluster": 9})])
    time.sleep(0.3)
    assert store.index_due("c", store.count("c"))  # a tenth
    store.set_payloads("c", [(ids[:1], {"cluster": 8})])
    assert not store.index_due("c", store.count("c"))  # not while written to
    store.close()
    assert _indexed(tmp_path / "collections") == N


def test_a_build_that_failed_is_not_tried_again_at_once(tmp_path, monkeypatch):
    from embc.store import embedded

    monkeypatch.setattr(embedded, "QUIET", 0.0)
    monkeypatch.setattr(embedded, "INDEX_FROM", N)
    store, _ = _filled(tmp_path)
    meta = tmp_path / "c" / "meta.json"  # a dimension the shard's vectors do not have: the engine refuses it
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "dim": DIM + 1}))
    assert store.index_due("c", N)
    with pytest.raises(EmbcError, match="building the vector index failed"):
        store.index("c")
    assert not store.index_due("c", N)  # each try copies the whole shard
    assert store.count("c") == N and sorted(os.listdir(tmp_path / "c")) == ["lock", "meta.json", "shard"]
    monkeypatch.setattr(embedded, "RETRY", 0.0)
    assert store.index_due("c", N)
    store.close()
