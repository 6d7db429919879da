"""Decoders: the Fashion-MNIST sample's vectors drawn back as images that its model puts in the same clusters,
the wine rows' cluster centres decoded into typical rows, the losses in DuckDB, the figures, and the errors."""

from __future__ import annotations

import io
import json
import shutil
import time

import duckdb
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from embc import Workspace
from embc.cli import app
from embc.decode.pairs import held_out
from embc.errors import EmbcError
from embc.queries import embed_query
from embc.service.jobs import CANCELLED
from helpers import FASHION, run_embc
from test_service import KEY, start_server

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
            same.append(ids[np.argmin(((centres - vector) ** 2).sum(axis=1))] == entry.cluster)
    assert np.mean(same) >= 0.70


def test_training_losses_are_rows_in_duckdb(fashion):
    home, result = fashion
    con = duckdb.connect(str(home / "reports.duckdb"), read_only=True)
    rows = con.execute("SELECT epoch, phase, train_loss, val_loss FROM decoder_epochs WHERE collection = 'fashion' "
                       "ORDER BY epoch").fetchall()
    con.close()
    assert [r[0] for r in rows] == list(range(1, 21))
    assert [r[1] for r in rows] == ["pixels"] * 14 + ["features"] * 6
    assert all(r[2] > 0 and r[3] > 0 for r in rows)
    assert rows[13][3] < rows[0][3]  # the held-out pixel error fell
    assert result["best_epoch"] in range(15, 21)


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
    # The file's name gives the format; PNG without a suffix; a name Pillow cannot write is one line.
    for name, kind in (("v.jpg", "JPEG"), ("v.webp", "WEBP"), ("v", "PNG")):
        assert embc(home, "decode", "-c", "fashion", "--cluster", "0", "--out", str(tmp_path / name)).exit_code == 0
        assert Image.open(tmp_path / name).format == kind
    refused = embc(home, "decode", "-c", "fashion", "--cluster", "0", "--out", str(tmp_path / "v.txt"))
    assert (refused.exit_code, refused.stderr) == (1, "embc: error: cannot write an image as '.txt': name a .png, "
                                                      ".jpg or .webp file\n")
    for kind, extra in (("centroids", []), ("loss", []),
                        ("interpolate", ["--from", "bag/t10k-00018.png", "--to", "trouser/t10k-00002.png"])):
        result = embc(home, "plot", kind, "-c", "fashion", "--out", str(tmp_path / f"{kind}.png"), *extra)
        assert result.exit_code == 0, result.stderr
        figure = Image.open(tmp_path / f"{kind}.png")
        assert figure.width >= 500 and figure.height >= 150
    # Ten clusters, a row each: the centroid figure is tall.
    assert Image.open(tmp_path / "centroids.png").height > 1000


def test_a_training_cancelled_at_its_check_leaves_the_decoder_before(fashion, tmp_path):
    """A job cancelled at its last step ends as a crash would: the decoder kept and its losses are those before."""
    home = tmp_path / "home"
    shutil.copytree(fashion[0], home)

    def progress(step, done, total):
        if step == "check":
            raise EmbcError(CANCELLED)

    with Workspace(home) as ws:
        before = ws.reports.decoder_epochs("fashion")
        with pytest.raises(EmbcError, match=CANCELLED):
            ws.train_decoder("fashion", size=16, epochs=1, progress=progress)
        assert (ws.decoder("fashion").size, ws.decoder("fashion").facts["same_cluster"]) == (
            64, fashion[1]["same_cluster"])
        assert ws.reports.decoder_epochs("fashion") == before


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
    with Workspace(tmp_path) as ws:
        assert {r["phase"] for r in ws.reports.decoder_epochs("wine")} == {"values"}
    assert embc(tmp_path, "plot", "loss", "-c", "wine", "--out", str(tmp_path / "loss.png")).exit_code == 0


def test_decoder_errors_are_one_line(tmp_path):
    with Workspace(tmp_path) as ws:
        ws.ingest("vectors", [(f"v{n}", np.random.default_rng(n).normal(size=4)) for n in range(20)])
    np.save(tmp_path / "two.npy", np.ones((2, 4)))
    (tmp_path / "text.npy").write_text("not an array")
    cases = [(["decode", "-c", "vectors", "--item", "v1"], "has no decoder: train one first"),
             (["decoder", "train", "-c", "vectors"], "holds vector items: decoders draw images and table rows"),
             (["decoder", "train", "-c", "nothing"], "no collection 'nothing'"),
             (["decode", "-c", "vectors"], "give exactly one of --item, --cluster, --vector or --text"),
             (["decode", "-c", "vectors", "--vector", str(tmp_path / "none.npy")], "no vector file"),
             (["decode", "-c", "vectors", "--vector", str(tmp_path / "two.npy")], "of shape (2, 4), not one vector"),
             (["decode", "-c", "vectors", "--vector", str(tmp_path / "text.npy")], "it is not a .npy array of numbers"),
             (["plot", "interpolate", "-c", "vectors", "--from", "v1"], "needs both --from KEY and --to KEY")]
    for args, message in cases:
        result = embc(tmp_path, *args)
        assert result.exit_code == 1, (args, result.stdout)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_service_decodes_and_trains_decoders_as_jobs(fashion, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(fashion[0], home)
    process, served = start_server(home)
    try:
        base = "/v1/collections/fashion"
        centre = served.post(f"{base}/decode", json={"cluster": 0})
        assert centre.status_code == 200 and centre.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(centre.content)).size == (64, 64)
        assert served.get(f"{base}/clusters/0/decoded").content == centre.content
        assert served.post(f"{base}/decode", json={"item": "bag/t10k-00018.png"}).status_code == 200
        for body, status, error in (({}, 422, "give exactly one of item, cluster, vector or text"),
                                    ({"item": "bag/t10k-00018.png", "cluster": 1}, 422, "give exactly one"),
                                    ({"cluster": 99}, 404, "no cluster 99"),
                                    ({"vector": [1.0, 2.0]}, 422, "vector must have the collection's 1280"),
                                    ({"text": "a red shoe"}, 409, "collection 'fashion' holds image items")):
            refused = served.post(f"{base}/decode", json=body)
            assert refused.status_code == status and refused.json()["error"].startswith(error), refused.text
        for kind, params in (("loss", {}), ("centroids", {}),
                             ("interpolate", {"from": "bag/t10k-00018.png", "to": "trouser/t10k-00002.png"})):
            figure = served.get(f"{base}/plots/{kind}", params=params)
            assert figure.status_code == 200 and figure.headers["content-type"] == "image/png", figure.text
        assert served.get(f"{base}/plots/interpolate", params={"from": "x"}).status_code == 422
        # Trained again as a job, smaller; the CLI through the server gets the new one.
        job = served.post(f"{base}/decoder", json={"size": 16, "epochs": 2}).json()["job_id"]
        while (state := served.get(f"/v1/jobs/{job}").json())["state"] in ("queued", "running"):
            time.sleep(0.5)
        assert state["state"] == "done" and state["result"]["size"] == 16 and state["result"]["epochs"] == 2
        drawn = run_embc("--server", str(served.base_url), "decode", "-c", "fashion", "--cluster", "1", "--out",
                         str(tmp_path / "c1.png"), env={"EMBC_API_KEY": KEY})
        assert drawn.returncode == 0, drawn.stderr
        assert Image.open(tmp_path / "c1.png").size == (16, 16)
        described = served.get(f"{base}/decoder").json()
        assert described.pop("trained_at").endswith("Z") and described.pop("same_cluster") == state["result"][
            "same_cluster"] and 0 <= state["result"]["same_cluster"] <= 1
        assert described == {"trained": True, "kind": "image", "size": 16, "items": 600, "epochs": 2, "best_epoch": 2}
        assert served.post("/v1/collections/nothing/decoder", json={}).status_code == 404
        assert served.get("/v1/collections/nothing/decoder").status_code == 404
    finally:
        process.terminate()
        process.wait(30)


def test_a_scheduled_tick_trains_a_decoder_again_once_its_collection_has_grown(tmp_path):
    from sklearn.datasets import load_wine

    from embc.service import schedule
    from embc.service.jobs import Jobs

    wine = load_wine()
    rows = [{**dict(zip(wine.feature_names, map(float, row))), "id": f"w{n}"} for n, row in enumerate(wine.data)]
    with Workspace(tmp_path) as ws:
        ws.ingest("wine", rows[:100], model="raw", id_field="id")
        ws.recluster("wine", k=3, seed=0, projection="none")
        first = ws.train_decoder("wine", epochs=50)
        assert first.items == 100 and not ws.decoder_due("wine")
        ws.ingest("wine", rows[100:120], id_field="id")
        assert not ws.decoder_due("wine")  # 20% more: not yet
        ws.ingest("wine", rows[120:], id_field="id")
        assert ws.decoder_due("wine")
        jobs = Jobs()
        schedule.tick(ws, jobs)
        assert [j.state for j in jobs.jobs.values()] == ["done", "done"]
        retrained = list(jobs.jobs.values())[1].result
        assert retrained["items"] == 178 and retrained["epochs"] == 50  # trained as before, on every row now
        assert not ws.decoder_due("wine")


def test_a_clip_collection_decodes_a_text(tmp_path, clip_weights):
    """CLIP's code path with weights saved from a randomly initialised model (no hub here): a vision
    transformer is trained through at its own input size, and a text decodes through the shared space."""
    for n, colour in enumerate(["red", "green", "blue", "yellow"] * 3):
        (tmp_path / "photos" / colour).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), colour).save(tmp_path / "photos" / colour / f"{n}.png")
    home = tmp_path / "home"
    assert embc(home, "ingest", str(tmp_path / "photos"), "-c", "clip", "--model", "clip:ViT-S-32", "--weights",
                str(clip_weights)).exit_code == 0
    trained = embc(home, "decoder", "train", "-c", "clip", "--size", "16", "--epochs", "2", "--json")
    assert trained.exit_code == 0, trained.stderr
    assert json.loads(trained.stdout)["items"] == 12 and json.loads(trained.stdout)["same_cluster"] is None
    drawn = embc(home, "decode", "-c", "clip", "--text", "a red square", "--out", str(tmp_path / "red.png"))
    assert drawn.exit_code == 0, drawn.stderr
    assert Image.open(tmp_path / "red.png").size == (16, 16)
    refused = embc(home, "decoder", "train", "-c", "clip", "--size", "48")
    assert refused.exit_code == 1 and "size must be one of 16, 32, 64, 128, not 48" in refused.stderr
