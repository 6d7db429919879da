"""The real `embc` command in subprocesses: exit codes, one-line errors, fast read commands, and two
processes sharing one embedded store."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import run_embc


def _vectors(path, n, dim=32, seed=0, prefix="v"):
    rng = np.random.default_rng(seed)
    np.save(path, rng.normal(size=(n, dim)).astype(np.float32))
    path.with_name(path.stem + ".ids.txt").write_text("".join(f"{prefix}{i}\n" for i in range(n)))


def test_ingest_reports_skips_and_exits_1_only_when_nothing_went_in(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _vectors(data / "ok.npy", 5)
    (data / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    result = run_embc("ingest", str(data), "--json", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["added"], summary["skipped"]) == (5, 1)
    assert summary["skipped_items"][0]["source"] == "broken.npy"

    (tmp_path / "empty.txt").write_text("")
    result = run_embc("ingest", str(tmp_path / "empty.txt"), "-c", "other", home=tmp_path / "home")
    assert result.returncode == 1
    assert "skipped empty.txt: empty file" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "embc: error: nothing ingested: the one input was skipped"

    long = tmp_path / ("a-long-name-" * 8 + ".txt")  # a skip line past 80 columns stays one line in a log
    long.write_text("")
    result = run_embc("ingest", str(long), "-c", "other", "--quiet", home=tmp_path / "home")
    assert result.stderr.splitlines()[0] == f"skipped {long.name}: empty file"

    # Ten lines for each reason, then a count of the rest; the JSON summary lists every one.
    rows = [{"id": f"v{n}", "vector": [1.0, float(n)]} for n in range(3)]
    rows += [{"id": f"e{n}", "vector": []} for n in range(25)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows + [{"id": "x"}]))
    result = run_embc("ingest", str(tmp_path / "rows.jsonl"), "-c", "rows", "--quiet", home=tmp_path / "home")
    flat = "the vector is not a flat list of numbers"
    assert result.returncode == 0 and result.stderr.splitlines() == [
        *(f"skipped e{n}: {flat}" for n in range(10)), "skipped rows.jsonl#29: no 'text' field",
        f"... and 15 more skipped: {flat} (--format json lists every one)"]
    summary = json.loads(run_embc("ingest", str(tmp_path / "rows.jsonl"), "-c", "rows", "--json",
                                  home=tmp_path / "home").stdout)
    assert (summary["unchanged"], summary["skipped"], len(summary["skipped_items"])) == (3, 26, 26)


def test_model_mismatch_and_unknown_collection_exit_1_with_one_line(tmp_path):
    _vectors(tmp_path / "v.npy", 3)
    assert run_embc("ingest", str(tmp_path / "v.npy"), home=tmp_path).returncode == 0
    result = run_embc("ingest", str(tmp_path / "v.npy"), "--model", "minilm", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr == ("embc: error: collection 'default' was embedded with 'precomputed', not 'minilm': "
                             "use the same model, or another collection\n")
    # Said before any input is read as the other model's: a table read as text would skip every row instead.
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n2,5\n")
    assert run_embc("ingest", str(tmp_path / "t.csv"), "-c", "rows", "--model", "raw", home=tmp_path).returncode == 0
    result = run_embc("ingest", str(tmp_path / "t.csv"), "-c", "rows", "--model", "minilm", home=tmp_path)
    assert (result.returncode, result.stderr) == (1, "embc: error: collection 'rows' was embedded with 'raw', not "
                                                     "'minilm': use the same model, or another collection\n")
    result = run_embc("cluster", "1", "-c", "missing", home=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("embc: error: no collection 'missing'") and result.stderr.count("\n") == 1


def test_a_server_url_that_is_wrong_or_not_answering_is_one_line_without_its_password(tmp_path):
    for url, message in (("http://[::1", "not a URL of embc serve: http://[::1 (Invalid port: ':1')"),
                         ("http://h:abc", "not a URL of embc serve: http://h:abc (Invalid port: 'abc')"),
                         ("http://me:pw@127.0.0.1:1", "cannot reach embc serve at http://***@127.0.0.1:1: ")):
        result = run_embc("clusters", home=tmp_path, env={"EMBC_URL": url})
        assert (result.returncode, result.stdout) == (1, ""), url
        assert result.stderr.startswith("embc: error: " + message) and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("command", [["--help"], ["collections"], ["clusters", "-c", "wordnet"],
                                     ["cluster", "0", "-c", "wordnet"], ["report", "-c", "wordnet"],
                                     ["similar", "--id", "wn-noun.food-39", "-c", "wordnet"]])
def test_read_commands_answer_without_importing_the_heavy_libraries(clustered_home, command):
    probe = ("import sys, json\nfrom embc.cli import app\n"
             f"sys.argv = ['embc', '--data-dir', {str(clustered_home)!r}, *{command!r}]\n"
             "try:\n    app()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'sklearn', 'umap', "
             "'sentence_transformers', 'qdrant_client'})\nprint(json.dumps(heavy))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_a_second_process_waits_for_the_store_and_then_completes(tmp_path):
    home = tmp_path / "home"
    _vectors(tmp_path / "a.npy", 200, prefix="a")
    _vectors(tmp_path / "b.npy", 300, seed=1, prefix="b")
    assert run_embc("ingest", str(tmp_path / "a.npy"), home=home).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom embc.store.locking import exclusive\n"
        f"with exclusive(Path({str(home)!r}) / 'collections' / 'default' / 'lock', 'test'):\n"
        "    print('held', flush=True)\n    time.sleep(3)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    result = run_embc("ingest", str(tmp_path / "b.npy"), "--json", home=home)
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert "embc: waiting for collection 'default': another embc process is using it" in result.stderr
    assert time.monotonic() - started >= 2
    assert json.loads(result.stdout)["added"] == 300
    count = run_embc("collections", "--json", home=home)
    assert json.loads(count.stdout)[0]["points"] == 500


def test_two_concurrent_ingests_into_one_store_both_complete_without_loss(tmp_path):
    home = tmp_path / "home"
    _vectors(tmp_path / "a.npy", 6000, prefix="a")
    _vectors(tmp_path / "b.npy", 6000, seed=1, prefix="b")
    procs = [subprocess.Popen([sys.executable, "-m", "embc", "--data-dir", str(home), "ingest", str(tmp_path / f),
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in ("a.npy", "b.npy")]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert sorted(json.loads(out)["added"] for out, _ in outputs) == [6000, 6000]
    listing = json.loads(run_embc("collections", "--json", home=home).stdout)
    assert listing == [{"name": "default", "points": 12000, "model": "precomputed", "dim": 32,
                        "modality": "vector", "precision": "fp32"}]
