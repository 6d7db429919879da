"""One contract, every adapter: embedded Qdrant, QdrantClient(":memory:"), and a live server when configured."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from embc.errors import EmbcError
from embc.store.embedded import EmbeddedStore
from embc.store.page_out import changed
from embc.store.server import ServerStore
from embc.store.vector_cache import HASH_KEY, keys, vector_hash
from embc.store.vectors import CollectionInfo, Search


def _points(n: int, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{seed}-{i}")) for i in range(n)]
    payloads = [{"item": f"item-{i}", "text": f"text {i}", "label": "even" if i % 2 == 0 else "odd"} for i in range(n)]
    return ids, vectors, payloads


@pytest.fixture
def filled(store):
    store.create_collection(CollectionInfo("docs", dim=8, model="test-model", modality="text"))
    ids, vectors, payloads = _points(50)
    store.upsert("docs", ids, vectors, payloads)
    return store, ids, vectors


def test_collection_remembers_how_its_vectors_were_made(store):
    assert store.create_collection(CollectionInfo("a", 8, "m1", "text", "/w.pt")).meta() == {
        "dim": 8, "model": "m1", "modality": "text", "weights": "/w.pt", "precision": "fp32"}
    # Creating again is a no-op that returns the existing collection.
    assert store.create_collection(CollectionInfo("a", 8, "m1", "text")).model == "m1"
    assert store.collection("a").dim == 8
    assert [(c.name, c.points) for c in store.collections()] == [("a", 0)]


def test_metadata_not_as_embc_writes_it_is_a_damaged_collection(store):
    store.create_collection(CollectionInfo("a", 8, "m1", "text"))
    store.create_collection(CollectionInfo("b", 8, "m1", "text"))
    bad = {"dim": "eight", "model": "m1", "modality": "text"}
    if hasattr(store, "client"):  # a Qdrant server, where another client may write a collection's metadata
        store.client.update_collection("a", metadata={"embc": bad})
    else:
        (store.root / "a" / "meta.json").write_text(json.dumps(bad))
    with pytest.raises(EmbcError, match="^collection 'a' is damaged: .*dim is 'eight', not a number of dimensions"):
        store.collection("a")
    assert [(c.name, c.modality) for c in store.collections()] == [("a", "damaged"), ("b", "text")]


def test_unknown_collection_is_a_clear_error(store):
    with pytest.raises(EmbcError, match="^no collection 'nope': ingest into it first$"):
        store.collection("nope")
    store.create_collection(CollectionInfo("wordnet", 8, "m1", "text"))
    with pytest.raises(EmbcError, match="^no collection 'wordnte': did you mean 'wordnet'\\?$"):
        store.collection("wordnte")
    with pytest.raises(EmbcError, match="invalid collection name"):
        store.collection("../etc")


def test_upsert_retrieve_and_count(filled):
    store, ids, vectors = filled
    assert store.count("docs") == 50
    records = store.retrieve("docs", ids[:3], with_vectors=True, keys=["item"])
    assert sorted(r.id for r in records) == sorted(ids[:3])
    by_id = {r.id: r for r in records}
    assert by_id[ids[0]].payload == {"item": "item-0"}
    np.testing.assert_allclose(by_id[ids[0]].vector, vectors[0], atol=1e-6)
    assert store.retrieve("docs", [str(uuid.uuid4())]) == []
    assert store.retrieve("docs", []) == store.retrieve("gone", []) == []  # none asked: no store call to fail
    # Upserting an existing id replaces the point: nothing is duplicated.
    store.upsert("docs", ids[:1], vectors[1:2], [{"item": "replaced"}])
    assert store.count("docs") == 50
    assert store.retrieve("docs", ids[:1])[0].payload == {"item": "replaced"}


def test_pages_cover_every_point_once(filled):
    store, ids, vectors = filled
    pages = list(store.pages("docs", page_size=7, keys=["label"]))
    assert [len(p.ids) for p in pages[:-1]] == [7] * (len(pages) - 1)
    seen = [i for p in pages for i in p.ids]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    stacked = np.vstack([p.vectors for p in pages])
    order = [ids.index(i) for i in seen]
    np.testing.assert_allclose(stacked, vectors[order], atol=1e-6)
    assert all(set(p) == {"label"} for page in pages for p in page.payloads)
    assert {p.total for p in pages} == {50}
    even_pages = list(store.pages("docs", with_vectors=False, match={"label": "even"}))
    assert sum(len(p.ids) for p in even_pages) == 25 and even_pages[0].total == 25
    assert even_pages[0].vectors is None


def test_sessions_nest(filled):
    store, ids, _ = filled
    with store.session("docs"):
        with store.session("docs"):
            assert store.count("docs") == 50
        # The outer session still holds the collection: this call neither reopens nor waits for it.
        assert len(store.retrieve("docs", ids[:2])) == 2
    assert store.count("docs") == 50


def test_labels_one_call_per_cluster_then_count_facet_and_filtered_search(filled):
    store, ids, vectors = filled
    groups = [(ids[:20], {"cluster": 0, "cluster_run": 1}), (ids[20:45], {"cluster": 1, "cluster_run": 1}),
              (ids[45:], {"cluster": -1, "cluster_run": 1})]
    store.set_payloads("docs", groups[:2])
    # None matches the points that lack the field: how a job finds the points no run has clustered yet.
    assert store.count("docs", {"cluster": None}) == 5
    assert sorted(next(store.pages("docs", match={"cluster": None})).ids) == sorted(ids[45:])
    store.set_payloads("docs", groups[2:])
    assert store.count("docs", {"cluster": None}) == 0
    assert store.count("docs", {"cluster": 1}) == 25
    assert store.facet("docs", "cluster") == {0: 20, 1: 25, -1: 5}
    # Labels are added to the payload, not written over it.
    assert store.retrieve("docs", ids[:1])[0].payload["text"] == "text 0"
    hits = store.search("docs", vectors[30], limit=5, match={"cluster": 1})
    assert hits[0].id == ids[30] and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(store.retrieve("docs", [h.id])[0].payload["cluster"] == 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # Several searches in one call: each finds what it finds alone.
    searches = [Search(vectors[30], 5, {"cluster": 1}), Search(vectors[3], 2), Search(vectors[7], 50, {"cluster": -1})]
    alone = [store.search("docs", s.vector, s.limit, s.match) for s in searches]
    together = store.search_many("docs", searches)
    assert [[h.id for h in hits] for hits in together] == [[h.id for h in hits] for hits in alone]
    assert [len(hits) for hits in together] == [5, 2, 5] and together[1][0].id == ids[3]
    assert store.search_many("docs", []) == []


def test_labels_for_points_deleted_since_the_job_read_them_go_to_the_rest(filled):
    store, ids, _ = filled
    store.delete("docs", [ids[3], ids[30]])
    store.set_payloads("docs", [(ids[:20], {"cluster": 0}), (ids[20:], {"cluster": 1})])
    assert store.facet("docs", "cluster") == {0: 19, 1: 29} and store.count("docs") == 48  # none comes back
    store.start_set_payloads("docs", [(ids[:20], {"cluster": 2})])()
    assert store.count("docs", {"cluster": 2}) == 19


def _stamped(item: str, clock: float = 0) -> dict:
    """A payload as ingest writes it, stamped with the time of a clock `clock` seconds ahead of this one."""
    now = datetime.now(timezone.utc) + timedelta(seconds=clock)
    return {"item": item, "ingested_at": now.isoformat(timespec="milliseconds")}


def test_of_the_points_upserted_since_they_were_read_those_with_another_vector_or_none_have_changed(filled):
    store, ids, vectors = filled
    hashes = [vector_hash(v) for v in vectors[:4]]
    store.upsert("docs", ids[:4], vectors[:4], [{HASH_KEY: h} for h in hashes])
    read = keys(ids[:4], hashes)
    store.upsert("docs", ids[1:2], vectors[1:2], [{HASH_KEY: hashes[1]}])  # the same vector again
    store.upsert("docs", ids[2:3], vectors[5:6], [{HASH_KEY: vector_hash(vectors[5])}])
    store.delete("docs", ids[3:4])
    assert changed(store, "docs", ids[:4], read, set(ids[1:4]) | {str(uuid.uuid4())}) == [ids[2], ids[3]]


def test_a_watch_sees_what_any_writer_upserts_and_labels_are_cleared_from_the_points_still_there(filled):
    store, ids, vectors = filled
    store.set_payloads("docs", [(ids, {"cluster": 0, "cluster_run": 1})])
    store.upsert("docs", ids[10:12], vectors[10:12], [_stamped("just before")] * 2)  # ingest, then recluster at once
    # Another process: a second adapter over the same folder, or another client of the same server.
    other = EmbeddedStore(store.root) if isinstance(store, EmbeddedStore) else ServerStore(store.client)
    with store.watch("docs") as upserted:
        store.upsert("docs", ids[:1], vectors[:1], [_stamped("again")])
        other.upsert("docs", ids[1:2], vectors[1:2], [_stamped("from elsewhere")])
        # A host whose clock runs half a minute behind stamps its upsert as if before the watch began.
        other.upsert("docs", ids[3:4], vectors[3:4], [_stamped("from a slow clock", -30)])
        # A server's watch takes in what was stamped minutes before it began too: `changed` keeps those by vector.
        assert upserted() == set(ids[:2] + ids[3:4]) | (set(ids[10:12]) if isinstance(store, ServerStore) else set())
    store.upsert("docs", ids[2:3], vectors[2:3], [_stamped("after")])
    store.delete("docs", ids[1:2])
    store.clear_labels("docs", [ids[1], ids[5], ids[6]])
    assert store.count("docs", {"cluster": None}) == 7  # ids 0, 2, 3, 10 and 11 (upserted), 5 and 6 (cleared)
    assert store.retrieve("docs", ids[5:6])[0].payload["text"] == "text 5"  # the rest of the payload stays
    assert "cluster_run" not in store.retrieve("docs", ids[5:6])[0].payload


def test_labels_written_beside_other_work_report_progress_and_errors(filled):
    store, ids, _ = filled
    groups = [(ids[:20], {"cluster": 0, "cluster_run": 2}), (ids[20:], {"cluster": 1, "cluster_run": 2})]
    seen = []
    wait = store.start_set_payloads("docs", groups, lambda done, total: seen.append((done, total)))
    wait()  # the embedded engine writes in a second process, a server client in a thread
    assert seen == [(1, 2), (2, 2)]
    assert store.facet("docs", "cluster") == {0: 20, 1: 30}
    assert store.count("docs", {"cluster_run": 2}) == 50
    with store.session("docs"):  # while this process holds the collection, it writes them itself
        store.start_set_payloads("docs", [(ids[:5], {"cluster": 3})])()
        assert store.facet("docs", "cluster") == {0: 15, 1: 30, 3: 5}
        store.set_payloads("docs", [(ids[:5], {"cluster": 0})])
        # A value no point holds any more is not a cluster of size 0 (an open shard's index still lists it).
        assert store.facet("docs", "cluster") == {0: 20, 1: 30}
    assert store.count("docs", {"cluster": 3}) == 0
    wait = store.start_set_payloads("docs", [(ids[:1], {"cluster": object()})])  # no payload holds an object
    with pytest.raises(Exception):  # the write's own error, through the wait
        wait()


def test_pages_match_a_payload_field_that_has_no_index(filled):
    store, ids, _ = filled
    page = next(store.pages("docs", page_size=1, match={"item": "item-7"}))
    assert page.ids == [ids[7]]


def test_delete_points_and_collection(filled):
    store, ids, _ = filled
    store.delete("docs", ids[:10])
    assert store.count("docs") == 40
    store.delete_collection("docs")
    assert store.collections() == []
    with pytest.raises(EmbcError):
        store.count("docs")
