"""Models computing in bf16 (issue 19): the vectors match fp32's, cluster alike, and a collection keeps the
precision it was made with."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FASHION, WORDNET, run_embc
from sklearn.metrics import normalized_mutual_info_score

from embc import Workspace
from embc.cluster.kmeans import SampledKMeans
from embc.errors import EmbcError
from embc.ingest.items import Item
from embc.ingest.pipeline import ingest
from embc.ingest.precision import OPENVINO
from embc.ingest.registry import load_embedder
from embc.ingest.sources import iter_items


@pytest.mark.parametrize("precision", ["bf16", OPENVINO])
def test_bf16_minilm_vectors_match_fp32_and_cluster_alike(wordnet_vectors, wordnet_rows, precision):
    fp32, _, truth = wordnet_vectors
    rows = wordnet_rows[::4]
    bf16 = load_embedder("minilm", precision=precision).embed(
        [Item(key=r["id"], source="wn", kind="text", text=r["text"]) for r in rows])
    assert bf16.dtype == np.float32 and np.allclose(np.linalg.norm(bf16, axis=1), 1, atol=1e-5)
    assert (fp32 * bf16).sum(axis=1).min() >= 0.99
    # One k-means fit lands in another local minimum after the smallest change of the vectors (NMI over seeds
    # moved by 0.01-0.03 either way), so both sets of vectors are placed at the same fitted centres.
    model = SampledKMeans(8, random_state=0).fit(fp32)
    placed = model.predict(bf16)
    assert (placed == model.labels_).mean() >= 0.98
    assert abs(normalized_mutual_info_score(truth, placed) - normalized_mutual_info_score(truth, model.labels_)) <= 0.01


def test_a_model_converted_for_openvino_is_kept_and_read_back_the_same(tmp_path, wordnet_rows):
    items = [Item(key=r["id"], source="wn", kind="text", text=r["text"]) for r in wordnet_rows[:50]]
    made = load_embedder("minilm", precision=OPENVINO, cache=tmp_path).embed(items)
    kept = [p.name for p in tmp_path.iterdir()]
    assert len(kept) == 1 and (tmp_path / kept[0] / "model.xml").exists()  # no part-written folder left
    read_back = load_embedder("minilm", precision=OPENVINO, cache=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == kept
    assert np.array_equal(read_back.embed(items), made)


def test_bf16_image_vectors_match_fp32():
    items = list(iter_items([FASHION]))[:64]
    vectors = [load_embedder("effnet-lite0", precision=p).embed(items) for p in ("fp32", "bf16")]
    assert (vectors[0] * vectors[1]).sum(axis=1).min() >= 0.99


def test_a_collection_keeps_the_precision_it_was_made_with(tmp_path, monkeypatch, wordnet_rows):
    records = [{"id": r["id"], "text": r["text"]} for r in wordnet_rows[:40]]
    with Workspace(tmp_path) as ws:
        monkeypatch.setenv("EMBC_PRECISION", "bf16")
        ws.ingest("made-bf16", records[:20])
        # A collection made in bf16 by torch, before text models ran on OpenVINO, stays with torch.
        ingest(ws.store, "made-by-torch", [Item(key=r["id"], source="t", kind="text", text=r["text"])
                                           for r in records[:20]], embedder=ws.embedder("minilm", precision="bf16"))
        ws.ingest("made-by-torch", records[20:])
        monkeypatch.setenv("EMBC_PRECISION", "fp32")
        ws.ingest("made-bf16", records[20:])
        ws.ingest("made-fp32", records[:20])
        assert {c.name: c.precision for c in ws.collections()} == {
            "made-bf16": OPENVINO, "made-by-torch": "bf16", "made-fp32": "fp32"}
        # Every vector of each collection, the later ingests' too, came from the model it was made with: fp32
        # MiniLM without torch.
        loaded = {(key[0], key[-1]) for key in ws._embedders} | {(key[0], key[-1]) for key in ws._without}
        assert loaded == {("minilm", OPENVINO), ("minilm", "bf16"), ("minilm", "fp32")}
        assert ws.similar("made-bf16", text=wordnet_rows[30]["text"], limit=1)[0].item == wordnet_rows[30]["id"]
        with pytest.raises(EmbcError, match=f"was embedded in {OPENVINO}, not bf16"):
            ingest(ws.store, "made-bf16", [Item(key="x", source="t", kind="text", text="a dog")],
                   embedder=ws.embedder("minilm", precision="bf16"))


def test_an_unknown_precision_is_one_clear_line(tmp_path):
    result = run_embc("ingest", str(WORDNET), "-c", "w", home=tmp_path,
                      env={"EMBC_PRECISION": "fp16"})
    assert result.returncode != 0
    assert result.stderr.strip() == "embc: error: EMBC_PRECISION must be fp32 or bf16, not 'fp16'"
