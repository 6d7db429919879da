"""The vector cache, on every store adapter: ingest fills it, a full page-out reads unchanged points from it and
fetches the rest from the store, and the vectors paged out are always the store's."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import numpy as np
import pytest

from embc.ingest.items import Item
from embc.ingest.pipeline import ingest
from embc.store.page_out import spill
from embc.store.vector_cache import HASH_KEY, VectorCache, keys
from embc.store.vectors import CollectionInfo


def _ingest(store, folder: Path | None, X: np.ndarray, first: int = 0) -> None:
    ingest(store, "c", (Item(key=f"p{first + i}", source="t", kind="vector", vector=v) for i, v in enumerate(X)),
           vectors_dir=folder)


def _unit(n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _cache(store, folder: Path, name: str = "c") -> VectorCache:
    return VectorCache(folder, store.collection(name))


def _page_out(store, folder: Path, name: str = "c"):
    data = spill(store, name, _cache(store, folder, name)).read()
    stored = {r.id: r.vector for r in store.retrieve(name, data.ids, with_vectors=True)}
    # The store's own vectors. Ingest upserts unit vectors, which the engine and a server keep as given;
    # qdrant-client's local mode normalises every vector again (in float64), which can move the last bit.
    np.testing.assert_allclose(data.X, np.stack([stored[i] for i in data.ids]), rtol=0, atol=2e-7)
    return data


def _hits(store, folder: Path) -> int:
    """How many of the collection's points the cache holds, by id and vector hash."""
    ids = [i for page in store.pages("c", with_vectors=False, keys=[]) for i in page.ids]
    records = store.retrieve("c", ids, keys=[HASH_KEY])
    with _cache(store, folder) as cache:
        return int((cache.load().find(keys([r.id for r in records], [r.payload.get(HASH_KEY) for r in records]))
                    >= 0).sum())


def _records(store, folder: Path) -> int:
    with _cache(store, folder) as cache:
        return len(cache.load())


def test_ingest_fills_the_cache_and_points_it_lacks_come_from_the_store_and_are_added(store, tmp_path):
    folder = tmp_path / "vectors"
    _ingest(store, folder, _unit(300, 0))
    assert _hits(store, folder) == 300
    _page_out(store, tmp_path / "vectors")
    assert _records(store, folder) == 300  # nothing fetched, nothing appended
    _ingest(store, None, _unit(5, 1))  # p0-p4 re-embedded by an ingest that did not write the cache
    _ingest(store, None, _unit(3, 2), first=300)  # and three new points
    assert _hits(store, folder) == 295
    assert len(_page_out(store, folder).ids) == 303
    assert _hits(store, folder) == 303 and _records(store, folder) == 308


def test_a_cache_of_another_model_or_with_a_part_written_record_is_handled(store, tmp_path):
    folder = tmp_path / "vectors"
    _ingest(store, folder, _unit(200, 0))
    path = folder / "c.vectors"
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"\1" * 30)  # a writer killed part-way through a record
    assert _records(store, folder) == 200
    _ingest(store, folder, _unit(3, 1), first=200)
    assert path.stat().st_size == size + 3 * (32 + 4 + 16 * 4)  # the part-written record was cut first
    info = store.collection("c")
    with VectorCache(folder, CollectionInfo("c", info.dim, "another-model", info.modality)) as other:
        assert len(other.load()) == 0  # a collection made again with another model starts afresh
    _page_out(store, folder)  # every vector from the store, and a sound cache again
    assert _hits(store, folder) == 203


def test_records_no_point_uses_are_dropped_once_they_outnumber_the_rest(store, tmp_path):
    folder = tmp_path / "vectors"
    _ingest(store, folder, _unit(100, 0))
    _ingest(store, folder, _unit(100, 1))  # every point re-embedded twice: 200 stale records
    _ingest(store, folder, _unit(100, 2))
    cache = _cache(store, folder)
    spilled = spill(store, "c", cache)
    with _cache(store, folder) as ingesting:  # another process appends while the page-out runs
        ingesting.append(keys([str(uuid.uuid4())], ["0" * 32]), _unit(1, 3))
    data = spilled.read()
    assert _records(store, folder) == 101 and _hits(store, folder) == 100
    with _cache(store, folder) as cache:
        np.testing.assert_array_equal(cache.read(np.arange(100))[0], data.X)  # rewritten in page-out order


def test_points_without_a_hash_leave_nothing_in_the_cache(store, tmp_path):
    store.create_collection(CollectionInfo("h", 16, "precomputed", "vector"))
    store.upsert("h", [str(uuid.uuid4()) for _ in range(50)], _unit(50, 0), [{}] * 50)
    assert len(_page_out(store, tmp_path, "h").ids) == 50
    assert (tmp_path / "h.vectors").stat().st_size == len(_cache(store, tmp_path, "h").header)


def test_an_ingest_that_cannot_write_the_cache_still_stores_everything(store, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    _ingest(store, blocked, _unit(20, 0))
    assert store.count("c") == 20
    assert len(_page_out(store, tmp_path).ids) == 20


def test_a_point_deleted_between_the_scroll_and_the_fetch_is_left_out(store, tmp_path):
    """Another client deletes a point the cache lacks after the page-out has listed it: the page-out goes on
    without it."""
    folder = tmp_path / "vectors"
    _ingest(store, folder, _unit(20, 0))
    _ingest(store, None, _unit(5, 1), first=20)  # five points the cache lacks, fetched from the store

    class DeletingFirst(type(store)):
        def retrieve(self, name, ids, with_vectors=False, keys=None):
            if with_vectors:
                self.delete(name, ids[:1])
            return super().retrieve(name, ids, with_vectors, keys)

    deleting = copy.copy(store)
    deleting.__class__ = DeletingFirst
    data = spill(deleting, "c", _cache(store, folder)).read()
    assert len(data.ids) == 24 and store.count("c") == 24
    assert len(data.X) == len(data.previous) == len(data.truth) == 24
    stored = {r.id: r.vector for r in store.retrieve("c", data.ids, with_vectors=True)}
    np.testing.assert_allclose(data.X, np.stack([stored[i] for i in data.ids]), rtol=0, atol=2e-7)


def test_a_cache_held_by_another_process_is_waited_for_with_a_word_then_given_up(tmp_path, monkeypatch, capfd):
    import fcntl

    import pytest

    from embc.errors import EmbcError

    info = CollectionInfo("c", 16, "precomputed", "vector")
    (tmp_path / "c.vectors.lock").touch()
    monkeypatch.setenv("EMBC_WAIT_TIMEOUT", "0.3")
    with open(tmp_path / "c.vectors.lock") as held:  # another open file: flock treats it as another holder
        fcntl.flock(held, fcntl.LOCK_EX)
        gave_up = "gave up waiting for the vector cache of 'c' after 0 s"
        with VectorCache(tmp_path, info) as cache, pytest.raises(EmbcError, match=gave_up):
            cache.append(keys(["00000000-0000-0000-0000-000000000001"], ["ab" * 8]), _unit(1, 0))
    assert capfd.readouterr().err == "embc: waiting for the vector cache of 'c': another embc process is using it\n"


def test_a_damaged_record_is_read_from_the_store_and_counted(store, tmp_path):
    folder = tmp_path / "vectors"
    X = _unit(50, 0)
    _ingest(store, folder, X)
    path = folder / "c.vectors"
    record = 32 + 4 + 16 * 4
    header = path.stat().st_size - 50 * record
    with open(path, "r+b") as f:  # overwrite two records' vectors, their keys and checksums intact
        f.seek(header + 7 * record + 36)
        f.write(np.full(16, 0.25, np.float32).tobytes())
        f.seek(header + 9 * record + 36)
        f.write(np.full(16, np.nan, np.float32).tobytes())
    data = _page_out(store, folder)  # asserts every vector is the store's
    assert (data.repaired, data.skipped, len(data.ids)) == (2, 0, 50)
    assert _page_out(store, folder).repaired == 0  # the cache was rewritten sound


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # qdrant-client normalising inf
def test_points_whose_stored_vector_is_not_finite_or_zero_are_left_out_and_counted(store, tmp_path):
    folder = tmp_path / "vectors"
    _ingest(store, folder, _unit(20, 0))
    bad = _unit(2, 1)
    bad[0, 3] = np.inf
    bad[1] = 0
    # Another client writes them straight into the store, past ingest's checks.
    store.upsert("c", [str(uuid.uuid4()), str(uuid.uuid4())], bad, [{"item": "inf"}, {"item": "zero"}])
    data = spill(store, "c", _cache(store, folder), keep=100).read()
    assert (len(data.ids), data.skipped) == (20, 2) and np.isfinite(data.X).all()
    assert len(data.payloads) == 20 and data.rows.max() < 20
