"""The public library as a notebook uses it: nothing but `import embc`, on the real WordNet sample."""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import embc
from embc.ingest.items import NON_FINITE
from helpers import ROOT, WORDNET, run_embc


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> embc.Workspace:
    """A Workspace holding the WordNet sample, ingested and clustered at k=8."""
    ws = embc.Workspace(tmp_path_factory.mktemp("api") / "data")
    result = ws.ingest("wordnet", WORDNET)
    assert (result.collection, result.added, result.unchanged, result.skipped) == ("wordnet", 1600, 0, [])
    return ws


@pytest.fixture(scope="module")
def run(ws) -> embc.RunResult:
    return ws.recluster("wordnet", k=8, seed=0, projection="pca")


def _majority(entries: list[embc.Entry]) -> str:
    return Counter(e.label for e in entries).most_common(1)[0][0]


def test_arguments_of_the_wrong_kind_are_parameter_errors_that_say_what_is_wanted(ws, run):
    for source, given in ((None, "None"), (42, "42"), (b"abc", "b'abc'"),
                          ({"text": "x"}, "{'text': 'x'} (put one record in a list)")):
        with pytest.raises(embc.ParameterError, match=re.escape(
                f"ingest takes a file or folder path, a list of paths, or an iterable of records, not {given}")):
            ws.ingest("notes", source)
    with pytest.raises(embc.ParameterError, match="^the query text must be a string, not int$"):
        ws.similar("wordnet", text=123)
    for run in ("1", 1.5, True):
        refused = f"a run is an integer, one of the collection's run ids, not {run!r}"
        with pytest.raises(embc.ParameterError, match=re.escape(refused)):
            ws.members("wordnet", 0, run=run)
    with pytest.raises(embc.NotFound, match=f"^no run {2**70} of collection 'wordnet': its runs are 1$"):
        ws.clusters("wordnet", run=2**70)
    assert ws.recluster_plan("wordnet", k=12) == ("kmeans", {"k": 12, "n_init": 4})
    assert ws.recluster_plan("wordnet", "hdbscan")[1]["reduce"] == "umap"
    for params, message in (({"k": 1}, "k must be an integer >= 2"), ({"k": 5000}, "k must be at most the "
                            "collection's 1600 points"), ({"linkage": "ward"}, "kmeans does not take linkage"),
                            ({"algorithm": "dbscan", "eps": 0}, re.escape("eps must be a finite number > 0, or unset "
                                                                          "(chosen from the data), not 0"))):
        with pytest.raises(embc.ParameterError, match=message):
            ws.recluster_plan("wordnet", **params)
    for call, message in ((lambda: ws.recluster("wordnet", refit_fraction="x"), "refit_fraction must be a number"),
                          (lambda: ws.plot("wordnet", "map", None), "out is the file to write the figure to"),
                          (lambda: ws.ingest("notes", ["a text"], model=5), "unknown model 5: use minilm"),
                          (lambda: ws.delete("wordnet", 7), "items is a list of keys, not 7"),
                          (lambda: ws.export("wordnet", 7), "target is a file path or a binary stream, not 7"),
                          (lambda: ws.export("wordnet", "a\0.csv"), "target is a file path or a binary stream"),
                          (lambda: ws.export("wordnet", ws.path / "reports.duckdb"), "would replace or sit among "
                           "embc's own files in the data directory"),
                          (lambda: ws.plot("wordnet", "map", ws.path / "collections" / "map.png"), "embc's own files"),
                          (lambda: ws.rename("wordnet", 0, "a\0b"), "none of them a control character")):
        with pytest.raises(embc.ParameterError, match=message):
            call()
    # A limit beyond any collection (beyond the engine's 64 bits, too) is all of them.
    assert len(ws.members("wordnet", 0, limit=10**30)) == len(ws.members("wordnet", 0))
    assert len(ws.similar("wordnet", text="a dog", limit=10**30)) == 1600
    for asks, message in (([{"txt": "a dog"}], "ask 0 has an argument similar does not take: 'txt'"),
                          ([{"text": "a dog"}, "a cat"], "ask 1 is not a mapping of similar's arguments"),
                          (None, "asks is a list of mappings of similar's arguments, not None")):
        with pytest.raises(embc.ParameterError, match=re.escape(message)):
            ws.similar_many("wordnet", asks)
    assert [c.name for c in ws.collections()] == ["wordnet"]


def test_ingest_twice_changes_nothing_and_records_go_in_too(ws):
    again = ws.ingest("wordnet", WORDNET)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1600)
    assert again.to_dict()["skipped_items"] == []
    mixed = ws.ingest("notes", ["a golden retriever fetching a ball", {"id": "n2", "text": "a bowl of soup",
                                                                       "label": "food"}, 42, "  "])
    assert (mixed.added, [s.reason for s in mixed.skipped]) == (
        2, ["an int is not a text, a dict, a (key, vector) pair or an image", "empty text"])
    # Records without an id are keyed by their content, not their position: a second call adds to the first.
    later = ws.ingest("notes", [{"text": "a tabby cat asleep"}, {"text": "a golden retriever fetching a ball"}])
    assert (later.added, later.unchanged) == (1, 1)  # the second is the text given alone above
    assert {c.name: c.points for c in ws.collections()} == {"notes": 3, "wordnet": 1600}
    assert ws.delete("notes") == 3


def test_recluster_returns_a_typed_run_with_labels_by_item_key(ws, run):
    assert (run.mode, run.reason, run.points, run.params["k"]) == ("full", "first run", 1600, 8)
    assert run.metrics["nmi"] >= 0.6 and run.metrics["ari"] >= 0.5
    assert len(run.clusters) == 8 and sum(c.size for c in run.clusters) == 1600
    assert all(isinstance(c, embc.ClusterStats) and c.keywords for c in run.clusters)
    assert [e.kind for e in run.events] == ["birth"] * 8
    labels = run.labels
    assert len(labels) == 1600 and set(labels.values()) == set(range(8))
    assert labels["wn-noun.animal-75"] in range(8)
    document = run.to_dict()
    assert list(document) == ["run_id", "mode", "reason", "collection", "algorithm", "params", "points", "clusters",
                              "metrics", "events", "timings"]
    assert document["algorithm"] == run.algorithm == "kmeans"
    assert ws.recluster("wordnet").to_dict() == {"run_id": None, "mode": "none",
                                                 "reason": f"nothing new since run {run.run_id}", "points": 0}


def test_a_query_text_is_cut_as_a_stored_text_is(ws, monkeypatch):
    """A 10 MB query text took 214 s and 2.3 GB to embed; it is cut at EMBC_MAX_TEXT_CHARS, as ingest cuts."""
    monkeypatch.setenv("EMBC_MAX_TEXT_CHARS", "40")
    long = "a small dog with a curly coat " + "and a wagging tail " * 50_000
    assert [h.id for h in ws.similar("wordnet", text=long)] == [h.id for h in ws.similar("wordnet", text=long[:40])]
    assert [h.id for h in ws.similar("wordnet", text=long)] != [h.id for h in ws.similar("wordnet", text=long[:20])]


def test_members_nearest_the_centre_first_and_similar_items(ws, run):
    animals = next(c for c in ws.clusters("wordnet") if _majority(ws.members("wordnet", c.id, limit=20))
                   == "noun.animal")
    members = ws.members("wordnet", animals.id)
    assert len(members) == animals.size and {m.cluster for m in members} == {animals.id}
    assert [m.item for m in ws.members("wordnet", animals.id, limit=5)] == [m.item for m in members[:5]]
    table = ws.members("wordnet", animals.id, arrow=True)
    assert table.num_rows == animals.size and table.column("item").to_pylist() == [m.item for m in members]
    by_key = ws.members("wordnet", animals.id, order="key")
    assert [m.item for m in by_key] == sorted(m.item for m in members)
    # Nearest the centre first: the first members are more typical than the last, by their similarity.
    first, last = members[0].item, members[-1].item
    near = ws.similar("wordnet", item=first, cluster=animals.id, limit=0)
    far = ws.similar("wordnet", item=last, cluster=animals.id, limit=0)
    assert sum(h.score for h in near) > sum(h.score for h in far)

    hits = ws.similar("wordnet", text="a breed of hunting dog", limit=5)
    assert len(hits) == 5 and hits[0].label == "noun.animal"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(hits[0].to_dict()) == {"id", "item", "label", "cluster", "text", "path", "values", "score"}
    inside = ws.similar("wordnet", item=hits[0].item, cluster=animals.id, limit=3)
    assert len(inside) == 3 and {h.cluster for h in inside} == {animals.id} and hits[0].id not in {h.id for h in inside}

    # Many questions at once, searched together: each answered as when asked alone.
    vector = [(-1.0) ** i for i in range(384)]
    asks = [{"item": first, "cluster": animals.id, "limit": 0}, {"text": "a breed of hunting dog", "limit": 5},
            {"item": hits[0].item, "cluster": animals.id, "limit": 3}, {"vector": vector}, {"item": hits[1].id}]
    together = ws.similar_many("wordnet", asks)
    assert [[h.id for h in found] for found in together] == [[h.id for h in found] for found in (
        near, hits, inside, ws.similar("wordnet", vector=vector), ws.similar("wordnet", item=hits[1].id))]
    assert len(together[3]) == 10


def test_a_second_query_does_not_load_the_model_again(ws, run, monkeypatch):
    from embc.ingest import registry

    loads = []
    real = registry.load_embedder
    monkeypatch.setattr(registry, "load_embedder", lambda *a, **k: loads.append(a) or real(*a, **k))
    # None once a Workspace has kept MiniLM converted to run without torch (embc.ingest.text_without_torch).
    converted = any((ws.path / "openvino").glob("text-*"))
    fresh = embc.Workspace(ws.path)
    first = fresh.similar("wordnet", text="a breed of hunting dog", limit=3)
    second = fresh.similar("wordnet", text="a kind of soup", limit=3)
    assert len(loads) == (0 if converted else 1) and first[0].label == "noun.animal" and second[0].label == "noun.food"
    later = embc.Workspace(ws.path).similar("wordnet", text="a kind of soup", limit=3)
    assert len(loads) == (0 if converted else 1) and [e.item for e in later] == [e.item for e in second]


def test_rename_report_export_and_runs(ws, run, tmp_path):
    ws.rename("wordnet", 3, "my favourite cluster")
    assert {c.id: c.name for c in ws.clusters("wordnet")}[3] == "my favourite cluster"
    assert ws.cluster("wordnet", 3) == ws.clusters("wordnet")[3] and ws.cluster("wordnet", 3).name == \
        "my favourite cluster"
    report = ws.report("wordnet")
    assert report.run.run_id == run.run_id and report.run.status == "complete"
    assert {c.id: c.name for c in report.clusters}[3] == "my favourite cluster"
    assert [r.run_id for r in ws.runs("wordnet")] == [run.run_id]
    assert set(report.to_dict()) == {"collection", "run", "metrics", "clusters", "events", "runs", "sweep"}
    assert ws.events("wordnet") == report.events == run.events  # the first run: every id a birth
    assert {e.kind for e in run.events} == {"birth"} and len(run.events) == 8

    assert ws.export("wordnet", tmp_path / "wn.csv") == 1600
    with open(tmp_path / "wn.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1600 and list(rows[0]) == ["id", "item", "source", "kind", "label", "cluster",
                                                   "cluster_name", "x", "y", "text", "path", "values"]
    assert sum(r["cluster_name"] == "my favourite cluster" for r in rows) == {c.id: c.size for c in run.clusters}[3]
    table = ws.export("wordnet")
    assert table.num_rows == 1600 and table.column("cluster").null_count == 0
    assert ws.export("wordnet", tmp_path / "wn.jsonl") == 1600
    assert len((tmp_path / "wn.jsonl").read_text().splitlines()) == 1600


def test_vectors_exported_go_back_in_as_the_same_items(ws, run, tmp_path):
    """`export(vectors=True)` adds each point's stored vector; ingested from the file, keyed by `item`, they make a
    collection of the same items, vectors and labels."""
    import numpy as np

    assert ws.export("wordnet", tmp_path / "wn.parquet", vectors=True) == 1600
    with pytest.raises(embc.ParameterError, match="vectors cannot go into CSV"):
        ws.export("wordnet", tmp_path / "wn.csv", vectors=True)
    assert ws.ingest("copy", tmp_path / "wn.parquet", id_field="item").added == 1600
    ws.recluster("copy", k=8, projection="none")
    before, after = (ws.export(name, vectors=True).sort_by("item") for name in ("wordnet", "copy"))
    assert after["item"] == before["item"] and after["label"] == before["label"]
    cosines = (np.array(before["vector"].to_pylist()) * np.array(after["vector"].to_pylist())).sum(axis=1)
    assert len(cosines) == 1600 and cosines.min() > 0.9999
    assert ws.collection("copy").model == "precomputed"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_export_goes_back_in_as_the_items_it_was_exported_from(ws, tmp_path, fmt):
    """Ingesting an export restores its items under their own keys (the same point ids), sources, labels, texts and
    table rows; its run's columns (cluster, position) are not read as features, and into the collection it came
    from it changes nothing. An image's row, which holds only a path, and a vector's row without its vector are
    skipped with their reasons."""
    columns = ["id", "item", "source", "kind", "label", "text", "values"]
    texts, rows = f"texts-{fmt}", f"rows-{fmt}"
    ws.ingest(texts, [json.loads(line) for line in WORDNET.read_text().splitlines()[:400:40]])
    ws.ingest(rows, [{"id": f"r{n}", "a": n, "b": "xyz"[n % 3], "label": "even odd".split()[n % 2]} for n in range(12)],
              model="raw")
    ws.recluster(rows, k=3, projection="none")
    for name in (texts, rows):
        ws.export(name, tmp_path / f"{name}.{fmt}")
        assert ws.ingest(name, tmp_path / f"{name}.{fmt}").unchanged == ws.collection(name).points
        restored = ws.ingest(f"{name}-again", tmp_path / f"{name}.{fmt}", model=ws.collection(name).model)
        assert (restored.added, restored.skipped) == (ws.collection(name).points, [])
        before, after = (ws.export(n).sort_by("item").select(columns).to_pylist() for n in (name, f"{name}-again"))
        assert after == before
    assert json.loads(ws.export(f"{rows}-again")["values"][0].as_py()).keys() == {"a", "b"}

    ws.ingest(f"vectors-{fmt}", [("v1", [1.0, 0.0]), ("v2", [0.0, 1.0])])
    exported = ws.export(f"vectors-{fmt}", vectors=True).to_pylist()
    picture = {**exported[0], "item": "shirt/1.png", "kind": "image", "path": "/images/shirt/1.png", "vector": None}
    result = ws.ingest(f"vectors-{fmt}-again", [*exported, {**exported[0], "vector": None}, picture])
    assert result.added == 2 and [s.reason for s in result.skipped] == [
        "an exported vector without its values: export the collection with its vectors (--vectors)",
        "an exported image row holds its file's path, not the image: ingest the image files"]


def test_a_nul_character_is_binary_data_and_skipped_so_that_every_export_reads_back(ws, tmp_path):
    """A text file holding a NUL is skipped as binary; so is a record's id, text or label holding one, which would
    make the collection's CSV export a binary file that ingest could not read back."""
    result = ws.ingest("nul", [{"id": "a", "text": "x\0y"}, {"id": "b\0", "text": "b"},
                               {"id": "c", "text": "c", "label": "l\0"}, {"id": "d", "text": "d"}])
    assert result.added == 1 and [s.reason for s in result.skipped] == [
        f"the {field} holds a NUL character (\\x00): binary data, not text" for field in ("text", "id", "label")]
    ws.export("nul", tmp_path / "nul.csv")
    assert ws.ingest("nul", tmp_path / "nul.csv").unchanged == 1
    # A CSV or JSONL file holding one (an export of items stored before they were refused) is a batch of rows:
    # the row holding it is skipped, not the file.
    (tmp_path / "rows.csv").write_text("id,text\ne,x\0y\nf,f\n")
    (tmp_path / "rows.jsonl").write_text('{"id": "g", "text": "x\0y"}\n{"id": "h", "text": "h"}\n')
    rows = ws.ingest("nul", [tmp_path / "rows.csv", tmp_path / "rows.jsonl"])
    assert rows.added == 2 and [(s.source, s.reason) for s in rows.skipped] == [
        ("e", "the text holds a NUL character (\\x00): binary data, not text"),
        ("rows.jsonl#1", "malformed JSON: Invalid control character at")]


@pytest.mark.parametrize("call, allowed", [
    (lambda ws: ws.recluster("wordnet", projection="umpa"), "umap, tsne, pca, none"),
    (lambda ws: ws.recluster("wordnet", k="7"), "an integer >= 2, 'auto'"),
    (lambda ws: ws.recluster("wordnet", k=1), "an integer >= 2, 'auto'"),
    (lambda ws: ws.recluster("wordnet", k=5000, full=True), "at most the collection's 1600 points"),
    (lambda ws: ws.recluster("wordnet", algorithm="kmean"), "kmeans, dbscan, hdbscan, agglomerative"),
    (lambda ws: ws.recluster("wordnet", algorithm="agglomerative", linkage="single"), "ward, average, complete"),
    (lambda ws: ws.recluster("wordnet", algorithm="dbscan", k=5), "dbscan does not take k"),
    (lambda ws: ws.recluster("wordnet", seed=-1), "an integer from 0 to 2**32 - 1"),
    (lambda ws: ws.recluster("wordnet", seed=2**40), "an integer from 0 to 2**32 - 1"),
    (lambda ws: ws.ingest("wordnet", WORDNET, model="minilmm"), "minilm, sentence-transformers:NAME_OR_PATH"),
    (lambda ws: ws.members("wordnet", 3, limit=-1), "an integer >= 0"),
    (lambda ws: ws.members("wordnet", 3, order="size"), "centre, key"),
    (lambda ws: ws.members("wordnet", "nois"), "an integer >= -1, or 'noise' (-1)"),
    (lambda ws: ws.similar("wordnet", text="dog", limit=2.5), "an integer >= 0"),
    (lambda ws: ws.similar("wordnet", text="dog", item="x"), "exactly one of text, image, row, item or vector"),
    (lambda ws: ws.similar("wordnet", vector=[0.1, 0.2]), "the collection's 384 dimensions"),
    (lambda ws: ws.plot("wordnet", "pie", "x.png"), "map, elbow, silhouette, montage"),
])
def test_bad_parameters_raise_value_error_naming_the_allowed_values_and_record_nothing(ws, run, call, allowed):
    before = [r.run_id for r in ws.runs("wordnet")]
    with pytest.raises(ValueError, match=re.escape(allowed)) as raised:
        call(ws)
    assert isinstance(raised.value, embc.EmbcError)
    assert [r.run_id for r in ws.runs("wordnet")] == before


def test_pil_images_and_vectors_go_in_as_records(tmp_path):
    from PIL import Image

    ws = embc.Workspace(tmp_path / "data")
    boots = sorted((ROOT / "images" / "samples" / "fashion-mnist-600" / "ankle-boot").glob("*.png"))[:3]
    images = [Image.open(p) for p in boots]
    result = ws.ingest("photos", images)
    assert result.added == 3 and ws.collection("photos").model == "effnet-lite0"
    assert ws.ingest("photos", images).unchanged == 3
    hits = ws.similar("photos", image=boots[0], limit=1)
    assert hits[0].score > 0.999  # the same picture, given as a file this time
    with pytest.raises(embc.ParameterError, match="^image is a file path or a PIL image, not 5$"):
        ws.similar("photos", image=5)  # an AttributeError before
    # Deleting an item whose image is the user's own file leaves the file (a server's uploads go, test_service).
    assert ws.ingest("own", boots[:1]).added == 1 and ws.delete("own", [boots[0].name]) == 1
    assert boots[0].is_file()
    vectors = ws.ingest("vecs", [("a", [1.0, 0.0, 0.0]), ("b", [0.0, 1.0, 0.0]), {"id": "c", "vector": [1, 1, 0]}])
    assert vectors.added == 3
    unnamed = [{"vector": [0.0, 0.0, 1.0]}, {"vector": [0.0, 1.0, 1.0]}]
    assert ws.ingest("vecs", unnamed[:1]).added == 1 and ws.ingest("vecs", unnamed).added == 1
    assert ws.collection("vecs").points == 5
    assert [h.item for h in ws.similar("vecs", vector=[1.0, 0.1, 0.0], limit=2)] == ["a", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a number beyond float32 made numpy print an overflow warning
        beyond = ws.ingest("vecs", [("big", [1e39, 0.0, 0.0])])
        with pytest.raises(embc.ParameterError, match=re.escape(NON_FINITE)):
            ws.similar("vecs", vector=[1e39, 0.0, 0.0])
    assert [(s.source, s.reason) for s in beyond.skipped] == [("big", NON_FINITE)]
    # Before any run an export has every point, with its vector and no cluster or position.
    table = ws.export("vecs", vectors=True)
    assert table.num_rows == 5 and {"a", "b", "c"} <= set(table["item"].to_pylist())
    assert set(table["cluster"].to_pylist()) == set(table["x"].to_pylist()) == {None}
    assert [1.0, 0.0, 0.0] in table["vector"].to_pylist()  # "a", as stored


def test_choosing_k_over_duplicate_points_warns_nothing(tmp_path):
    """The k sweep fits k beyond the distinct points: each fit printed scikit-learn's ConvergenceWarning."""
    ws = embc.Workspace(tmp_path / "data")
    corners = np.eye(4)[:3]
    ws.ingest("dupes", [(f"p{i}", corners[i % 3]) for i in range(60)])
    with warnings.catch_warnings(record=True) as printed:
        warnings.simplefilter("always")
        run = ws.recluster("dupes", k="auto", seed=0)
    assert [str(w.message) for w in printed] == [] and (run.params["k"], run.n_clusters) == (3, 3)


def test_a_k_chosen_by_its_sweep_is_asked_for_again_not_fixed(tmp_path):
    """A run told k auto again refitted every time ("parameters changed": the k its sweep had chosen was taken for
    what was asked), and a run told nothing after it kept that k at every refit, never choosing again. The
    sweep reports each k it has fitted."""
    rng = np.random.default_rng(0)
    centres = np.eye(16)[:4] * 10

    def blobs(first: int, n: int) -> list:
        return [(f"p{i}", centres[i % 4] + rng.normal(size=16)) for i in range(first, first + n)]

    ws = embc.Workspace(tmp_path / "data")
    ws.ingest("blobs", blobs(0, 200))
    first = ws.recluster("blobs", k="2-12", seed=0, projection="none")
    assert (first.params["k"], first.params["k_auto"], first.n_clusters) == (4, "2-12", 4)
    assert ws.recluster("blobs", k="2-12").mode == "none"
    ws.ingest("blobs", blobs(200, 4))
    added = ws.recluster("blobs")
    assert (added.mode, added.params["k"], added.params["k_auto"], added.n_clusters) == ("incremental", 4, "2-12", 4)
    steps = []
    refit = ws.recluster("blobs", full=True, progress=lambda *step: steps.append(step))
    assert (refit.mode, refit.params["k_auto"]) == ("full", "2-12")
    assert [done for step, done, total in steps if step == "sweep"] == list(range(12))  # the bar counts each k
    assert {total for step, done, total in steps if step == "sweep" and done} == {11}
    assert [p.k for p in ws.report("blobs").sweep] == list(range(2, 13))  # chosen again, over the range asked


def test_delete_items_and_a_whole_collection(tmp_path):
    ws = embc.Workspace(tmp_path / "data")
    ws.ingest("wn", Path(WORDNET))
    ws.recluster("wn", k=8, projection="none")
    assert ws.delete("wn", ["wn-noun.animal-75", "wn-noun.food-3", "no-such-item"]) == 2
    assert ws.collection("wn").points == 1598
    with pytest.raises(embc.EmbcError, match="no item 'wn-noun.animal-75'"):
        ws.similar("wn", item="wn-noun.animal-75")
    assert (ws.path / "vectors" / "wn.vectors").exists()
    assert ws.delete("wn") == 1598
    assert ws.collections() == [] and not (ws.path / "vectors" / "wn.vectors").exists()
    with pytest.raises(embc.EmbcError, match="no collection 'wn'"):
        ws.runs("wn")
    ws.ingest("wn", Path(WORDNET))  # the name is free again, with no runs of the old collection
    assert ws.recluster("wn", k=8, projection="none").reason == "first run"


def test_a_cluster_whose_points_the_next_runs_label_write_has_moved_answers_empty(tmp_path):
    ws = embc.Workspace(tmp_path / "data")
    ws.ingest("vecs", [(f"a{i}", [1.0, 0.01 * i, 0.0]) for i in range(5)]
              + [(f"b{i}", [0.0, 1.0, 0.01 * i]) for i in range(5)])
    ws.recluster("vecs", k=2, seed=0, projection="none")
    moved = [m.id for m in ws.members("vecs", 1)]
    ws.store.set_payloads("vecs", [(moved, {"cluster": 0})])  # as a label write under way leaves them
    assert ws.members("vecs", 1) == ws.members("vecs", 1, limit=0) == []
    assert [(c.id, c.size) for c in ws.clusters("vecs")] == [(0, 10), (1, 0)]
    with pytest.raises(embc.NotFound, match=r"no cluster 2 in collection 'vecs' \(clusters: 0, 1\)"):
        ws.members("vecs", 2)


@pytest.mark.parametrize("by", ["this process", "another process"])
def test_an_item_ingested_again_during_a_recluster_is_not_left_with_its_old_vectors_cluster(tmp_path, by):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 5
    ws = embc.Workspace(tmp_path / "data")
    ws.ingest("blobs", [(f"p{i}", centres[i % 4] + rng.normal(size=16)) for i in range(800)])
    ws.recluster("blobs", k=4, projection="pca")
    moved = {f"p{i}": centres[(i + 1) % 4] + rng.normal(size=16) for i in range(40)}
    early = {f"p{i}": centres[(i + 1) % 4] + rng.normal(size=16) for i in range(40, 80)}
    pq.write_table(pa.table({"id": list(moved), "vector": [v.tolist() for v in moved.values()]}),
                   tmp_path / "moved.parquet")

    def progress(step: str, done: int, total: int) -> None:
        if step == "page out" and not done:  # upserted during the job, but before it reads them
            assert ws.ingest("blobs", list(early.items())).updated == 40
        if step == "evaluate" and not done:  # fitted on the old vectors, labels not yet written
            if by == "this process":
                assert ws.ingest("blobs", list(moved.items())).updated == 40
            else:
                done = run_embc("ingest", str(tmp_path / "moved.parquet"), "-c", "blobs", "--json",
                                home=tmp_path / "data")
                assert done.returncode == 0 and '"updated": 40' in done.stdout, done.stderr

    ws.recluster("blobs", full=True, progress=progress)
    labels = ws.labels("blobs")
    assert not set(moved) & set(labels)  # their labels were of the old vectors: cleared
    blob = {b: Counter(labels[f"p{i}"] for i in range(80, 800) if i % 4 == b).most_common(1)[0][0] for b in range(4)}
    assert all(labels[key] == blob[(int(key[1:]) + 1) % 4] for key in early)  # fitted on their new vectors: kept
    assert ws.recluster("blobs").points == 40
    labels = ws.labels("blobs")
    assert all(labels[key] == blob[(int(key[1:]) + 1) % 4] for key in moved)
