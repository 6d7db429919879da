"""Decoders: the Fashion-MNIST sample's vectors drawn back as images that its model puts in the same clusters,
the wine rows' cluster centres decoded into typical rows, the losses in DuckDB, the figures, and the errors."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from embc import Workspace
from embc.cli import app
from embc.decode.pairs import held_out
from embc.queries import embed_query
from tests.helpers import ROOT

FASHION = ROOT / "images" / "samples" / "fashion-mnist-600"
runner = CliRunner()


def embc(home, *args):
    return runner.invoke(app, ["--data-dir", str(home), *args])


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    """The Fashion-MNIST sample clustered at k=10, with a decoder trained through the command line."""
    home = tmp_path_factory.mktemp("decode-fashion")
    with Workspace(home) as ws:
        assert ws.ingest("fashion", FASHION).added == 600
        ws.recluster("fashion", k=10, seed=0, projection="none")
    trained = embc(home, "decoder", "train", "-c", "fashion", "--json")
    assert trained.exit_code == 0, trained.stderr
    return home, json.loads(trained.stdout)


def test_decoded_held_out_images_land_in_their_own_cluster(fashion):
    home, result = fashion
    assert result["kind"] == "image" and result["size"] == 64 and result["items"] == 600
    assert result["held_out"] > 40 and result["skipped"] == 0
    assert result["same_cluster"] >= 0.70
    # The same measure through the public API: decode each held-out item, embed the image again, and find the
    # nearest cluster centre.
    with Workspace(home) as ws:
        info = ws.collection("fashion")
        ids, centres, _ = ws.reports.centroids(ws.reports.run("fashion")["run_id"])
        entries = [e for c in ws.clusters("fashion") for e in ws.members("fashion", c.id, limit=0)]
        held = [e for e in entries if held_out(e.id)][:60]
        same = []
        for entry in held:
            image = ws.decode("fashion", item=entry.item)
            assert image.size == (64, 64) and image.mode == "RGB"
            vector = embed_query(info, ws.embedder, image=image)
            same.append(ids[np.argmax(centres @ vector)] == entry.cluster)
    assert np.mean(same) >= 0.70


def test_training_losses_are_rows_in_duckdb(fashion):
    home, result = fashion
    con = duckdb.connect(str(home / "reports.duckdb"), read_only=True)
    rows = con.execute("SELECT epoch, phase, train_loss, val_loss FROM decoder_epochs WHERE collection = 'fashion' "
                       "ORDER BY epoch").fetchall()
    con.close()
    assert [r[0] for r in rows] == list(range(1, 21))
    assert [r[1] for r in rows] == ["pixels"] * 15 + ["features"] * 5
    assert all(r[2] > 0 and r[3] > 0 for r in rows)
    assert rows[14][3] < rows[0][3]  # the held-out pixel error fell
    assert result["best_epoch"] in range(16, 21)


def test_decode_and_the_figures_from_the_command_line(fashion, tmp_path):
    home, _ = fashion
    out = tmp_path / "centre.png"
    assert embc(home, "decode", "-c", "fashion", "--cluster", "0", "--out", str(out)).exit_code == 0
    centre = np.asarray(Image.open(out))
    assert centre.shape == (64, 64, 3) and centre.std() > 20  # a drawing, not a flat field
    with Workspace(home) as ws:
        bag = ws.item("fashion", "bag/t10k-00018.png")
        np.save(tmp_path / "v.npy", ws.store.retrieve("fashion", [bag.id], with_vectors=True)[0].vector)
    assert embc(home, "decode", "-c", "fashion", "--vector", str(tmp_path / "v.npy"), "--out",
                str(tmp_path / "v.png")).exit_code == 0
    for kind, extra in (("centroids", []), ("loss", []),
                        ("interpolate", ["--from", "bag/t10k-00018.png", "--to", "trouser/t10k-00002.png"])):
        result = embc(home, "plot", kind, "-c", "fashion", "--out", str(tmp_path / f"{kind}.png"), *extra)
        assert result.exit_code == 0, result.stderr
        figure = Image.open(tmp_path / f"{kind}.png")
        assert figure.width >= 500 and figure.height >= 150
    # Ten clusters, a row each: the centroid figure is tall.
    assert Image.open(tmp_path / "centroids.png").height > 1000


def test_wine_cluster_centres_decode_to_typical_rows(tmp_path):
    from sklearn.datasets import load_wine

    wine = load_wine()
    rows = [{**dict(zip(wine.feature_names, map(float, row))), "id": f"w{n}"} for n, row in enumerate(wine.data)]
    X = wine.data
    with Workspace(tmp_path) as ws:
        ws.ingest("wine", rows, model="autoencoder", id_field="id")
        ws.recluster("wine", k=3, seed=0, projection="none")
        assert ws.train_decoder("wine").kind == "row"
        labels = ws.labels("wine")
        clusters = np.array([labels[f"w{n}"] for n in range(len(rows))])
        for cluster in np.unique(clusters):
            decoded = ws.decode("wine", cluster=int(cluster))
            members = X[clusters == cluster]
            within = np.abs([decoded[f] for f in wine.feature_names] - members.mean(0)) <= members.std(0)
            assert within.mean() >= 0.8, (cluster, within)
    typical = embc(tmp_path, "decode", "-c", "wine", "--cluster", "0", "--json")
    assert typical.exit_code == 0 and set(json.loads(typical.stdout)) == set(wine.feature_names)
    table = embc(tmp_path, "decode", "-c", "wine", "--item", "w3")
    assert table.exit_code == 0 and "proline" in table.stdout


def test_decoder_errors_are_one_line(tmp_path):
    with Workspace(tmp_path) as ws:
        ws.ingest("vectors", [(f"v{n}", np.random.default_rng(n).normal(size=4)) for n in range(20)])
    cases = [(["decode", "-c", "vectors", "--item", "v1"], "has no decoder: train one with `embc decoder train"),
             (["decoder", "train", "-c", "vectors"], "holds vector items: decoders draw images and table rows"),
             (["decoder", "train", "-c", "nothing"], "no collection 'nothing'"),
             (["decode", "-c", "vectors"], "give exactly one of --item, --cluster, --vector or --text"),
             (["decode", "-c", "vectors", "--vector", str(tmp_path / "none.npy")], "no vector file"),
             (["plot", "interpolate", "-c", "vectors", "--from", "v1"], "needs both --from KEY and --to KEY")]
    for args, message in cases:
        result = embc(tmp_path, *args)
        assert result.exit_code == 1, (args, result.stdout)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
