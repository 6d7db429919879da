"""Reading inputs: every bad-input case is skipped with its reason, and everything else is read."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embc.ingest.items import Item
from embc.results import Skipped
from embc.ingest.sources import Fields, count_inputs, iter_items


def _split(entries):
    items = [e for e in entries if isinstance(e, Item)]
    skipped = {s.source: s.reason for s in entries if isinstance(s, Skipped)}
    return items, skipped


def test_folder_of_text_files_recursively_with_bad_files_skipped(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("A short note about cats.")
    (tmp_path / "sub" / "b.md").write_text("# Dogs\nDogs bark.")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (tmp_path / "latin1.txt").write_bytes("café au lait".encode("latin-1"))
    (tmp_path / "data.xyz").write_bytes(b"?")
    (tmp_path / ".hidden.txt").write_text("not an item")
    items, skipped = _split(list(iter_items([tmp_path])))
    assert [(i.key, i.text) for i in items] == [("a.txt", "A short note about cats."),
                                                ("sub/b.md", "# Dogs\nDogs bark.")]
    assert skipped == {"binary.txt": "binary file", "empty.txt": "empty file",
                       "latin1.txt": "not UTF-8 text (byte 0xe9 at offset 3)",
                       "data.xyz": "unsupported file type '.xyz'"}


def test_text_with_a_byte_order_mark_is_read_in_the_encoding_it_names(tmp_path):
    (tmp_path / "le.txt").write_bytes("Grüße aus Köln".encode("utf-16"))  # with its BOM, as Windows writes it
    (tmp_path / "be.txt").write_bytes(b"\xfe\xff" + "big end".encode("utf-16-be"))
    (tmp_path / "wide.txt").write_bytes("four bytes a char".encode("utf-32"))
    (tmp_path / "rows.csv").write_bytes("text,label\nthé vert,drink\n".encode("utf-16"))
    (tmp_path / "cut.txt").write_bytes("odd".encode("utf-16") + b"\x00")
    (tmp_path / "unmarked.csv").write_bytes("text,label\ntea,drink\n".encode("utf-16-le"))  # no BOM: binary
    (tmp_path / "blank.txt").write_bytes(" \n".encode("utf-16"))
    items, skipped = _split(list(iter_items([tmp_path])))
    assert [(i.key, i.text, i.label) for i in items] == [
        ("be.txt", "big end", None), ("le.txt", "Grüße aus Köln", None), ("rows.csv#2", "thé vert", "drink"),
        ("wide.txt", "four bytes a char", None)]
    assert skipped == {"cut.txt": "binary file", "blank.txt": "empty file", "unmarked.csv": "binary file"}


def test_naming_a_file_or_its_folder_gives_the_same_item_key(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    by_file, _ = _split(list(iter_items([tmp_path / "a.txt"])))
    by_folder, _ = _split(list(iter_items([tmp_path])))
    assert by_file[0].point_id == by_folder[0].point_id


def test_missing_path(tmp_path):
    _, skipped = _split(list(iter_items([tmp_path / "nope"])))
    assert skipped == {str(tmp_path / "nope"): "no such file or folder"}


def test_a_link_to_nothing_and_a_pipe_are_skipped_with_their_reasons_not_waited_on(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("hello")
    (folder / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    for name in ("pipe.txt", "pipe.jsonl", "pipe.npy"):
        os.mkfifo(folder / name)
    assert count_inputs([folder, folder / "pipe.npy"]) == 6
    items, skipped = _split(list(iter_items([folder, folder / "pipe.jsonl"])))
    assert [i.key for i in items] == ["a.txt"]
    assert skipped == {"gone.txt": "a link to nothing", "pipe.txt": "not a regular file",
                       "pipe.jsonl": "not a regular file", "pipe.npy": "not a regular file"}


def test_jsonl_rows_with_malformed_lines_and_missing_fields(tmp_path):
    rows = ['{"id": "x1", "text": "first", "label": "a"}', "{not json", "", '["a list"]',
            '{"id": "x2", "body": "no text field"}', '{"id": "x3", "text": "   "}', '{"text": "no id", "label": 3}',
            "[" * 100_000 + "]" * 100_000]
    (tmp_path / "rows.jsonl").write_text("\n".join(rows))
    items, skipped = _split(list(iter_items([tmp_path / "rows.jsonl"])))
    assert [(i.key, i.text, i.label) for i in items] == [("x1", "first", "a"), ("rows.jsonl#7", "no id", "3")]
    assert skipped == {"rows.jsonl#2": "malformed JSON: Expecting property name enclosed in double quotes",
                       "rows.jsonl#4": "not a JSON object", "rows.jsonl#5": "no 'text' field",
                       "rows.jsonl#6": "empty text", "rows.jsonl#8": "malformed JSON: nested too deeply"}


def test_jsonl_with_named_fields(tmp_path):
    (tmp_path / "r.jsonl").write_text(json.dumps({"key": "k1", "body": "hello", "cls": "greeting"}) + "\n"
                                      + json.dumps({"body": "no key"}) + "\n")
    items, skipped = _split(list(iter_items([tmp_path / "r.jsonl"], Fields(text="body", label="cls", id="key"))))
    assert [(i.key, i.text, i.label) for i in items] == [("k1", "hello", "greeting")]
    assert skipped == {"r.jsonl#2": "no 'key' field"}
    # An empty cell is there but empty: said so, not "no field" (as a user reads the file, the column is there).
    (tmp_path / "e.csv").write_text("key,body\n,a text with no key\nk2,\nk3,a third\n")
    items, skipped = _split(list(iter_items([tmp_path / "e.csv"], Fields(text="body", id="key"))))
    assert [i.key for i in items] == ["k3"] and skipped == {"e.csv#2": "empty 'key'", "e.csv#3": "empty text"}
    (tmp_path / "n.jsonl").write_text('{"text": null}\n{"text": ""}\n')
    assert _split(list(iter_items([tmp_path / "n.jsonl"])))[1] == {"n.jsonl#1": "empty text", "n.jsonl#2": "empty text"}


def test_jsonl_lines_break_only_at_line_ends_not_at_the_separators_json_may_hold_in_a_string(tmp_path):
    # json.dumps(ensure_ascii=False) writes U+2028, U+2029 and NEL as they are; str.splitlines broke at them.
    rows = [{"text": "one\u2028two\u2029three\x85four"}, {"text": "five"}]
    (tmp_path / "u.jsonl").write_bytes("\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())
    items, skipped = _split(list(iter_items([tmp_path / "u.jsonl"])))
    assert [(i.key, i.text) for i in items] == [("u.jsonl#1", rows[0]["text"]), ("u.jsonl#2", "five")]
    assert skipped == {}


def test_csv_rows_and_malformed_rows(tmp_path):
    (tmp_path / "t.csv").write_text('id,text,label\n1,"a, quoted text",x\n2,too,many,fields\n3,short\n4,fine,y\n')
    items, skipped = _split(list(iter_items([tmp_path / "t.csv"])))
    assert [(i.key, i.text, i.label) for i in items] == [("1", "a, quoted text", "x"), ("4", "fine", "y")]
    assert skipped == {"t.csv#3": "malformed row: 4 fields, expected 3",
                       "t.csv#4": "malformed row: 2 fields, expected 3"}
    long = "word " * 60_000 + "end"  # one field beyond the csv module's default limit (128 KiB)
    (tmp_path / "v.csv").write_bytes(f'id,text,label\r\n5,"{long}",z\r\n6,"two\r\nlines",z\r7,old mac,z\r'.encode())
    items, skipped = _split(list(iter_items([tmp_path / "v.csv"])))
    assert [(i.key, i.text) for i in items] == [("5", long), ("6", "two\r\nlines"), ("7", "old mac")] and not skipped
    (tmp_path / "t.tsv").write_text('id\ttext\tlabel\n1\ta, "quoted" text\tx\n2\ttabs\tand\tmore\n')
    items, skipped = _split(list(iter_items([tmp_path / "t.tsv"])))
    assert [(i.key, i.text, i.label) for i in items] == [("1", 'a, "quoted" text', "x")]
    assert skipped == {"t.tsv#3": "malformed row: 4 fields, expected 3"} and count_inputs([tmp_path / "t.tsv"]) == 2
    (tmp_path / "u.csv").write_text("a,b\n1,2\n")
    _, skipped = _split(list(iter_items([tmp_path / "u.csv"])))
    assert skipped == {"u.csv": "no 'text' column (columns: a, b): name the text field, or embed rows of "
                       "values with a table model (autoencoder, tsne, raw)"}
    _, skipped = _split(list(iter_items([tmp_path / "u.csv"], Fields(text="body"))))
    assert skipped == {"u.csv": "no 'body' column (columns: a, b)"}  # a field named by the user: no hint


def test_a_column_named_twice_skips_the_file_where_its_rows_are_read_by_it(tmp_path):
    """A row keeps one of two same-named columns' values and would drop the other unseen: a table row's
    feature, or a second text. A repeated column that no row is read by does no harm."""
    (tmp_path / "t.csv").write_text("text,text\nhello,there\n")
    (tmp_path / "f.csv").write_text("x,x,y\n1,2,3\n")
    (tmp_path / "n.csv").write_text("text,note,note\nhello,1,2\n")
    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["text", "text"]),
                   tmp_path / "t.parquet")
    twice = "the file names the column '{}' more than once: give each column its own name"
    items, skipped = _split(list(iter_items([tmp_path])))
    assert [i.text for i in items] == ["hello"] and skipped == {
        "f.csv": "no 'text' column (columns: x, x, y): name the text field, or embed rows of values with a table "
                 "model (autoencoder, tsne, raw)", "t.csv": twice.format("text"), "t.parquet": twice.format("text")}
    _, skipped = _split(list(iter_items([tmp_path / "f.csv", tmp_path / "n.csv"], Fields(table=True))))
    assert skipped == {"f.csv": twice.format("x"), "n.csv": twice.format("note")}


def test_precomputed_vectors_from_npy_with_ids_and_parquet(tmp_path):
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "v.ids.txt").write_text("a\nb\nc\n")
    table = pa.table({"id": ["p", "q"], "vector": [[1.0, 0, 0, 0], [0, 1.0, 0, 0]], "label": ["x", None]})
    pq.write_table(table, tmp_path / "w.parquet")
    np.save(tmp_path / "bad.npy", np.zeros(5))
    np.save(tmp_path / "complex.npy", np.ones((2, 4)) * (1 + 2j))  # its imaginary parts would be dropped
    items, skipped = _split(list(iter_items([tmp_path])))
    assert [(i.key, i.kind, i.label) for i in items] == [
        ("a", "vector", None), ("b", "vector", None), ("c", "vector", None), ("p", "vector", "x"),
        ("q", "vector", None)]
    np.testing.assert_array_equal(items[1].vector, vectors[1])
    assert skipped == {"bad.npy": "expected a 2-D array of real numbers, got shape (5,) of float64",
                       "complex.npy": "expected a 2-D array of real numbers, got shape (2, 4) of complex128"}


def test_jsonl_rows_with_a_vector_are_precomputed_vectors_as_records_are(tmp_path):
    rows = [{"id": "a", "vector": [1, 0, 0], "label": "x"}, {"vector": [0, 1, 0]}, {"id": "c", "vector": "1,2"},
            {"id": "d", "vector": [0, 0, 0]}, {"id": "e", "text": "a text", "vector": None},
            {"id": "g", "vector": [True, False, True]}, {"id": "h", "vector": ["1", "0.5", "0"]}]
    (tmp_path / "v.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    items, skipped = _split(list(iter_items([tmp_path / "v.jsonl"])))
    assert [(i.key, i.kind, i.label) for i in items] == [("a", "vector", "x"), ("v.jsonl#2", "vector", None),
                                                         ("e", "text", None)]
    np.testing.assert_array_equal(items[0].vector, [1, 0, 0])
    assert skipped == {"c": "the vector is not a list of numbers",
                       "d": "the vector is all zeros: it has no direction to compare",
                       "g": "the vector is not a list of numbers",  # numpy would have read them as 1, 0, 1
                       "h": "the vector is not a list of numbers"}
    (tmp_path / "n.jsonl").write_text(json.dumps({"id": "f", "emb": [0, 1], "body": "its text"}))
    assert [i.kind for i in iter_items([tmp_path / "n.jsonl"], Fields(vector="emb"))] == ["vector"]
    assert [i.kind for i in iter_items([tmp_path / "n.jsonl"], Fields(text="body"))] == ["text"]
    assert _split(list(iter_items([tmp_path / "n.jsonl"], Fields(vector="vec"))))[1] == {"n.jsonl#1": "no 'vec' field"}
    (tmp_path / "t.jsonl").write_text(json.dumps({"id": "g", "x": 1.5, "y": "red", "label": "l"}))
    assert [(i.key, i.kind, i.values, i.label) for i in iter_items([tmp_path / "t.jsonl"], Fields(table=True))] == [
        ("g", "row", {"x": 1.5, "y": "red"}, "l")]


def test_parquet_rows_are_read_as_jsonl_rows_are_texts_or_vectors(tmp_path):
    pq.write_table(pa.table({"id": ["a", None], "text": ["first text", "second"], "label": ["x", "y"],
                             "other": [1, 2]}), tmp_path / "t.parquet")
    pq.write_table(pa.table({"a": [1], "b": [2]}), tmp_path / "n.parquet")
    items, skipped = _split(list(iter_items([tmp_path / "t.parquet", tmp_path / "n.parquet"])))
    assert [(i.key, i.kind, i.text, i.label) for i in items] == [("a", "text", "first text", "x"),
                                                                 ("t.parquet#1", "text", "second", "y")]
    assert skipped == {"n.parquet": "no 'text' or 'vector' column (columns: a, b): name the text field, or embed "
                       "rows of values with a table model (autoencoder, tsne, raw)"}
    _, skipped = _split(list(iter_items([tmp_path / "t.parquet"], Fields(text="body"))))
    assert skipped == {"t.parquet": "no 'body' column (columns: id, text, label, other)"}


def test_a_key_or_label_that_is_not_a_string_is_kept_as_json_writes_it(tmp_path):
    rows = [{"id": True, "text": "yes", "label": False}, {"id": [1, "a"], "text": "list", "label": {"b": 1, "a": "é"}},
            {"id": 7, "text": "number", "label": 2.5}]
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    items, _ = _split(list(iter_items([tmp_path / "rows.jsonl"])))
    assert [(i.key, i.label) for i in items] == [("true", "false"), ('[1, "a"]', '{"a": "é", "b": 1}'), ("7", "2.5")]
