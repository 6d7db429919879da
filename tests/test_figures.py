"""Figures of the WordNet run: valid PNGs of the expected size, titled, drawn from the report store."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from embc import Workspace
from embc.cli import app

runner = CliRunner()


@pytest.mark.parametrize("kind, size, title", [
    ("map", (1000, 800), "wordnet: run 1, kmeans, 8 clusters: 2-D map (1600 points)"),
    ("silhouette", (800, 510), "wordnet: run 1, kmeans, 8 clusters: silhouette per cluster"),
])
def test_figures_are_titled_pngs_of_the_expected_size(clustered_home, tmp_path, kind, size, title):
    out = tmp_path / f"{kind}.png"
    result = runner.invoke(app, ["--data-dir", str(clustered_home), "plot", kind, "-c", "wordnet", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as figure:
        assert (figure.format, figure.size, figure.info["Title"]) == ("PNG", size, title)


def test_a_figure_is_written_in_the_format_its_name_gives_and_exactly_there(clustered_home, tmp_path):
    def plot(name: str):
        return runner.invoke(app, ["--data-dir", str(clustered_home), "plot", "silhouette", "-c", "wordnet",
                                   "--out", str(tmp_path / name)])

    for name, starts in (("s.svg", b"<?xml"), ("s.PDF", b"%PDF"), ("no-suffix", b"\x89PNG")):
        assert plot(name).stdout == f"wrote {tmp_path / name}\n"
        assert (tmp_path / name).read_bytes().startswith(starts)
    for name in ("s.jpg", "s.txt"):
        refused = plot(name)
        assert (refused.exit_code, refused.stderr) == (1, f"embc: error: cannot write a figure as "
                                                          f"'{name[1:]}': name a .png, .svg, .pdf file\n")
        assert not (tmp_path / name).exists()


def test_report_store_holds_silhouettes_and_clustered_coordinates(clustered_home):
    con = duckdb.connect(str(clustered_home / "reports.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT cluster) FROM silhouettes").fetchone() == (1600, 8)
        assert con.execute("SELECT count(*) FROM coords WHERE cluster BETWEEN 0 AND 7").fetchone() == (1600,)
        mean = con.execute("SELECT avg(value) FROM silhouettes").fetchone()[0]
        assert mean == pytest.approx(con.execute("SELECT value FROM metrics WHERE name = 'silhouette'").fetchone()[0],
                                     abs=1e-5)
        assert con.execute("SELECT count(*) FROM clusters WHERE silhouette IS NOT NULL").fetchone() == (8,)
    finally:
        con.close()


def test_an_unknown_figure_is_a_clear_error(clustered_home):
    result = runner.invoke(app, ["--data-dir", str(clustered_home), "plot", "pie", "-c", "wordnet"])
    assert result.exit_code == 2  # a usage error: the choices are listed
    assert "'KIND': 'pie' is not one of" in result.stderr and "'map', 'elbow', 'silhouette', 'montage'" in result.stderr


def test_k_auto_picks_k_near_the_truth_records_the_sweep_and_draws_the_elbow(clustered_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    result = runner.invoke(app, ["--data-dir", str(home), "recluster", "-c", "wordnet", "--k", "auto", "--json"])
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert 6 <= run["params"]["k"] <= 10 and run["params"]["k_auto"] == "auto"
    con = duckdb.connect(str(home / "reports.duckdb"), read_only=True)
    try:
        sweep = con.execute("SELECT k, chosen FROM sweeps WHERE run_id = ? ORDER BY k", [run["run_id"]]).fetchall()
        params = json.loads(con.execute("SELECT params FROM runs WHERE run_id = ?", [run["run_id"]]).fetchone()[0])
    finally:
        con.close()
    assert [k for k, _ in sweep] == list(range(2, 23))
    assert [k for k, chosen in sweep if chosen] == [run["params"]["k"]] == [params["k"]]
    # The report shows the evidence: every k with its criterion, the chosen one farthest below the chord.
    report = json.loads(runner.invoke(app, ["--data-dir", str(home), "report", "-c", "wordnet", "--json"]).stdout)
    farthest = max(report["sweep"], key=lambda p: p["below_chord"])
    assert farthest["chosen"] and farthest["k"] == run["params"]["k"] and len(report["sweep"]) == 21
    near = [p["k"] for p in report["sweep"] if p["near_knee"]]
    assert near == [p["k"] for p in report["sweep"] if p["below_chord"] >= 0.9 * farthest["below_chord"]]
    assert farthest["k"] in near
    table = runner.invoke(app, ["--data-dir", str(home), "report", "-c", "wordnet"]).stdout
    assert "k (*): the inertia farthest below the chord" in table and f"{farthest['k']} *" in table
    out = tmp_path / "elbow.png"
    result = runner.invoke(app, ["--data-dir", str(home), "plot", "elbow", "-c", "wordnet", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as figure:
        assert figure.size == (800, 500) and "elbow and silhouette over k" in figure.info["Title"]
        band = np.all(np.abs(np.asarray(figure.convert("RGB"), int) - 236) <= 2, axis=2)  # grey at 15% on white
    assert band.sum() > 2000 * len(near)  # the k near the knee, shaded: a column of about 25 x 400 pixels a k


def test_a_sweep_without_a_bend_says_the_number_of_clusters_is_open(tmp_path):
    """Vectors without clusters: the inertia falls evenly, many k lie near its knee, and the report says so."""
    np.save(tmp_path / "noise.npy", np.random.default_rng(0).normal(size=(400, 16)).astype(np.float32))
    home = tmp_path / "home"
    ingested = runner.invoke(app, ["--data-dir", str(home), "ingest", str(tmp_path / "noise.npy"), "-c", "n"])
    assert ingested.exit_code == 0, ingested.stderr
    result = runner.invoke(app, ["--data-dir", str(home), "recluster", "-c", "n", "--k", "auto", "--json"])
    assert result.exit_code == 0, result.stderr
    report = " ".join(runner.invoke(app, ["--data-dir", str(home), "report", "-c", "n"]).stdout.split())  # unwrapped
    near = [p.k for p in Workspace(home).report("n").sweep if p.near_knee]
    assert max(near) - min(near) >= 3
    assert (f"k = {min(near)}-{max(near)} lie within 10% of it: the curve bends gradually, so the data leaves the"
            in report) and "--k LO-HI around what you expect" in report


def test_a_range_of_k_sweeps_that_range_and_chooses_its_elbow_within_it(clustered_home, tmp_path):
    """For a user who expects few topics, or many: the knee moves with the range swept, so the range is theirs."""
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    from embc.cluster.params import check_size
    from embc.errors import ParameterError

    for given in ("6-7", "1-9", "3-200"):
        result = runner.invoke(app, ["--data-dir", str(home), "recluster", "-c", "wordnet", "--k", given])
        assert result.exit_code == 2 and " ".join(result.stderr.replace("│", "").split()).endswith(
            f"Invalid value for --k: '{given}' is not a number of clusters: give an integer >= 2, 'auto' (chosen from "
            "2-22), or a range LO-HI to choose from, as '4-12' (2 <= LO, LO + 2 <= HI <= 100)"), result.stderr
        with Workspace(home) as ws, pytest.raises(ParameterError, match=f"^k must be .* not '{given}'$"):
            ws.recluster("wordnet", k=given)  # the library's own check, which the CLI's asks
    with pytest.raises(ParameterError, match="^k's range must begin below the collection's 40 points, not at 50$"):
        check_size({"k": "50-60"}, 40, "small")
    result = runner.invoke(app, ["--data-dir", str(home), "recluster", "-c", "wordnet", "--k", "3-6", "--json"])
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    report = json.loads(runner.invoke(app, ["--data-dir", str(home), "report", "-c", "wordnet", "--json"]).stdout)
    assert [p["k"] for p in report["sweep"]] == [3, 4, 5, 6] and 3 <= run["params"]["k"] <= 6
    assert [p["k"] for p in report["sweep"] if p["chosen"]] == [run["params"]["k"]] and run["params"]["k_auto"]
    assert len({c["id"] for c in run["clusters"] if c["id"] >= 0}) == run["params"]["k"]


def test_elbow_of_a_run_without_sweep_and_a_bad_k_are_clear_errors(clustered_home):
    result = runner.invoke(app, ["--data-dir", str(clustered_home), "plot", "elbow", "-c", "wordnet"])
    assert (result.exit_code, result.stderr) == (1, "embc: error: run 1 has no k sweep: recluster with k auto\n")
    for given in ("many", "²", "1", "2-3"):
        result = runner.invoke(app, ["--data-dir", str(clustered_home), "recluster", "-c", "wordnet", "--k", given])
        assert result.exit_code == 2
        assert f"'{given}' is not a number of clusters: give an integer >= 2, 'auto' (chosen from 2-22), or a range " \
            "LO-HI to choose from, as '4-12' (2 <= LO, LO + 2 <= HI <= 100)" in " ".join(
                result.stderr.replace("│", "").split())
    result = runner.invoke(app, ["--data-dir", str(clustered_home), "plot", "montage", "-c", "wordnet"])
    assert (result.exit_code, result.stderr) == (1, "embc: error: collection 'wordnet' holds text items (minilm): a "
                                                    "montage shows images; list a cluster's members instead\n")


def test_history_export_stability_and_other_projections(clustered_home, tmp_path):
    import pyarrow.parquet as pq

    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    cli = ["--data-dir", str(home)]
    result = runner.invoke(app, [*cli, "recluster", "-c", "wordnet", "--k", "8", "--projection", "pca", "--json"])
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    # Same data, same k and seed: the new run agrees with the previous one.
    assert run["metrics"]["stability_ari"] == pytest.approx(1.0)
    history = json.loads(runner.invoke(app, [*cli, "report", "-c", "wordnet", "--runs", "--json"]).stdout)
    assert [(r["run_id"], r["params"]["projection"]) for r in history] == [(run["run_id"], "pca"), (1, "umap")]
    result = runner.invoke(app, [*cli, "export", "-c", "wordnet", "--out", str(tmp_path / "all.parquet")])
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(tmp_path / "all.parquet")
    assert table.num_rows == 1600 and table.column_names == ["id", "item", "source", "kind", "label", "cluster",
                                                             "cluster_name", "x", "y", "text", "path", "values"]
    rows = table.to_pylist()
    listed = json.loads(runner.invoke(app, [*cli, "clusters", "-c", "wordnet", "--json"]).stdout)
    names = {r["id"]: r["name"] for r in listed}
    assert all(r["cluster_name"] == names[r["cluster"]] and r["x"] is not None for r in rows)
    result = runner.invoke(app, [*cli, "recluster", "-c", "wordnet", "--projection", "tsne", "--json"])
    assert result.exit_code == 0, result.stderr
    assert runner.invoke(app, [*cli, "plot", "map", "-c", "wordnet", "--out", str(tmp_path / "m.png")]).exit_code == 0


def test_the_animal_cluster_is_named_with_an_animal_word(clustered_home):
    home = ["--data-dir", str(clustered_home)]
    animal_counts = {}
    for row in json.loads(runner.invoke(app, [*home, "clusters", "-c", "wordnet", "--json"]).stdout):
        members = json.loads(runner.invoke(app, [*home, "cluster", str(row["id"]), "-c", "wordnet", "--limit", "0",
                                                 "--json"]).stdout)
        animal_counts[row["id"]] = (sum(m["label"] == "noun.animal" for m in members), row["keywords"])
    _, keywords = max(animal_counts.values())
    assert set(keywords) & {"animal", "animals", "fish", "bird", "birds", "dog", "mammal", "insect", "snake",
                            "breed", "species"}


def test_names_with_dollar_signs_are_drawn_as_text_not_typeset(clustered_home, tmp_path):
    """A cluster named 'a $\\frac$ b' failed the map and the silhouette with matplotlib's TeX parser's error."""
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    assert runner.invoke(app, ["--data-dir", str(home), "rename", "0", "a $\\frac$ b", "-c", "wordnet"]
                         ).exit_code == 0
    for kind in ("map", "silhouette"):
        drawn = runner.invoke(app, ["--data-dir", str(home), "plot", kind, "-c", "wordnet", "--out",
                                    str(tmp_path / f"{kind}.png")])
        assert drawn.exit_code == 0, drawn.stderr
