"""Word vectors: word2vec trained on the collection's own texts, and GloVe / word2vec files, as SIF-weighted
document vectors."""

from __future__ import annotations

import json
import pytest
from helpers import WORDNET, recluster, run_embc

from embc.ingest.pipeline import ingest
from embc.ingest.sources import iter_items
from embc.store.embedded import EmbeddedStore
from embc.store.reports import ReportStore


def test_word2vec_on_wordnet_beats_tfidf_kmeans(tmp_path, wordnet_rows):
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import normalized_mutual_info_score

    store = EmbeddedStore(tmp_path / "collections")
    summary = ingest(store, "wn", iter_items([WORDNET]), model="word2vec", model_dir=tmp_path / "models" / "wn")
    assert summary.added == 1600 and summary.notes["unknown_words"] == 0 and summary.notes["words"] > 10_000
    assert (tmp_path / "models" / "wn" / "word2vec.kv").exists()
    run = recluster(store, ReportStore(tmp_path / "reports.duckdb"), "wn", "kmeans", {"k": 8}, projection="none")
    tfidf = TfidfVectorizer(stop_words="english").fit_transform([r["text"] for r in wordnet_rows])
    baseline = normalized_mutual_info_score([r["label"] for r in wordnet_rows],
                                            KMeans(8, n_init=4, random_state=0).fit(tfidf).labels_)
    # Measured here: word2vec 0.57, TF-IDF 0.21-0.26.
    assert run["metrics"]["nmi"] > baseline + 0.15, (run["metrics"]["nmi"], baseline)


def test_later_ingests_reuse_the_model_and_skip_texts_with_no_known_word(tmp_path):
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(
        ["the cat chased the dog", "a dog barked at the cat", "the car passed the truck",
         "a truck towed the car"] * 5)))
    trained = run_embc("ingest", str(first), "-c", "w", "--model", "word2vec", home=tmp_path)
    assert trained.returncode == 0 and "left out" not in trained.stderr  # every word has a vector: no note
    saved = tmp_path / "models" / "w" / "word2vec.kv"
    stamp = saved.stat().st_mtime_ns
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps({"id": "b1", "text": "the cat and the zebra"}) + "\n"
                     + json.dumps({"id": "b2", "text": "zebra quagga"}) + "\n"
                     + json.dumps({"id": "b3", "text": "?! 42 ..."}) + "\n")
    result = run_embc("ingest", str(later), "-c", "w", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["added"], summary["words"], summary["unknown_words"]) == (1, 5, 2)  # "and", "zebra"
    assert summary["skipped_items"] == [
        {"source": "b2", "reason": "none of its 2 words is in the word2vec vocabulary"},
        {"source": "b3", "reason": "it has no words, only digits and punctuation"}]
    assert saved.stat().st_mtime_ns == stamp  # not retrained
    hits = json.loads(run_embc("similar", "--text", "cat", "-c", "w", "--json", home=tmp_path).stdout)
    assert hits
    unknown = run_embc("similar", "--text", "zebra", "-c", "w", home=tmp_path)
    assert (unknown.returncode, unknown.stderr) == (
        1, "embc: error: cannot embed the query text: none of its 1 words is in the word2vec vocabulary\n")
    retrained = run_embc("ingest", str(first), str(later), "-c", "w", "--retrain", "--json", home=tmp_path)
    # Retrained on all 22 texts: every stored one re-embedded, and "zebra quagga" now has known words.
    assert (json.loads(retrained.stdout)["updated"], json.loads(retrained.stdout)["added"]) == (21, 1)
    assert saved.stat().st_mtime_ns != stamp


GLOVE = {"cat": [1, 0.1, 0, 0], "dog": [0.9, 0.2, 0, 0], "mouse": [0.8, 0, 0.1, 0],
         "car": [0, 0, 1, 0.1], "truck": [0, 0.1, 0.9, 0], "bus": [0, 0, 0.8, 0.2], "the": [0.3, 0.3, 0.3, 0.3]}


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec-text"])
def test_glove_file_vectors_cluster_and_count_unknown_words(tmp_path, header):
    vectors = tmp_path / "vectors.txt"
    lines = [f"{word} {' '.join(map(str, v))}" for word, v in GLOVE.items()]
    vectors.write_text("\n".join(([f"{len(GLOVE)} 4"] if header else []) + lines) + "\n")
    texts = tmp_path / "texts.jsonl"
    rows = [("the cat and the dog", "animal"), ("a mouse", "animal"), ("dog dog cat", "animal"),
            ("the car", "vehicle"), ("truck and bus", "vehicle"), ("the bus", "vehicle"), ("xyzzy", "vehicle")]
    texts.write_text("".join(json.dumps({"id": f"t{i}", "text": t, "label": l}) + "\n"
                             for i, (t, l) in enumerate(rows)))
    store = EmbeddedStore(tmp_path / "collections")
    summary = ingest(store, "g", iter_items([texts]), model=f"glove:{vectors}", model_dir=tmp_path / "models" / "g")
    assert summary.added == 6 and summary.notes == {"words": 17, "unknown_words": 3}
    assert [s.reason for s in summary.skipped] == ["none of its 1 words is in the glove:" + str(vectors)
                                                   + " vocabulary"]
    assert store.collection("g").dim == 4
    run = recluster(store, ReportStore(tmp_path / "reports.duckdb"), "g", "kmeans", {"k": 2}, projection="pca")
    assert run["metrics"]["nmi"] == pytest.approx(1.0)


def test_a_missing_empty_or_vectorless_glove_file_is_one_line(tmp_path):
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "cat"}\n')
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "words.txt").write_text("cat\ndog\n")  # words with no numbers: vectors of 0 dimensions
    for name, reason in (("nope.txt", f"no word-vector file '{tmp_path / 'nope.txt'}'"),
                         ("empty.txt", f"cannot read word vectors from '{tmp_path / 'empty.txt'}': the file is empty"),
                         ("words.txt", f"cannot read word vectors from '{tmp_path / 'words.txt'}': no word in it has "
                                       "a vector")):
        result = run_embc("ingest", str(texts), "--model", f"glove:{tmp_path / name}", home=tmp_path / "home")
        assert (result.returncode, result.stderr) == (1, f"embc: error: {reason}\n")
