"""Hostile and broken input through the CLI as a user runs it: each bad item skipped with its reason and the
rest stored, each failure one line with a non-zero exit, no traceback, nothing written outside the data
directory."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import embc
from embc.ingest.items import NON_FINITE

from helpers import ROOT, run_embc


def _unit(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    X = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _one_line_error(result, message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"embc: error: {message}"), result.stderr


def test_non_finite_zero_and_malformed_vectors_are_skipped_and_the_rest_stored(tmp_path):
    X = _unit(6)
    X[1, 2], X[2, 0], X[3] = np.nan, np.inf, 0
    np.save(tmp_path / "v.npy", X)
    (tmp_path / "v.ids.txt").write_text("".join(f"k{i}\n" for i in range(6)))
    pq.write_table(pa.table({"id": ["s1", "s2"], "vector": [["a", "b"], ["c", "d"]]}), tmp_path / "strings.parquet")
    pq.write_table(pa.table({"id": ["n1", "n2"], "vector": [[0.5] * 8, [0.5, None] + [0.5] * 6]}),
                   tmp_path / "nulls.parquet")
    np.save(tmp_path / "big.npy", np.array([[1e39] + [0.5] * 7, [0.5] * 8]))  # float64: the first is beyond float32
    (tmp_path / "big.ids.txt").write_text("b1\nb2\n")
    (tmp_path / "w.npy").write_bytes((tmp_path / "v.npy").read_bytes())
    (tmp_path / "w.ids.txt").write_bytes(b"\xff\xfe not utf-8\n" * 6)
    result = run_embc("ingest", str(tmp_path / "v.npy"), str(tmp_path / "strings.parquet"),
                      str(tmp_path / "nulls.parquet"), str(tmp_path / "w.npy"), str(tmp_path / "v.ids.txt"),
                      str(tmp_path / "big.npy"), "--json",
                      home=tmp_path / "home")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    reasons = {s["source"]: s["reason"] for s in summary["skipped_items"]}
    assert summary["added"] == 5  # k0, k4, k5, n1 and b2
    assert reasons["k1"] == reasons["k2"] == reasons["n2"] == reasons["b1"] == NON_FINITE
    assert reasons["k3"] == "the vector is all zeros: it has no direction to compare"
    assert reasons["s1"] == "the vector is not a list of numbers"
    assert reasons["w.npy"] == "w.ids.txt cannot be read as UTF-8 text (UnicodeDecodeError)"
    assert reasons["v.ids.txt"] == "the ids of v.npy: ingest v.npy, and they are read with it"  # not a text
    recluster = run_embc("recluster", "--k", "2", "--projection", "none", "--json", home=tmp_path / "home")
    assert recluster.returncode == 0 and json.loads(recluster.stdout)["points"] == 5


def test_the_rows_of_a_damaged_parquet_page_are_skipped_and_the_rest_goes_in(tmp_path):
    """A damaged page failed the whole ingest ("embc: error: OSError: ..."), the other files' items with it."""
    pq.write_table(pa.table({"vector": [[float(i % 7 + 1), 1.0] for i in range(6000)]}), tmp_path / "dam.parquet",
                   row_group_size=1000, compression="zstd")
    column = pq.ParquetFile(tmp_path / "dam.parquet").metadata.row_group(2).column(0)
    data = bytearray((tmp_path / "dam.parquet").read_bytes())
    middle = column.data_page_offset + column.total_compressed_size // 2
    data[middle:middle + 16] = b"\xff" * 16  # in the page of rows 2000-2999
    (tmp_path / "dam.parquet").write_bytes(data)
    np.save(tmp_path / "v.npy", _unit(5, dim=2))
    result = run_embc("ingest", str(tmp_path / "dam.parquet"), str(tmp_path / "v.npy"), "--json",
                      home=tmp_path / "home")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] == 5000 + 5  # the other row groups, and the other file
    [skipped] = summary["skipped_items"]
    assert skipped["source"] == "dam.parquet#2000"
    assert skipped["reason"].startswith("rows 2000-2999 cannot be read (a damaged page): ")
    assert "\n" not in skipped["reason"]


def test_a_vector_another_client_stored_non_finite_is_left_out_of_a_recluster_and_counted(tmp_path):
    from embc.store.embedded import EmbeddedStore

    np.save(tmp_path / "v.npy", _unit(40))
    home = tmp_path / "home"
    assert run_embc("ingest", str(tmp_path / "v.npy"), "-c", "v", home=home).returncode == 0
    bad = _unit(1)
    bad[0, 0] = np.nan
    EmbeddedStore(home / "collections").upsert("v", [str(uuid.uuid4())], bad, [{"item": "from another client"}])
    run = json.loads(run_embc("recluster", "-c", "v", "--k", "3", "--projection", "none", "--json",
                              home=home).stdout)
    assert run["points"] == 40 and run["metrics"]["skipped_points"] == 1


def test_a_decompression_bomb_is_skipped_and_the_good_images_go_in(tmp_path, monkeypatch):
    folder = tmp_path / "images" / "boots"
    folder.mkdir(parents=True)
    for n, source in enumerate(sorted((ROOT / "images" / "samples" / "fashion-mnist-600" / "ankle-boot")
                                      .glob("*.png"))[:3]):
        (folder / f"{n}.png").write_bytes(source.read_bytes())
    Image.new("L", (3000, 2000)).save(folder / "huge.png")  # 6 megapixels: over a limit of 5 million
    env = {"EMBC_MAX_IMAGE_PIXELS": "5000000"}
    result = run_embc("ingest", str(tmp_path / "images"), "--json", home=tmp_path / "home", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] == 3
    assert summary["skipped_items"] == [{"source": "boots/huge.png", "reason": "3000x2000 is 6,000,000 pixels, "
                                         "over the limit of 5,000,000 (EMBC_MAX_IMAGE_PIXELS)"}]
    query = run_embc("similar", "--image", str(folder / "huge.png"), home=tmp_path / "home", env=env)
    _one_line_error(query, f"cannot embed the query image '{folder / 'huge.png'}': 3000x2000 is 6,000,000 pixels")


def test_a_very_long_text_is_cut_for_embedding_and_storing_with_its_length_recorded(tmp_path):
    (tmp_path / "long.txt").write_text("word " * 200_000)  # a million characters on one line
    home = tmp_path / "home"
    result = run_embc("ingest", str(tmp_path / "long.txt"), "-c", "t", "--json", home=home,
                      env={"EMBC_MAX_TEXT_CHARS": "5000"})
    assert json.loads(result.stdout)["added"] == 1
    from embc.store.embedded import EmbeddedStore

    payload = next(EmbeddedStore(home / "collections").pages("t", with_vectors=False)).payloads[0]
    assert len(payload["text"]) == 5000 and payload["text_length"] == 999_999  # less the final space
    (tmp_path / "long.txt").write_text("word " * 199_999 + "other")  # a change past the cut is a change
    again = run_embc("ingest", str(tmp_path / "long.txt"), "-c", "t", "--json", home=home,
                     env={"EMBC_MAX_TEXT_CHARS": "5000"})
    assert json.loads(again.stdout)["updated"] == 1


def _around(tmp_path: Path) -> set[Path]:
    """What lies in this pytest session's directory and in pytest's base directory beside it, where another
    pytest run on the machine may start a session of its own meanwhile (left out)."""
    base = tmp_path.parent.parent
    return set(tmp_path.parent.iterdir()) | {p for p in base.iterdir() if not p.name.startswith("pytest-")}


@pytest.mark.parametrize("args, message", [
    (["--data-dir", "", "collections"], "the data directory is an empty path"),
    (["similar", "--text", "", "-c", "wordnet"], "the query text is empty"),
    (["similar", "--text", "  ", "-c", "wordnet"], "the query text is empty"),
    (["recluster", "-c", "../../escape"], "invalid collection name '../../escape'"),
    (["ingest", "README.md", "-c", "wordnet\n"], "invalid collection name 'wordnet"),
    (["ingest", "README.md", "-c", "/tmp/elsewhere", "--model", "raw"], "invalid collection name '/tmp/elsewhere'"),
    (["clusters", "-c", "n" * 300], f"invalid collection name '{'n' * 39}... (300 characters): use 1-100 letters"),
    *[(["recluster", "-c", "wordnet", "-a", "dbscan", "--eps", eps],
       f"eps must be a finite number > 0, or unset (chosen from the data), not {float(eps)}")
      for eps in ("0", "-1", "nan", "inf")],
    *[(["recluster", "-c", "wordnet", "--refit-fraction", share],
       f"refit_fraction must be a number in (0, 1], not {float(share)}") for share in ("0", "1.5", "nan")],
])
def test_bad_names_values_and_empty_queries_are_one_line(clustered_home, tmp_path, args, message):
    before = _around(tmp_path)
    result = run_embc(*args, home=clustered_home)
    _one_line_error(result, message)
    assert _around(tmp_path) == before  # nothing made outside the data directory
    assert not (clustered_home.parent.parent / "escape").exists()
    assert [p.name for p in (clustered_home / "jobs").iterdir()] == ["wordnet.lock"]


def test_a_path_the_system_refuses_is_skipped_in_a_batch_and_one_line_elsewhere(tmp_path):
    long = str(tmp_path / ("x" * 300))  # each command below once ended in "OSError: [Errno 36] ... (set EMBC_DEBUG=1"
    (tmp_path / "a.txt").write_text("A text.")
    home = tmp_path / "home"
    result = run_embc("ingest", str(tmp_path / "a.txt"), long, "--json", home=home)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    counts = json.loads(result.stdout)
    assert (counts["added"], counts["skipped_items"]) == (1, [{"source": long, "reason": "file name too long"}])
    shown = f"{long!r:.40}... ({len(long)} characters): File name too long"
    for args in (["ingest", str(tmp_path / "a.txt"), "-c", "other", "--model", f"sentence-transformers:{long}"],
                 ["ingest", str(tmp_path / "a.txt"), "-c", "other", "--model", "resnet50", "--weights", long]):
        _one_line_error(run_embc(*args, home=home), shown)
    _one_line_error(run_embc("export", "--out", f"{long}.csv", home=home),
                    f"cannot write {long}.csv: File name too long")
    # An empty path (an unset variable in a script) would be the working folder: refused, not read.
    empty = run_embc("ingest", str(tmp_path / "a.txt"), "", home=home)
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    assert empty.stderr.strip().endswith("Invalid value for 'PATH': an empty path: name a file or folder")
    with embc.Workspace(home) as ws, pytest.raises(embc.ParameterError, match="^an empty path: name a file or folder$"):
        ws.ingest("default", "")


def test_a_file_as_the_data_directory_and_an_unexpected_failure_are_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    _one_line_error(run_embc("--data-dir", str(tmp_path / "file"), "collections"),
                    f"the data directory '{tmp_path / 'file'}' is a file, not a folder")
    home = tmp_path / "home"
    np.save(tmp_path / "v.npy", _unit(5))
    assert run_embc("ingest", str(tmp_path / "v.npy"), home=home).returncode == 0
    assert run_embc("ingest", str(tmp_path / "v.npy"), "-c", "sound", home=home).returncode == 0
    (home / "collections" / "default" / "meta.json").write_text("{not json")  # a damaged collection
    _one_line_error(run_embc("clusters", home=home), "collection 'default' is damaged: ")
    listed = json.loads(run_embc("collections", "--json", home=home).stdout)
    assert [(c["name"], c["modality"], c["points"]) for c in listed] == [("default", "damaged", 0),
                                                                         ("sound", "vector", 5)]
    (home / "reports.duckdb").mkdir()  # in the report store's place: said, and nothing moved
    _one_line_error(run_embc("report", "-c", "sound", home=home),
                    f"cannot open the report store {home / 'reports.duckdb'}: IO Error: Could not read from file")


@pytest.mark.parametrize("name, value, message", [
    ("EMBC_MAX_TEXT_CHARS", "-5", "EMBC_MAX_TEXT_CHARS must be an integer >= 1, not '-5'"),  # cut every text before
    ("EMBC_MAX_IMAGE_PIXELS", "50M", "EMBC_MAX_IMAGE_PIXELS must be an integer >= 1, not '50M'"),  # ignored before
    ("EMBC_WAIT_TIMEOUT", "nan", "EMBC_WAIT_TIMEOUT must be a number >= 0 and <= 31622400, not 'nan'"),
    ("EMBC_MEMORY_BUDGET", "1e400", "EMBC_MEMORY_BUDGET must be a size like 4G or 512M, not '1e400'"),
    ("EMBC_PRECISION", "fp64", "EMBC_PRECISION must be fp32 or bf16, not 'fp64'"),
])
def test_a_setting_out_of_its_bounds_is_refused_before_any_work(tmp_path, monkeypatch, name, value, message):
    (tmp_path / "a.txt").write_text("A text that would be cut to one character.")
    result = run_embc("ingest", str(tmp_path / "a.txt"), home=tmp_path / "home", env={name: value})
    _one_line_error(result, message)
    assert not (tmp_path / "home" / "collections").exists()
    monkeypatch.setenv(name, value)
    with pytest.raises(embc.EmbcError, match=f"^{re.escape(message)}$"):
        embc.Workspace(tmp_path / "home")


def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "a.txt").write_text("A text.")
    for args in (["ingest", str(tmp_path / "a.txt")], ["serve", "--port", "8000"]):
        _one_line_error(run_embc("--data-dir", str(tmp_path / "file" / "home"), *args),
                        f"cannot make the data directory '{tmp_path / 'file' / 'home'}': Not a directory")


@pytest.mark.parametrize("option", ["--header-timeout", "--body-timeout"])
def test_a_server_deadline_must_be_finite_and_at_least_a_tenth_of_a_second(tmp_path, option):
    for value in ("inf", "nan", "0", "-1", "1e9"):
        result = run_embc("serve", "--port", "9", option, value, home=tmp_path / "home")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].endswith(
            f"Invalid value for '{option}': {float(value):g} is not a number of seconds from 0.1 to 31622400 (a year)")
    assert not (tmp_path / "home").exists()  # refused before the data directory is made


def test_an_error_embc_did_not_foresee_is_one_line_naming_its_type(tmp_path):
    import duckdb

    home = tmp_path / "home"
    np.save(tmp_path / "v.npy", _unit(5))
    assert run_embc("ingest", str(tmp_path / "v.npy"), home=home).returncode == 0
    (home / "reports.duckdb").unlink(missing_ok=True)
    with duckdb.connect(str(home / "reports.duckdb")) as db:  # a DuckDB file of some other tool's runs table
        db.execute("CREATE TABLE runs (x INTEGER)")
    result = run_embc("report", home=home)
    _one_line_error(result, 'BinderException: Binder Error: Referenced column "collection" not found')
    assert result.stderr.strip().endswith("(set EMBC_DEBUG=1 to see where)")
    debug = run_embc("report", home=home, env={"EMBC_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_damaged_report_store_is_moved_aside_and_a_new_one_started(clustered_home, tmp_path):
    import shutil

    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    (home / "reports.duckdb").write_bytes(b"garbage" * 1000)
    result = run_embc("report", "-c", "wordnet", home=home)
    _one_line_error(result, "collection 'wordnet' has no clustering yet")
    assert result.stderr.splitlines()[0].startswith(f"embc: the report store {home / 'reports.duckdb'} was damaged")
    assert [p.name.startswith("reports.duckdb.damaged-") for p in home.iterdir()].count(True) == 1
    rerun = json.loads(run_embc("recluster", "-c", "wordnet", "--projection", "none", "--json", home=home).stdout)
    assert (rerun["mode"], rerun["reason"], rerun["points"]) == ("full", "first run", 1600)


def test_credentials_in_a_server_url_are_never_printed(tmp_path):
    result = run_embc("--qdrant-url", "http://admin:hunter2@127.0.0.1:9/", "--api-key", "s3cret-key", "collections",
                      home=tmp_path, env={"EMBC_WAIT_TIMEOUT": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr and "s3cret-key" not in result.stderr
    garbled = run_embc("--qdrant-url", "http://admin:hunter2@local host:6333", "collections", home=tmp_path)
    assert garbled.returncode == 1 and len(garbled.stderr.splitlines()) == 1 and "hunter2" not in garbled.stderr
    assert garbled.stderr.startswith("embc: error: cannot reach Qdrant at http://***@local host:6333: ")


def test_the_library_never_puts_a_credential_in_a_message_either(tmp_path):
    # An application logs what the library raises, so the library masks as the command line does.
    url = "http://admin:hunter2@127.0.0.1:9"
    with pytest.raises(embc.EmbcError, match=re.escape("cannot reach Qdrant at http://***@127.0.0.1:9: ")) as raised:
        embc.Workspace(tmp_path, qdrant_url=url, api_key="s3cret-key").collections()
    client = embc.Client(url, api_key="s3cret-key")
    with pytest.raises(embc.EmbcError, match=re.escape("cannot reach embc serve at http://***@127.0.0.1:9: ")) as asked:
        client.collections()
    with pytest.raises(embc.ParameterError, match=re.escape("not a URL of embc serve: http://***@[::1")) as parsed:
        embc.Client("http://admin:hunter2@[::1")
    for shown in (str(raised.value), repr(client), str(asked.value), str(parsed.value)):
        assert "hunter2" not in shown and "s3cret-key" not in shown, shown


class _Planted:
    """A pickle that would create a file when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return Path.touch, (Path(self.marker),)


def test_a_planted_or_altered_model_file_is_never_unpickled(tmp_path):
    import pickle

    rows = tmp_path / "rows.csv"
    rows.write_text("id,a,b\n" + "".join(f"r{i},{i},{i % 3}\n" for i in range(12)))
    home = tmp_path / "home"
    marker = tmp_path / "the-pickle-ran"
    planted = home / "models" / "t"
    planted.mkdir(parents=True)
    (planted / "features.joblib").write_bytes(pickle.dumps(_Planted(marker)))
    # A new collection's model learns from its first ingest: what lies in its folder is removed, never loaded.
    assert run_embc("ingest", str(rows), "-c", "t", "--model", "raw", home=home).returncode == 0
    assert not marker.exists() and b"_Planted" not in (planted / "features.joblib").read_bytes()

    assert run_embc("ingest", str(rows), "-c", "sealed", "--model", "raw", home=home).returncode == 0
    more = tmp_path / "more.csv"
    more.write_text("id,a,b\nr99,5,1\n")
    assert run_embc("ingest", str(more), "-c", "sealed", home=home).returncode == 0  # sealed: loads
    (home / "models" / "sealed" / "features.joblib").write_bytes(pickle.dumps(_Planted(marker)))
    _one_line_error(run_embc("ingest", str(more), "-c", "sealed", "--retrain", home=home),
                    "the model files in")
    assert not marker.exists()
