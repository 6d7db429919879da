"""Figures of the WordNet run: valid PNGs of the expected size, titled, drawn from the report store."""

from __future__ import annotations

import duckdb
import pytest
from PIL import Image
from typer.testing import CliRunner

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
    assert result.exit_code == 1
    assert result.stderr == "embc: error: unknown figure 'pie': choose from map, silhouette, montage\n"
