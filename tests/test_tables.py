"""Table rows: scikit-learn's bundled datasets written to CSV and Parquet, embedded by the table models
trained on the rows themselves, clustered, and checked against the datasets' classes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import recluster, run_embc

from embc.errors import EmbcError
from embc.ingest.pipeline import ingest
from embc.ingest.sources import Fields, iter_items
from embc.store.embedded import EmbeddedStore
from embc.store.reports import ReportStore

TABLE = Fields(table=True)


def write_csv(path: Path, dataset: str, rows: slice = slice(None), extra: dict | None = None) -> Path:
    """The dataset as CSV: an id, its feature columns and the class name as `label`."""
    from sklearn import datasets

    data = getattr(datasets, f"load_{dataset}")()
    names = [str(n).replace(" ", "_") for n in data.feature_names]
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *names, *(extra or {}), "label"])
        for i in range(len(data.data))[rows]:
            writer.writerow([f"{dataset}-{i}", *data.data[i], *[v[i] for v in (extra or {}).values()],
                             data.target_names[data.target[i]]])
    return path


def cluster_nmi(tmp_path: Path, source: Path, model: str, k: int) -> tuple[float, EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "collections")
    summary = ingest(store, "t", iter_items([source], TABLE), model=model, model_dir=tmp_path / "models" / "t")
    assert summary.added > 0 and not summary.skipped, summary
    run = recluster(store, ReportStore(tmp_path / "reports.duckdb"), "t", "kmeans", {"k": k}, projection="pca")
    return run["metrics"]["nmi"], store


def test_wine_autoencoder_kmeans_reaches_nmi_07(tmp_path):
    nmi, store = cluster_nmi(tmp_path, write_csv(tmp_path / "wine.csv", "wine"), "autoencoder", 3)
    assert nmi >= 0.7
    info = store.collection("t")
    assert (info.model, info.dim, info.modality) == ("autoencoder", 8, "row")
    assert (tmp_path / "models" / "t" / "encoder.pt").exists()


def test_breast_cancer_autoencoder_kmeans_above_floor(tmp_path):
    # Floor 0.5: plain k-means on the standardised features reaches 0.53-0.57 (the classes overlap in
    # feature space); the autoencoder's 8-D code reached 0.74 here.
    nmi, _ = cluster_nmi(tmp_path, write_csv(tmp_path / "bc.csv", "breast_cancer"), "autoencoder", 2)
    assert nmi >= 0.5


def test_raw_features_with_a_categorical_column_and_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    batch = [None if rng.random() < 0.1 else str(rng.choice(["A", "B"])) for _ in range(178)]
    source = write_csv(tmp_path / "wine.csv", "wine", extra={"batch": batch})
    text = source.read_text().replace("wine-5,14.2,", "wine-5,,", 1)  # a missing number is imputed
    source.write_text(text + "wine-x," + "," * 14 + "class_0\n"  # every feature missing: skipped
                      # Numbers beyond float32 are skipped: one of them would make every row's vector NaN.
                      + "wine-inf,inf" + ",1" * 12 + ",A,class_0\n" + "wine-big,1e308" + ",1" * 12 + ",A,class_0\n"
                      + "wine-nan,nan" + ",1" * 12 + ",A,class_0\n")  # NaN is missing, imputed
    store = EmbeddedStore(tmp_path / "collections")
    summary = ingest(store, "t", iter_items([source], TABLE), model="raw", model_dir=tmp_path / "models" / "t")
    assert summary.added == 179
    assert [(s.source, s.reason) for s in summary.skipped] == [
        ("wine.csv#180", "every feature value is missing"),
        ("wine.csv#181", "'alcohol' is inf: a number must lie within ±3.4e38 (float32)"),
        ("wine.csv#182", "'alcohol' is 1e308: a number must lie within ±3.4e38 (float32)")]
    assert store.collection("t").dim == 13 + 2 + 1  # 13 standardised numbers, batch one-hot as A and B, the lift
    run = recluster(store, ReportStore(tmp_path / "reports.duckdb"), "t", "kmeans", {"k": 3}, projection="none")
    assert run["metrics"]["nmi"] >= 0.8


def test_raw_keeps_a_row_at_every_columns_mean_and_models_saved_before_the_lift_load_as_they_were(tmp_path):
    """A row at every column's mean scales to all zeros: `raw` skipped it ("the vector is all zeros"), and so
    the only row of a one-row table. Its vector is now lifted by a last coordinate; a model saved before that
    (no `lifted` in its file) still embeds without it, at the dimension its collection holds."""
    import joblib

    from embc.ingest.items import Item
    from embc.ingest.model_seal import seal
    from embc.ingest.table_models import TableEmbedder

    (tmp_path / "one.csv").write_text("id,a,b\nr1,1,2\n")
    (tmp_path / "three.csv").write_text("id,a,b\nr1,1,2\nr2,3,4\nmean,2,3\n")
    for name in ("one", "three"):
        result = run_embc("ingest", str(tmp_path / f"{name}.csv"), "-c", name, "--model", "raw", "--json",
                          home=tmp_path / "home")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["skipped"] == 0
    similar = json.loads(run_embc("similar", "--id", "mean", "-c", "three", "--json", home=tmp_path / "home").stdout)
    assert {hit["item"] for hit in similar} == {"r1", "r2"}
    assert similar[0]["score"] == pytest.approx(similar[1]["score"])  # the mean row lies halfway

    rows = [Item(key=f"r{i}", source="t", kind="row", values={"a": float(i), "b": float(i % 3)}) for i in range(9)]
    folder = tmp_path / "models" / "old"
    TableEmbedder("raw", folder).fit(rows)
    saved = joblib.load(folder / "features.joblib")
    assert saved.pop("lifted") is True
    joblib.dump(saved, folder / "features.joblib")
    seal(folder)
    old = TableEmbedder("raw", folder)
    assert old.dim == 2 and old.embed(rows).shape == (9, 2)
    assert TableEmbedder("raw", folder).embed(rows[:1]).tolist() == old.embed(rows[:1]).tolist()


def test_a_model_left_by_an_ingest_that_stored_nothing_is_trained_again_on_the_next_first_ingest(tmp_path):
    """An ingest killed between its model's training and its first point leaves the model without a collection.
    The next ingest into that name trained nothing and embedded with the old model (its columns, not the new
    rows'), or, for another table model, ended in a traceback (FileNotFoundError: encoder.pt). Now the model
    learns from the new collection's first ingest."""
    from embc.ingest.items import Item
    from embc.ingest.table_models import TableEmbedder

    home = tmp_path / "home"
    left = [Item(key=f"r{i}", source="t", kind="row", values={"x": float(i), "y": float(i % 2)}) for i in range(6)]
    TableEmbedder("raw", home / "models" / "t").fit(left)
    source = write_csv(tmp_path / "wine.csv", "wine")
    for model, dim in (("autoencoder", 8), ("raw", 13 + 1)):
        result = run_embc("ingest", str(source), "-c", "t", "--model", model, "--json", home=home)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["added"] == 178
        assert json.loads(run_embc("collections", "--json", home=home).stdout)[0]["dim"] == dim
        assert TableEmbedder(model, home / "models" / "t").features.columns[:2] == ["alcohol", "malic_acid"]
        assert run_embc("delete", "-c", "t", "--all", home=home).returncode == 0
        TableEmbedder("autoencoder", home / "models" / "t").fit(left)  # then what the next ingest finds


def test_first_ingests_into_a_new_collection_at_once_share_one_model(tmp_path):
    """Two threads (a server's requests) each start a new table collection at once: one trains the model, the
    other waits and embeds its rows with that model, instead of training another of another width over it."""
    from concurrent.futures import ThreadPoolExecutor

    from embc import Workspace

    narrow = [{"id": f"n{i}", "a": float(i), "b": float(i % 3)} for i in range(200)]
    wide = [{"id": f"w{i}", "a": float(i), "b": 1.0, "c": float(i % 5), "d": "xyz"[i % 3]} for i in range(200)]
    with Workspace(tmp_path) as ws, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda rows: ws.ingest("t", rows, model="raw"), (narrow, wide)))
        assert [(r.added, r.skipped) for r in results] == [(200, []), (200, [])]
        assert ws.collection("t").points == 400 and ws.collection("t").dim in (2 + 1, 3 + 3 + 1)


def test_nan_is_missing_an_infinity_skips_its_row_and_a_column_empty_in_every_row_is_no_feature(tmp_path):
    """A Parquet NaN (how pandas writes a missing number) or JSON's NaN ended the ingest with the store's refusal
    of the payload; a numeric column empty in every row was dropped by the imputer but still counted, so the
    only such column ended the ingest (StandardScaler: 0 features) and a decoded row put values in the wrong
    columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embc import Workspace

    n = 40
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(n)],
                             "x": [float("nan") if i % 7 == 0 else float(i % 4) for i in range(n)],
                             "empty": pa.array([None] * n, pa.float64()),
                             "z": [float(i % 3) * 10 for i in range(n)],
                             "tags": [["a", None] if i % 2 else ["b"] for i in range(n)]}),
                   tmp_path / "rows.parquet")
    (tmp_path / "more.jsonl").write_text('{"id": "j1", "x": NaN, "z": 1, "tags": ["b", NaN]}\n'
                                         '{"id": "j2", "x": Infinity, "z": 2, "tags": ["b"]}\n'
                                         '{"id": "j3", "x": NaN, "z": NaN, "empty": NaN}\n')
    with Workspace(tmp_path / "home") as ws:
        first = ws.ingest("t", tmp_path / "rows.parquet", model="raw")
        assert (first.added, first.skipped) == (n, [])
        assert ws.collection("t").dim == 2 + 2 + 1  # x and z, tags ["a", null] and ["b"], the lift; not empty
        more = ws.ingest("t", tmp_path / "more.jsonl")
        assert more.added == 1 and [(s.source, s.reason) for s in more.skipped] == [
            ("more.jsonl#2", "'x' is inf: a number must lie within ±3.4e38 (float32)"),
            ("more.jsonl#3", "every feature value is missing")]
        assert ws.ingest("t", tmp_path / "rows.parquet").unchanged == n
        ws.recluster("t", k=3, seed=0, projection="none")
        ws.train_decoder("t", epochs=30)
        decoded = ws.decode("t", item="p5")
        assert list(decoded) == ["x", "z", "tags"] and decoded["tags"] in ('["a", null]', '["b"]', '["b", null]')


def test_a_nan_id_or_label_is_missing(tmp_path):
    """pandas writes a missing value of a number column as NaN: every row without an id was keyed "nan", so all
    but the first were skipped as duplicates, and a row without a label had the class "nan"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embc import Workspace

    nan = float("nan")
    pq.write_table(pa.table({"id": [1.0, nan, nan, 4.0], "label": [1.5, nan, 2.5, nan],
                             "x": [1.0, 2.0, 3.0, 4.0], "y": [0.5, 0.1, 0.2, 0.3]}), tmp_path / "rows.parquet")
    with Workspace(tmp_path / "home") as ws:
        assert (ws.ingest("t", tmp_path / "rows.parquet", model="raw").added, ws.collection("t").points) == (4, 4)
        keys = ["1.0", "rows.parquet#1", "rows.parquet#2", "4.0"]
        assert [ws.item("t", key).label for key in keys] == ["1.5", None, "2.5", None]
        assert ws.ingest("d", [{"text": "a cat", "label": nan}, {"text": "a dog", "id": nan}]).added == 2
        assert ws.labels_of("d") == {}


def test_a_table_rows_columns_are_shown_where_its_items_are_listed_and_exported(tmp_path):
    """A table row has no text: the items of a cluster, its neighbours, the item itself and the export gave only
    its key."""
    from embc import Workspace

    source = write_csv(tmp_path / "iris.csv", "iris")
    home = tmp_path / "home"
    assert run_embc("ingest", str(source), "--collection", "t", "--model", "raw", home=home).returncode == 0
    with Workspace(home) as ws:
        ws.recluster("t", k=3, seed=0, projection="none")
        first = ws.members("t", 0, limit=1)[0]
        assert ws.item("t", first.item).values == first.values and ws.similar("t", item=first.item)[0].values
        assert list(first.values) == ["sepal_length_(cm)", "sepal_width_(cm)", "petal_length_(cm)",
                                      "petal_width_(cm)"] and first.to_dict()["text"] is None
        ws.ingest("words", [{"id": "w", "text": "a cat"}])
        assert ws.item("words", "w").to_dict()["values"] is None
        # A row, stored or not, asks for the rows nearest it; one with no column the model learnt is refused.
        asked = ws.similar("t", row={**first.values, "label": "ignored"}, limit=1)[0]
        assert (asked.item, asked.values) == (first.item, first.values) and asked.score > 0.9999
        with pytest.raises(EmbcError, match=r"^cannot embed the query row: it has a value in none of the columns "
                                            r"the raw model learnt \(sepal_length_\(cm\), "):
            ws.similar("t", row={"height": 3})
        with pytest.raises(EmbcError, match="^collection 'words' holds text items .*: it cannot be queried with a row"):
            ws.similar("words", row=first.values)
        assert [s.reason for s in ws.ingest("t", [{"id": "odd", "height": 3}]).skipped] == [
            "it has a value in none of the columns the raw model learnt (sepal_length_(cm), sepal_width_(cm), "
            "petal_length_(cm), petal_width_(cm))"]
        ws.export("t", tmp_path / "t.jsonl")
        ws.export("t", tmp_path / "t.parquet")
    exported = {row["item"]: row for row in map(json.loads, (tmp_path / "t.jsonl").read_text().splitlines())}
    assert exported[first.item]["values"] == first.values and exported[first.item]["text"] is None
    import pyarrow.parquet as pq

    assert {row["item"]: json.loads(row["values"]) for row in pq.read_table(tmp_path / "t.parquet").to_pylist()
            } == {key: row["values"] for key, row in exported.items()}
    listed = run_embc("cluster", "0", "--collection", "t", "-n", "1", "--format", "json", home=home)
    assert json.loads(listed.stdout)[0]["values"] == first.values
    shown = run_embc("similar", "--id", first.item, "--collection", "t", "-n", "1", home=home).stdout.splitlines()
    assert shown[1].split() == ["item", "cluster", "label", "values", "score"] and "sepal_length_(cm)=" in shown[2]
    by_row = run_embc("similar", "--row", json.dumps(first.values), "-c", "t", "-n", "1", "--json", home=home)
    assert json.loads(by_row.stdout)[0]["item"] == first.item
    not_json = run_embc("similar", "--row", "{size: 3}", "-c", "t", home=home)
    assert not_json.returncode == 2 and "--row is not JSON" in not_json.stderr


def test_new_rows_use_the_saved_encoder_and_parquet_rows_work(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    home = tmp_path / "home"
    first = write_csv(tmp_path / "first.csv", "wine", slice(0, 150))
    assert run_embc("ingest", str(first), "-c", "w", "--model", "autoencoder", "--bottleneck", "4",
                    home=home).returncode == 0
    rest = write_csv(tmp_path / "rest.csv", "wine", slice(150, None))
    rows = list(csv.DictReader(rest.open()))
    pq.write_table(pa.table({k: [r[k] if k in ("id", "label") else float(r[k]) for r in rows] for k in rows[0]}),
                   tmp_path / "rest.parquet")
    result = run_embc("ingest", str(tmp_path / "rest.parquet"), "-c", "w", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 28
    collections = json.loads(run_embc("collections", "--json", home=home).stdout)
    assert collections == [{"name": "w", "points": 178, "model": "autoencoder", "dim": 4, "modality": "row",
                            "precision": "fp32"}]
    similar = json.loads(run_embc("similar", "--id", "wine-160", "-c", "w", "--json", home=home).stdout)
    assert similar and all(hit["id"] for hit in similar)


def test_tsne_embeds_its_rows_and_refuses_new_ones(tmp_path):
    nmi, _ = cluster_nmi(tmp_path, write_csv(tmp_path / "wine.csv", "wine", slice(0, 170)), "tsne", 3)
    assert nmi >= 0.7
    more = write_csv(tmp_path / "more.csv", "wine", slice(170, None))
    result = run_embc("ingest", str(more), "-c", "t", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("embc: error: tsne cannot embed rows it was not fitted on "
                                                     "(wine-170, ...): t-SNE has no transform.")
    both = [str(tmp_path / "wine.csv"), str(more)]
    retrained = run_embc("ingest", *both, "-c", "t", "--retrain", "--json", home=tmp_path)
    assert retrained.returncode == 0, retrained.stderr
    assert json.loads(retrained.stdout)["added"] == 8 and json.loads(retrained.stdout)["updated"] == 170


@pytest.mark.parametrize("model", ["autoencoder", "raw", "word2vec"])
def test_a_model_that_learns_from_its_items_refuses_inputs_it_cannot_embed_in_one_line(tmp_path, model):
    if model == "word2vec":  # vectors, not texts
        source = tmp_path / "n.npy"
        np.save(source, np.ones((2, 3)))
    else:
        source = tmp_path / "notes.txt"
        source.write_text("hello\n")
    result = run_embc("ingest", str(source), "-c", "t", "--model", model, home=tmp_path)
    kind = "texts" if model == "word2vec" else "table rows"
    assert (result.returncode, result.stderr.splitlines()[-1]) == (1, (
        f"embc: error: nothing to train {model} on: it learns its vectors from the {kind} it embeds, and none of "
        "the inputs is one"))


def test_jsonl_rows_are_table_rows_for_a_table_model(tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "x": i, "colour": "red" if i % 2 else "blue"}) + "\n"
                              for i in range(6)))
    result = run_embc("ingest", str(source), "-c", "t", "--model", "raw", "--json", home=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["added"] == 6, result.stderr


def test_rows_with_lists_records_timestamps_and_decimals_are_features(tmp_path):
    """A Parquet column of tags (lists), of nested records, of timestamps or of decimals ended the ingest with
    'setting an array element with a sequence' or the store's refusal of a datetime; each is now a feature, as a
    CSV cell of the same text would be, and the same file again changes nothing."""
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"r{i}", "x": float(i), "tags": [["red"], ["red", "blue"], [], None][i % 4],
             "meta": {"shop": "ab"[i % 2]}, "when": datetime.datetime(2024, 1, 1 + i % 3),
             "price": decimal.Decimal(f"{i % 5}.50")} for i in range(12)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    (tmp_path / "rows.jsonl").write_text("".join(
        json.dumps({**r, "id": f"j{r['id']}", "when": str(r["when"]), "price": float(r["price"])}) + "\n"
        for r in rows))
    for name in ("rows.parquet", "rows.jsonl"):
        for model in ("raw", "autoencoder"):
            result = run_embc("ingest", str(tmp_path / name), "-c", f"{model}-{name[5:]}", "--model", model,
                              "--json", home=tmp_path / "home")
            assert result.returncode == 0 and json.loads(result.stdout)["added"] == 12, result.stderr
    again = run_embc("ingest", str(tmp_path / "rows.parquet"), "-c", "raw-parquet", "--json", home=tmp_path / "home")
    assert json.loads(again.stdout)["unchanged"] == 12
    dims = {c["name"]: c["dim"] for c in json.loads(run_embc("collections", "--json", home=tmp_path / "home").stdout)}
    # x and price standardised, and one-hot: tags ["red"], ["red", "blue"] and [] (None imputed), shop a and b,
    # and three days; and the lift.
    assert dims["raw-parquet"] == dims["raw-jsonl"] == 2 + 3 + 2 + 3 + 1
