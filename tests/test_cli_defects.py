"""What a new user met on the command line, each through the CLI as a user runs it: formats and files, tables
that fit, progress in one vocabulary, choices, global options, the noise cluster, deleting, renaming, pruning."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from embc.cli import app
from helpers import run_embc

runner = CliRunner()


@pytest.fixture
def home(tmp_path, clustered_home):
    """A copy of the clustered WordNet data directory, for commands that change it."""
    copy = tmp_path / "home"
    shutil.copytree(clustered_home, copy)
    return copy


def cli(home, *args):
    return runner.invoke(app, ["--data-dir", str(home), *args])


def test_export_picks_the_format_from_the_extension_and_a_dash_is_stdout(clustered_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, start in (("w.csv", b'"id","item","source"'), ("w.tsv", b'"id"\t"item"'), ("w.parquet", b"PAR1"),
                        ("w.jsonl", b'{"id": ')):
        result = cli(clustered_home, "export", "-c", "wordnet", "--out", name)
        assert result.exit_code == 0 and result.stdout == f"wrote 1600 rows to {name}\n"
        assert (tmp_path / name).read_bytes().startswith(start)
    assert len((tmp_path / "w.jsonl").read_text().splitlines()) == 1600
    piped = run_embc("export", "-c", "wordnet", "--out", "-", home=clustered_home)
    assert piped.returncode == 0 and piped.stderr == "wrote 1600 rows\n"
    rows = [json.loads(line) for line in piped.stdout.splitlines()]
    assert len(rows) == 1600 and {r["cluster"] for r in rows} == set(range(8)) and not (tmp_path / "-").exists()
    as_csv = run_embc("export", "-c", "wordnet", "--out", "-", "--format", "csv", home=clustered_home)
    assert as_csv.stdout.splitlines()[0].startswith('"id","item"') and len(as_csv.stdout.splitlines()) == 1601
    vectors = cli(clustered_home, "export", "-c", "wordnet", "--out", "v.tsv", "--vectors")
    assert (vectors.exit_code, vectors.stderr) == (1, "embc: error: vectors cannot go into TSV, whose cells hold "
                                                      "no lists: export them as parquet or jsonl\n")
    deep = tmp_path / ("folder-" * 12) / "w.csv"  # a path past the 80 columns of a pipe stays whole, on one line
    deep.parent.mkdir()
    exported = cli(clustered_home, "export", "-c", "wordnet", "--out", str(deep))
    drawn = cli(clustered_home, "plot", "map", "-c", "wordnet", "--out", str(deep.with_suffix(".png")))
    assert (exported.stdout, drawn.stdout) == (f"wrote 1600 rows to {deep}\n", f"wrote {deep.with_suffix('.png')}\n")
    unknown = cli(clustered_home, "export", "-c", "wordnet", "--out", "w.txt")
    assert (unknown.exit_code, unknown.stderr) == (1, "embc: error: cannot tell the format from 'w.txt': name a "
                                                      ".parquet, .csv, .tsv or .jsonl file, or give the format\n")


def test_an_output_that_cannot_be_written_is_one_line_and_a_reader_that_leaves_ends_the_command(clustered_home,
                                                                                                tmp_path):
    for args in (["export", "-c", "wordnet", "--format", "csv"], ["plot", "map", "-c", "wordnet"]):
        result = cli(clustered_home, *args, "--out", str(tmp_path))
        assert (result.exit_code, result.stderr) == (
            1, f"embc: error: cannot write {tmp_path}: it is a folder: name a file in it\n")
    full = cli(clustered_home, "export", "-c", "wordnet", "--out", "/dev/full", "--format", "csv")
    assert (full.exit_code, full.stderr) == (1, "embc: error: cannot write /dev/full: No space left on device\n")
    # `embc export -o - | head -c 100`: quietly, as `cat` stops, not with BrokenPipeError.
    process = subprocess.Popen([sys.executable, "-m", "embc", "export", "-c", "wordnet", "--out", "-"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ,
                                                                                    "EMBC_HOME": str(clustered_home)})
    assert len(process.stdout.read(100)) == 100
    process.stdout.close()
    assert (process.wait(timeout=120), process.stderr.read()) == (141, b"")


@pytest.mark.parametrize("command", [["collections"], ["clusters", "-c", "wordnet"],
                                     ["cluster", "3", "-c", "wordnet", "-n", "4"],
                                     ["similar", "--text", "a dog", "-c", "wordnet", "-n", "4"],
                                     ["report", "-c", "wordnet", "--runs"]])
def test_read_commands_print_every_format(clustered_home, command):
    rows = json.loads(cli(clustered_home, *command, "--format", "json").stdout)
    lines = cli(clustered_home, *command, "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == rows
    for fmt, sep in (("csv", ","), ("tsv", "\t")):
        out = cli(clustered_home, *command, "-f", fmt).stdout.splitlines()
        assert len(out) == len(rows) + 1 and sep in out[0]
    assert json.loads(cli(clustered_home, *command, "--json").stdout) == rows
    bad = cli(clustered_home, *command, "-f", "xml")
    assert bad.exit_code == 2
    assert "'--format' / '-f': 'xml' is not one of 'table', 'json', 'jsonl', 'csv', 'tsv'" in bad.stderr


def test_piped_tables_fit_80_columns_with_no_box_lines_or_python_reprs(clustered_home):
    """...and no line ends in the spaces that pad a column."""
    for command in (["report", "-c", "wordnet"], ["report", "-c", "wordnet", "--runs"], ["clusters", "-c", "wordnet"],
                    ["cluster", "3", "-c", "wordnet"], ["collections"]):
        result = run_embc(*command, home=clustered_home, env={"COLUMNS": "80"})
        assert result.returncode == 0
        assert max(map(len, result.stdout.splitlines())) <= 80, result.stdout
        assert not set("│┃━─┏┡╇") & set(result.stdout) and "{'" not in result.stdout
        assert [line for line in result.stdout.splitlines() if line.endswith(" ")] == []
    runs = run_embc("report", "-c", "wordnet", "--runs", home=clustered_home, env={"COLUMNS": "80"}).stdout
    assert "complete" in runs and "kmeans k=8 n_init=4" in runs


def test_a_cluster_table_is_titled_with_the_clusters_name_and_size(clustered_home):
    [listed] = [c for c in json.loads(run_embc("clusters", "-c", "wordnet", "--json", home=clustered_home).stdout)
                if c["id"] == 3]
    shown = run_embc("cluster", "3", "-c", "wordnet", "-n", "2", home=clustered_home).stdout.splitlines()
    assert shown[0] == f"cluster 3: {listed['name']} ({listed['size']:,} items)" and listed["name"]
    noise = run_embc("cluster", "noise", "-c", "wordnet", home=clustered_home)  # k-means leaves none
    note = "note: no point of 'wordnet' is noise in this run\n"
    assert (noise.stdout.splitlines()[0], noise.stderr) == ("cluster -1", note)


def test_a_failed_run_is_reported_as_failed_with_its_error(home):
    from embc.store.reports import ReportStore

    reports = ReportStore(home / "reports.duckdb")
    run_id = reports.start_run("wordnet", "full", "kmeans", {"k": 9}, 0, "minilm", {})
    reports.fail_run(run_id, "interrupted: the job stopped before it completed")
    result = cli(home, "report", "-c", "wordnet", "--run", str(run_id))
    assert result.exit_code == 0
    assert f"run {run_id} (full, failed): kmeans k=9, seed 0, nothing recorded" in " ".join(result.stdout.split())
    assert "error: interrupted: the job stopped before it completed" in result.stdout and "None" not in result.stdout
    assert cli(home, "clusters", "-c", "wordnet", "--run", str(run_id)).stderr == (
        f"embc: error: run {run_id} of collection 'wordnet' did not complete (failed: interrupted: the job stopped "
        "before it completed)\n")


def test_a_k_larger_than_the_collection_is_refused_and_records_nothing(home):
    result = cli(home, "recluster", "-c", "wordnet", "--k", "5000")
    assert (result.exit_code, result.stderr) == (
        1, "embc: error: k must be at most the collection's 1600 points, not 5000: give a smaller k\n")
    runs = json.loads(cli(home, "report", "-c", "wordnet", "--runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["complete"]
    assert cli(home, "recluster", "-c", "wordnet").stdout == "wordnet: nothing new since run 1\n"


def test_piped_progress_is_a_line_as_each_step_starts_in_one_spelling(home, tmp_path):
    job = run_embc("recluster", "-c", "wordnet", "--full", "--projection", "none", home=home)
    assert job.returncode == 0
    steps = [line.removeprefix("embc: ") for line in job.stderr.splitlines() if not re.search(r"\d/\d", line)]
    assert steps == ["page out", "fit", "match ids", "evaluate", "describe", "project", "write labels"]
    (tmp_path / "notes").mkdir()
    for n in range(30):
        (tmp_path / "notes" / f"{n}.txt").write_text(f"note number {n} about the weather")
    ingest = run_embc("ingest", str(tmp_path / "notes"), "-c", "notes", home=home)
    assert ingest.stderr.splitlines() == ["embc: ingest (30)", "embc: ingest 30/30"]
    quiet = run_embc("recluster", "-c", "wordnet", "--full", "--projection", "none", "--quiet", home=home)
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_global_options_go_anywhere_and_there_is_a_version(clustered_home):
    after = run_embc("collections", "--json", "--data-dir", str(clustered_home), home=clustered_home.parent / "x")
    assert after.returncode == 0 and json.loads(after.stdout)[0]["name"] == "wordnet"
    version = run_embc("--version")
    assert version.returncode == 0 and re.fullmatch(r"embc \d+\.\d+\.\d+\n", version.stdout)


def test_the_noise_cluster_and_unknown_clusters(clustered_home, home):
    # A run without noise (k-means here; a density fit may leave none) answers for it with no points, not an error.
    for name in ("-1", "noise"):
        none = cli(clustered_home, "cluster", name, "-c", "wordnet", "--json")
        assert (none.exit_code, json.loads(none.stdout), none.stderr) == (
            0, [], "note: no point of 'wordnet' is noise in this run\n")
    within = cli(clustered_home, "similar", "--text", "a dog", "-c", "wordnet", "--cluster", "noise", "--json")
    assert (within.exit_code, json.loads(within.stdout), within.stderr) == (0, [], none.stderr)
    named = cli(clustered_home, "rename", "noise", "stray", "-c", "wordnet")  # no noise to name
    assert (named.exit_code, named.stderr) == (1, cli(clustered_home, "cluster", "42", "-c", "wordnet").stderr.replace(
        "42", "-1"))
    unknown = cli(clustered_home, "similar", "--text", "a dog", "-c", "wordnet", "--cluster", "42")
    assert (unknown.exit_code, unknown.stderr) == (1, cli(clustered_home, "cluster", "42", "-c", "wordnet").stderr)
    assert cli(clustered_home, "cluster", "1.5", "-c", "wordnet").exit_code == 2
    density = cli(home, "recluster", "-c", "wordnet", "--algorithm", "dbscan", "--projection", "none")
    assert density.exit_code == 0 and "note:" not in density.stderr, density.stderr
    eps = json.loads(cli(home, "report", "-c", "wordnet", "--json").stdout)["run"]["params"]["eps_chosen"]
    runs = cli(home, "report", "-c", "wordnet", "--runs").stdout
    assert re.search(rf"eps_chosen={eps:.4g}(\s|$)", runs)  # not 17 digits
    noise = json.loads(cli(home, "cluster", "noise", "-c", "wordnet", "-n", "0", "--json").stdout)
    assert noise and {n["cluster"] for n in noise} == {-1}
    assert [n["item"] for n in noise] == sorted(n["item"] for n in noise)  # noise has no centre: by key
    assert json.loads(cli(home, "cluster", "-1", "-c", "wordnet", "-n", "0", "--json").stdout) == noise
    # A density fit that finds nothing says what to try, rather than leave a user with one noise cluster.
    nothing = cli(home, "recluster", "-c", "wordnet", "--algorithm", "hdbscan", "--min-size", "2000", "--reduce",
                  "none", "--projection", "none")
    assert (nothing.exit_code, nothing.stderr.splitlines()[-1]) == (0, (
        "note: hdbscan found no clusters in 1600 points (100% noise): try a smaller --min-size, or --algorithm "
        "kmeans with --k"))
    # A k given after a density run, with no algorithm: the last run's algorithm is kept, and the refusal says so.
    kept = cli(home, "recluster", "-c", "wordnet", "--k", "5")
    assert (kept.exit_code, kept.stderr) == (1, (
        "embc: error: hdbscan does not take k: it takes min_size, reduce, sample_cap (hdbscan is the last run's "
        "algorithm, kept when none is given; kmeans or agglomerative take k)\n"))
    assert cli(home, "recluster", "-c", "wordnet", "--k", "auto").stderr.endswith("; kmeans takes k)\n")
    named = cli(home, "recluster", "-c", "wordnet", "--algorithm", "dbscan", "--k", "5")
    assert named.stderr == "embc: error: dbscan does not take k: it takes eps, min_size, reduce, sample_cap\n"


def test_counts_of_one_read_in_the_singular(tmp_path):
    # Five table rows are too few for dbscan to tell groups apart: it finds one cluster.
    rows = tmp_path / "t.csv"
    rows.write_text("id,a,b\n1,1.0,2.0\n2,1.1,2.1\n3,9,9\n4,9.1,9.2\n5,5,1\n")
    home = tmp_path / "home"
    assert cli(home, "ingest", str(rows), "-c", "t", "--model", "raw").exit_code == 0
    one = cli(home, "recluster", "-c", "t", "--algorithm", "dbscan")
    assert one.exit_code == 0 and one.stdout.startswith("run 1 (full: first run): 5 points, 1 cluster ("), one.stdout
    assert "5 points, 1 cluster, model raw" in " ".join(cli(home, "report", "-c", "t").stdout.split())


@pytest.mark.parametrize("args, choices", [
    (["recluster", "--algorithm", "kmean"], "'kmeans', 'dbscan', 'hdbscan', 'agglomerative'"),
    (["recluster", "--projection", "umpa"], "'umap', 'tsne', 'pca', 'none'"),
    (["recluster", "--linkage", "single"], "'ward', 'average', 'complete'"),
    (["recluster", "--reduce", "tsne"], "'umap', 'pca', 'none'"),
    (["plot", "pie"], "'map', 'elbow', 'silhouette', 'montage'"),
    (["cluster", "3", "--order", "size"], "'centre', 'key'"),
    (["export", "--out", "x", "--format", "xls"], "'parquet', 'csv', 'tsv', 'jsonl'"),
])
def test_a_mistyped_choice_exits_2_with_the_choices(clustered_home, args, choices):
    result = cli(clustered_home, *args, "-c", "wordnet")
    assert result.exit_code == 2 and choices in result.stderr


def test_intervals_take_units_and_a_bare_number_is_refused():
    import typer

    from embc.cli.recluster import parse_interval

    assert [parse_interval(t) for t in ("30s", "10m", "1h30m", "1d", "2h", "366d")] == [
        30, 600, 5400, 86400, 7200, 366 * 86400]
    for text in ("10", "", "1.5h", "10 m", "m"):
        with pytest.raises(typer.BadParameter, match="a bare number has no unit"):
            parse_interval(text)
    for text in ("367d", "1000000000d", "9" * 30 + "s"):  # a wait this long overflowed the clock in the loop
        with pytest.raises(typer.BadParameter, match="longer than a year"):
            parse_interval(text)


def test_plot_without_out_names_the_file_and_never_overwrites(clustered_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(clustered_home, "plot", "map", "-c", "wordnet").stdout == "wrote wordnet-map.png\n"
    again = cli(clustered_home, "plot", "map", "-c", "wordnet")
    assert (again.exit_code, again.stderr) == (1, "embc: error: wordnet-map.png exists: name the file to write "
                                                  "with --out\n")
    assert cli(clustered_home, "plot", "map", "-c", "wordnet", "--out", "wordnet-map.png").exit_code == 0
    assert cli(clustered_home, "plot", "map", "-c", "wordnet", "--out", "figures/2026/map.png").stdout == (
        "wrote figures/2026/map.png\n")
    assert (tmp_path / "figures/2026/map.png").read_bytes().startswith(b"\x89PNG")


def test_elbow_of_an_earlier_run_with_run(home, tmp_path):
    assert cli(home, "recluster", "-c", "wordnet", "--k", "auto", "--projection", "none").exit_code == 0
    assert cli(home, "recluster", "-c", "wordnet", "--k", "7", "--projection", "none").exit_code == 0
    latest = cli(home, "plot", "elbow", "-c", "wordnet", "--out", str(tmp_path / "e.png"))
    assert (latest.exit_code, latest.stderr) == (1, "embc: error: run 3 has no k sweep: run 2 has one\n")
    assert cli(home, "plot", "elbow", "-c", "wordnet", "--run", "2", "--out", str(tmp_path / "e.png")).exit_code == 0
    assert (tmp_path / "e.png").read_bytes().startswith(b"\x89PNG")
    sizes = json.loads(cli(home, "clusters", "-c", "wordnet", "--run", "1", "--json").stdout)
    assert [c["run_id"] for c in sizes] == [1] * 8 and sum(c["size"] for c in sizes) == 1600


def test_rename_keeps_the_name_across_a_refit_and_delete_removes_items_and_collections(home):
    assert cli(home, "rename", "3", "  my cluster ", "-c", "wordnet").stdout == (
        "cluster 3 of 'wordnet' is now named 'my cluster'\n")
    refit = json.loads(cli(home, "recluster", "-c", "wordnet", "--full", "--seed", "5", "--projection", "none",
                           "--json").stdout)
    assert {c["id"]: c["name"] for c in refit["clusters"]}[3] == "my cluster"
    assert {c["id"]: c["name"] for c in json.loads(cli(home, "clusters", "-c", "wordnet", "--json").stdout)}[3] == (
        "my cluster")
    assert cli(home, "rename", "99", "x", "-c", "wordnet").exit_code == 1

    gone = cli(home, "delete", "wn-noun.animal-75", "wn-noun.food-3", "wn-noun.food-3", "-c", "wordnet")
    assert (gone.exit_code, gone.stdout) == (0, "deleted 2 of 2 items from 'wordnet'\n")  # a key named twice: once
    missing = cli(home, "delete", "wn-noun.animal-75", "wn-noun.food-4", "-c", "wordnet")
    assert (missing.exit_code, missing.stderr) == (
        1, "embc: error: 1 of the items named is not in collection 'wordnet'\n")
    assert json.loads(cli(home, "collections", "--json").stdout)[0]["points"] == 1597
    assert cli(home, "delete", "-c", "wordnet").exit_code == 1  # neither items, --run nor --all
    assert cli(home, "delete", "--all", "--run", "1", "-c", "wordnet").stderr == (
        "embc: error: give one of: item keys, --run N, --all\n")
    assert cli(home, "delete", "--run", "2", "-c", "wordnet").stderr == (
        "embc: error: run 2 is one the clusters of 'wordnet' come from now: only a failed run, or one a later "
        "full run replaced, can be deleted\n")
    assert cli(home, "delete", "--run", "1", "-c", "wordnet").stdout == "deleted run 1 of 'wordnet'\n"
    assert [r["run_id"] for r in json.loads(cli(home, "report", "-c", "wordnet", "--runs", "--json").stdout)] == [2]
    assert cli(home, "delete", "--all", "-c", "wordnet").stdout == "deleted collection 'wordnet' (1597 points)\n"
    assert json.loads(cli(home, "collections", "--json").stdout) == []
    assert cli(home, "report", "-c", "wordnet").stderr.startswith("embc: error: no collection 'wordnet'")


def test_ingest_prune_removes_the_points_whose_file_is_gone_and_nothing_else(tmp_path):
    notes, other = tmp_path / "notes", tmp_path / "other.txt"
    notes.mkdir()
    for n in range(5):
        (notes / f"{n}.txt").write_text(f"a note about topic {n}")
    other.write_text("a file named on its own")
    home = tmp_path / "home"
    assert run_embc("ingest", str(notes), str(other), "-c", "n", home=home).returncode == 0
    (notes / "1.txt").unlink()
    (notes / "3.txt").unlink()
    other.unlink()
    pruned = json.loads(run_embc("ingest", str(notes), "-c", "n", "--prune", "--json", home=home).stdout)
    assert (pruned["unchanged"], pruned["pruned"]) == (3, 2)
    kept = json.loads(run_embc("similar", "--text", "note", "-c", "n", "-n", "0", "--json", home=home).stdout)
    assert sorted(k["item"] for k in kept) == ["0.txt", "2.txt", "4.txt", "other.txt"]


def test_global_options_after_the_command_are_hoisted_unless_the_command_has_its_own():
    from embc.cli.app import hoist_global_options

    own = {"serve": ["--api-key", "--key"]}.get
    assert hoist_global_options(["collections", "--api-key", "Q", "-f", "json"], lambda c: own(c) or []) == [
        "--api-key", "Q", "collections", "-f", "json"]  # the Qdrant server's key
    assert hoist_global_options(["serve", "--api-key", "K", "--data-dir", "d"], lambda c: own(c) or []) == [
        "--data-dir", "d", "serve", "--api-key", "K"]  # the service's own key
    assert hoist_global_options(["--api-key", "Q", "serve", "--api-key", "K"], lambda c: own(c) or []) == [
        "--api-key", "Q", "serve", "--api-key", "K"]


def test_help_says_what_each_option_takes_rather_than_a_python_type():
    """An option of free text reads `--collection NAME`, `--id KEY`, `--out FILE`, not `<str>` or `<path>`."""
    from typer.main import get_command

    def commands(group, path=()):
        for name, command in group.commands.items():
            yield from commands(command, path + (name,)) if hasattr(command, "commands") else [path + (name,)]

    names = list(commands(get_command(app)))
    assert ("decoder", "train") in names and len(names) > 12
    for name in names:
        result = runner.invoke(app, [*name, "--help"], env={"COLUMNS": "200"})
        options = [line for line in result.stdout.splitlines() if line.lstrip().startswith("-")]
        assert result.exit_code == 0 and options, name
        assert not [line for line in options if re.search(r"<(str|path)>", line)], (name, options)
    assert "--collection NAME" in runner.invoke(app, ["similar", "--help"], env={"COLUMNS": "200"}).stdout


def test_escape_sequences_in_stored_text_are_shown_to_the_terminal_not_obeyed(home, tmp_path):
    """A document, an item key or a file name may hold escape sequences (clear the screen, retitle the window):
    tables, notes and errors print them as escapes."""
    rows = tmp_path / "rows.jsonl"
    markup = "a hunting dog [red]barks[/red] at [link=https://example.com]a link[/link] [/]"
    rows.write_text(json.dumps({"id": "esc\x1b[31mred", "text": "a hunting dog \x1b[2J\x1b]0;owned\x07 barks"}) + "\n"
                    + json.dumps({"id": "[bold]mark[/bold]", "text": markup}) + "\n")
    empty, forged = tmp_path / "bell\x07\x9b2J.txt", tmp_path / "a.txt\nembc: error: forged"
    empty.write_text("")
    forged.write_text("")
    ingested = cli(home, "ingest", str(rows), str(empty), str(forged), "-c", "wordnet")
    assert ingested.exit_code == 0 and ingested.stdout.split()[-4:] == ["2", "0", "0", "2"]
    assert "skipped bell\\x07\\x9b2J.txt" in ingested.stderr
    assert "skipped a.txt\\x0aembc: error: forged: " in ingested.stderr  # a line break cannot forge a line
    assert not [line for line in ingested.stderr.splitlines() if line.startswith("embc: error")]
    similar = cli(home, "similar", "--text", "a hunting dog barks", "-c", "wordnet", "-n", "1")
    assert similar.exit_code == 0 and "esc\\x1b[31mred" in similar.stdout
    assert "\\x1b[2J" in similar.stdout and "owned\\x07" in similar.stdout
    missing = cli(home, "similar", "--id", "gone\x1b[2J", "-c", "wordnet")
    assert missing.exit_code == 1 and "embc: error: no item 'gone\\x1b[2J' in collection 'wordnet'" in missing.stderr
    outputs = ingested.stdout + ingested.stderr + similar.stdout + missing.stdout + missing.stderr
    assert not set("\x1b\x07\x9b") & set(outputs)
    # Rich reads "[...]" in a string as markup: "[/]" ended the command with a MarkupError, "[link=...]" made a link.
    marked = cli(home, "similar", "--text", markup, "-c", "wordnet", "-n", "1")
    assert marked.exit_code == 0, marked.stderr
    assert all(shown in marked.stdout.split() for shown in ("[bold]mark[/bold]", "[red]barks[/red]", "[/]"))
    query = ("similar", "--text", "a hunting dog barks", "-c", "wordnet", "-n", "1")
    assert json.loads(cli(home, *query, "--json").stdout)[0]["item"] == "esc\x1b[31mred"  # the data is kept exact
    assert cli(home, *query, "-f", "csv").stdout.splitlines()[1].startswith("esc\x1b[31mred,")  # as in a pipe
    shown = run_embc(*query, "-f", "csv", home=home, env={"FORCE_COLOR": "1"})  # as in a terminal
    assert shown.stdout.splitlines()[1].startswith("esc\\x1b[31mred,")


def test_a_file_written_where_embc_keeps_its_own_is_refused_and_nothing_stored_is_lost(home, tmp_path):
    """`export --out DATA_DIR/reports.duckdb` replaced the report store with a CSV, and the run history was lost."""
    for command in (["export", "-c", "wordnet", "-f", "csv", "--out", str(home / "reports.duckdb")],
                    ["plot", "map", "-c", "wordnet", "--out", str(home / "collections" / "map.png")],
                    ["decode", "-c", "wordnet", "--cluster", "0", "--out", str(home / "vectors" / "c.png")],
                    ["export", "-c", "wordnet", "--out", str(tmp_path / "elsewhere" / ".." / "home" / "models" / "x")]):
        refused = cli(home, *command)
        assert refused.exit_code == 1, command
        assert "would replace or sit among embc's own files in the data directory" in refused.stderr, refused.stderr
    assert json.loads(cli(home, "report", "-c", "wordnet", "--runs", "--json").stdout)[0]["status"] == "complete"
    assert cli(home, "export", "-c", "wordnet", "--out", str(home / "mine.csv")).exit_code == 0  # beside them: fine
