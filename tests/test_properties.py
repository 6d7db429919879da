"""Property-based tests (Hypothesis): random files beside good ones never stop an ingest, and random recluster
parameters are either refused before any work (ParameterError, nothing recorded) or run, and any table's rows
are stored whole by the table models. Bounded in examples and time."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import embc
from embc.ingest.sources import is_missing

SUFFIXES = [".txt", ".md", ".jsonl", ".csv", ".npy", ".parquet", ".png", ".jpg", ".gif", ".bin"]
BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _blobs(n: int = 60, dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, dim))
    return np.vstack([c + 0.1 * rng.normal(size=(n // 3, dim)) for c in centres]).astype(np.float32)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> embc.Workspace:
    return embc.Workspace(tmp_path_factory.mktemp("properties") / "data")


JSONL_ROWS = st.lists(st.dictionaries(st.sampled_from(["id", "text", "label", "vector", "other"]),
                                      st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(),
                                                st.lists(st.floats(allow_nan=True), max_size=10))),
                      max_size=5)


@BOUNDED
@given(content=st.one_of(st.binary(max_size=2000), JSONL_ROWS.map(lambda rows: "\n".join(map(repr, rows)).encode()),
                         st.lists(st.lists(st.text(max_size=8), max_size=4), max_size=5).map(
                             lambda rows: "\n".join(",".join(r) for r in rows).encode())),
       suffix=st.sampled_from(SUFFIXES))
def test_a_random_file_beside_good_vectors_is_skipped_or_stored_and_never_stops_the_ingest(ws, tmp_path, content,
                                                                                           suffix):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    np.save(folder / "a-good.npy", _blobs(6))
    (folder / f"b-random{suffix}").write_bytes(content)
    result = ws.ingest("prop", [folder])
    try:
        assert result.added + result.unchanged >= 6
        assert all(isinstance(s.reason, str) and s.reason for s in result.skipped)
        assert ws.collection("prop").points == result.added + result.unchanged + result.updated
    finally:
        ws.delete("prop")


@pytest.fixture(scope="module")
def clustered(ws, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("blobs")
    np.save(folder / "blobs.npy", _blobs())
    ws.ingest("blobs", folder / "blobs.npy")
    return "blobs"


CELL = st.one_of(st.none(), st.floats(-1e6, 1e6), st.just(float("nan")), st.integers(-1_000, 1_000),
                 st.sampled_from(["x", "y", "z"]), st.lists(st.sampled_from(["x", "y", float("nan")]), max_size=2))
TABLES = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), CELL, min_size=1).filter(
    lambda row: not all(map(is_missing, row.values()))), min_size=1, max_size=12)


@BOUNDED
@given(rows=TABLES, model=st.sampled_from(["raw", "autoencoder"]), fmt=st.sampled_from(["jsonl", "csv", "parquet"]))
def test_a_table_of_any_finite_values_is_stored_row_for_row_by_a_table_model(ws, tmp_path, rows, model, fmt):
    """Constant columns, a single row, a row at every column's mean, columns of numbers and words mixed, NaN, a
    column empty in every row: each row with a feature is a point (raw once skipped a row whose features all sat
    at their means; a NaN, as pandas writes a missing number, ended the ingest), and the same rows again, or the
    collection's export, change nothing."""
    records = [{**row, "id": f"r{n}"} for n, row in enumerate(rows)]
    exported = Path(tempfile.mkdtemp(dir=tmp_path)) / f"table.{fmt}"
    try:
        first = ws.ingest("table", records, model=model)
        assert (first.added, first.skipped) == (len(rows), [])
        assert ws.ingest("table", records).unchanged == len(rows)
        ws.export("table", exported)
        assert ws.ingest("table", exported).unchanged == len(rows)
    finally:
        ws.delete("table")


WORDS = st.text(max_size=6)
PARAMETERS = st.fixed_dictionaries({}, optional={
    "algorithm": st.one_of(st.sampled_from(["kmeans", "dbscan", "hdbscan", "agglomerative"]), WORDS),
    "k": st.one_of(st.integers(-3, 80), st.just("auto"), WORDS, st.floats()),
    "eps": st.one_of(st.floats(), st.integers(-2, 5)),
    "min_size": st.one_of(st.integers(-2, 70), WORDS),
    "linkage": st.one_of(st.sampled_from(["ward", "average", "complete"]), WORDS),
    "reduce": st.one_of(st.sampled_from(["pca", "none"]), WORDS),
    "sample_cap": st.integers(-5, 100),
    "n_init": st.integers(-1, 3),
    "seed": st.one_of(st.integers(-5, 2**34), WORDS),
    "projection": st.one_of(st.sampled_from(["none", "pca"]), WORDS),
    "refit_fraction": st.floats(-1, 2),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PARAMETERS)
def test_random_parameters_are_refused_before_any_work_or_run(ws, clustered, params):
    before = [r.run_id for r in ws.runs(clustered)]
    try:
        run = ws.recluster(clustered, full=True, **params)
    except embc.ParameterError:
        assert [r.run_id for r in ws.runs(clustered)] == before  # refused: nothing recorded
        return
    except embc.EmbcError as exc:  # a refusal that needs the data (too few points for min_size, say)
        assert str(exc)
        return
    assert run.points == 60 and run.mode == "full" and sum(c.size for c in run.clusters) == 60


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.text(max_size=40), st.lists(st.sampled_from(["..", ".", "", "a", ".a", "b\\c", "/", "é", "\0",
                                                                      " x", "C:", "~"]), max_size=6).map("/".join)))
def test_an_uploaded_file_name_is_refused_or_names_a_file_inside_the_collections_folder(name):
    """A client names its uploads: the name is a key that stays inside the collection's folder, is no hidden
    file (embc's own there are), and is read back as it was sent, or it is refused."""
    from embc.service.uploads import upload_key

    key = upload_key(name)
    if key is None:
        return
    folder = Path("/data/uploads/c")
    assert (folder / key).resolve().is_relative_to(folder) and (folder / key).resolve() != folder
    assert not any(part.startswith(".") for part in Path(key).parts) and "\0" not in key
    assert key == name.replace("\\", "/")


def _read(path: Path, source: str, line_offset: int = 0) -> list[tuple[str, str | None]]:
    from embc.ingest.items import Item
    from embc.ingest.sources import Fields, read_file

    return [(e.key, e.text if e.vector is None else e.vector.tolist()) if isinstance(e, Item) else (e.source, e.reason)
            for e in read_file(path, source, Fields(), line_offset)]


CELLS = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=30) | st.sampled_from(
    ["a,b", 'say "hi"', "two\nlines", "cr\rlf\r\n", "\u2028", "\x85", ""])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELLS, CELLS), max_size=40), budget=st.integers(20, 400),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]), ending=st.sampled_from(["\n", "\r\n", "\r"]))
def test_a_table_cut_into_parts_reads_back_as_the_whole_file_row_for_row_and_key_for_key(
        tmp_path, rows, budget, suffix, ending):
    """What a client sends a server in parts (`table_parts`) is read, with each part's line offset, into the
    same items and skips, under the same keys, as the whole file."""
    import csv
    import io
    import json

    from embc.ingest.table_parts import table_parts

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    whole = folder / f"whole{suffix}"
    if suffix == ".jsonl":
        whole.write_text("".join(json.dumps({"text": a, "label": b}, ensure_ascii=False) + ending for a, b in rows),
                         newline="")
    else:
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter="," if suffix == ".csv" else "\t", lineterminator=ending)
        writer.writerows([("text", "label"), *rows])
        whole.write_text(out.getvalue(), newline="")
    read = []
    for n, part in enumerate(table_parts(whole, budget)):
        assert part.rows == 1 or len(part.data) <= budget
        (folder / f"part{n}{suffix}").write_bytes(part.data)
        read += _read(folder / f"part{n}{suffix}", whole.name, part.line_offset)
    assert read == [r for r in _read(whole, whole.name) if r[0] != whole.name]  # a part is never 'an empty file'


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 60), dims=st.integers(1, 12), budget=st.integers(1, 3_000) | st.integers(3_000, 40_000),
       dtype=st.sampled_from(["float32", "float64", "int16"]), ids=st.booleans(), parquet=st.booleans(),
       group=st.integers(1, 60))
def test_vectors_cut_into_parts_read_back_as_the_whole_file(tmp_path, rows, dims, budget, dtype, ids, parquet, group):
    """A .npy file (with or without its ids) or a Parquet file (in row groups of `group` rows) cut into parts by
    `table_parts` reads back, each part with its line offset and its ids beside it, as the same items under the
    same keys as the whole file; a Parquet file of half the budget goes in one part, whatever its row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embc.ingest.sources import ids_path
    from embc.ingest.table_parts import table_parts

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    matrix = np.random.default_rng(rows * dims).normal(size=(rows, dims)).astype(dtype) + 1  # no all-zero row
    suffix = ".parquet" if parquet else ".npy"
    whole = folder / f"whole{suffix}"
    if parquet:
        pq.write_table(pa.table({"vector": matrix.tolist()}), whole, row_group_size=group)
    else:
        np.save(whole, matrix)
        if ids:
            ids_path(whole).write_text("".join(f"id {n} é\n" for n in range(rows)))
    read = []
    parts = list(table_parts(whole, budget))
    if parquet and 2 * whole.stat().st_size <= budget:
        assert len(parts) == 1
    for n, part in enumerate(parts):
        assert part.rows == 1 or part.size <= budget
        (folder / f"part{n}{suffix}").write_bytes(part.data)
        if part.ids is not None:
            ids_path(folder / f"part{n}{suffix}").write_bytes(part.ids)
        read += _read(folder / f"part{n}{suffix}", whole.name, part.line_offset)
    assert read == _read(whole, whole.name) and len(read) == rows
