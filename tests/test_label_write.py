"""A label write that replaces many labels on the embedded store drops the `cluster` index for the write and builds
it again after (cheaper than keeping it up to date at 1M points); a first write keeps it (cheaper that way); a
crash in between leaves it built again at the next opening; a resident store (a server's) keeps it throughout,
as its questions use it."""

from __future__ import annotations

import gc
import uuid
import warnings

import numpy as np
import pytest
from qdrant_edge import EdgeShard, UpdateOperation

from embc.store import embedded
from embc.store.embedded import EmbeddedStore
from embc.store.vectors import CollectionInfo

N = 60


def _indexes(root) -> list[str]:
    shard = EdgeShard.load(str(root / "c" / "shard"))
    try:
        return list(shard.info().payload_schema)
    finally:
        shard.close()


@pytest.fixture
def filled(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.create_collection(CollectionInfo("c", 4, "test-model", "text"))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, 4)).astype(np.float32)
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, str(i))) for i in range(N)]
    store.upsert("c", ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), [{"item": i} for i in ids])
    return store, ids


def _groups(ids: list[str]) -> list:
    return [(ids[c::3], {"cluster": c, "cluster_run": 1}) for c in range(3)]


def _indexes_seen(store: EmbeddedStore, ids: list[str], resident: bool) -> list[list[str]]:
    """The indexes the collection has between the groups of a label write, while the write holds the shard."""
    seen = []

    def progress(done: int, total: int) -> None:
        shard = store._kept("c") if resident else store._open["c"]
        seen.append(list(shard.info().payload_schema))

    with store.session("c"):
        store.set_payloads("c", _groups(ids), progress)
    return seen


@pytest.mark.parametrize("resident", [False, True])
def test_replacing_many_labels_goes_without_the_index_and_builds_it_again(filled, tmp_path, monkeypatch, resident):
    store, ids = filled
    store = EmbeddedStore(tmp_path, resident=resident)
    monkeypatch.setattr(embedded, "REINDEX_FROM", N)
    assert _indexes_seen(store, ids, resident) == [["cluster"]] * 3  # the first labels: nothing to replace
    assert _indexes_seen(store, ids[::-1], resident) == ([["cluster"]] * 3 if resident else [[]] * 3)
    assert store.facet("c", "cluster") == {0: 20, 1: 20, 2: 20}  # a facet needs the index
    assert store.count("c", {"cluster": 1}) == 20
    store.close()
    assert _indexes(tmp_path) == ["cluster"]


def test_a_small_write_keeps_the_index(filled, tmp_path):
    store, ids = filled
    store.set_payloads("c", _groups(ids))
    assert _indexes_seen(store, ids[::-1], False) == [["cluster"]] * 3


def test_an_index_a_crash_left_dropped_is_built_at_the_next_opening(filled, tmp_path):
    store, ids = filled
    store.set_payloads("c", _groups(ids))
    shard = EdgeShard.load(str(tmp_path / "c" / "shard"))  # killed between the drop and the build
    shard.update(UpdateOperation.delete_field_index("cluster"))
    shard.close()
    assert _indexes(tmp_path) == []
    assert store.count("c", {"cluster": 2}) == 20
    assert _indexes(tmp_path) == ["cluster"]
    assert store.facet("c", "cluster") == {0: 20, 1: 20, 2: 20}


def test_watches_of_upserts_end_with_their_job_and_a_dead_process_watch_goes(tmp_path):
    from embc.store import upserted

    (tmp_path / "999999999.abc.upserted").write_text("")  # a job killed while it watched: no such process now
    with upserted.watching(tmp_path) as seen:
        assert not (tmp_path / "999999999.abc.upserted").exists()
        upserted.note(tmp_path, ["a", "b"])
        upserted.note(tmp_path, ["b", "c"])
        assert seen() == {"a", "b", "c"}
    upserted.note(tmp_path, ["d"])  # after the watch ended: no file is made again
    assert not list(tmp_path.glob("*.upserted"))


def test_a_write_in_a_second_process_closes_its_pipes(filled):
    """Each recluster's write left the child's stdout open until the garbage collector found it (a
    ResourceWarning in a notebook, a descriptor held meanwhile in `embc serve`)."""
    store, ids = filled
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        wait = store.start_set_payloads("c", _groups(ids))
        wait()
        del wait
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    assert store.count("c", {"cluster": 1}) == 20
