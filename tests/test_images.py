"""Images: every odd format decodes to RGB, bad files are skipped with reasons, and the real
EfficientNet-Lite0 clusters the real Fashion-MNIST sample and finds look-alikes."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter

import numpy as np
import pytest
from helpers import FASHION
from PIL import Image
from typer.testing import CliRunner

from embc.cli import app
from embc.ingest.images import UnreadableImage, load_rgb
from embc.ingest.items import Item
from embc.results import Skipped
from embc.ingest.pipeline import ingest
from embc.ingest.sources import Fields, iter_items
from embc.store.embedded import EmbeddedStore

runner = CliRunner()


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(tmp_path / "rotated.jpg").size == (20, 40)


@pytest.mark.parametrize("make, expected", [
    (lambda: Image.new("RGBA", (4, 4), (0, 0, 0, 0)), (255, 255, 255)),        # transparent -> white
    (lambda: Image.new("RGBA", (4, 4), (255, 0, 0, 255)), (255, 0, 0)),        # opaque stays
    (lambda: Image.new("LA", (4, 4), (0, 0)), (255, 255, 255)),
    (lambda: Image.new("CMYK", (4, 4), (0, 255, 255, 0)), (255, 0, 0)),
    (lambda: Image.fromarray(np.full((4, 4), 65535, np.uint16)), (255, 255, 255)),  # 16-bit white
    (lambda: Image.fromarray(np.full((4, 4), 32896, np.uint16)), (128, 128, 128)),
])
def test_modes_become_8_bit_rgb(tmp_path, make, expected):
    image = make()
    path = tmp_path / ("x.tiff" if image.mode == "CMYK" else "x.png")
    image.save(path)
    rgb = load_rgb(path)
    assert rgb.mode == "RGB" and rgb.getpixel((1, 1)) == expected


def test_palette_with_transparency_and_gif_first_frame(tmp_path):
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    palette.save(tmp_path / "p.png", transparency=0)
    assert load_rgb(tmp_path / "p.png").getpixel((0, 0)) == (255, 255, 255)
    frames = [Image.new("RGB", (4, 4), c) for c in ("green", "blue")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    red, green, blue = load_rgb(tmp_path / "a.gif").getpixel((0, 0))
    assert green > 100 and blue < 50


def test_bad_image_files_are_skipped_with_reasons_and_the_rest_goes_in(tmp_path):
    folder = tmp_path / "photos" / "cats"
    folder.mkdir(parents=True)
    Image.new("RGB", (32, 32), "orange").save(folder / "good.png")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(buffer, "JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "empty.webp").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is not a picture")
    entries = list(iter_items([tmp_path / "photos"]))
    assert {s.source: s.reason for s in entries if isinstance(s, Skipped)} == {"cats/empty.webp": "empty file"}
    assert all(i.label == "cats" for i in entries if isinstance(i, Item))
    with pytest.raises(UnreadableImage, match="not an image"):
        load_rgb(folder / "notes.jpg")
    store = EmbeddedStore(tmp_path / "collections")
    broken = ingest(store, "broken", iter_items([folder / "notes.jpg", folder / "truncated.jpg"]))
    assert (broken.added, len(broken.skipped)) == (0, 2)
    assert store.collections() == []  # nothing stored: no empty collection left with its model fixed
    summary = ingest(store, "photos", iter_items([tmp_path / "photos"]))
    assert summary.added == 1
    reasons = {s.source: s.reason for s in summary.skipped}
    assert reasons["cats/empty.webp"] == "empty file"
    assert reasons["cats/notes.jpg"] == "not an image"
    assert reasons["cats/truncated.jpg"].startswith("corrupt or truncated image")
    no_labels = [i for i in iter_items([tmp_path / "photos"], Fields(folder_labels=False)) if isinstance(i, Item)]
    assert {i.label for i in no_labels} == {None}


@pytest.fixture(scope="module")
def fashion_home(tmp_path_factory):
    """The Fashion-MNIST sample less 5 held-out images a class, ingested with effnet-lite0 and clustered."""
    root = tmp_path_factory.mktemp("fashion")
    train, held_out = root / "train", root / "held-out"
    for folder in sorted(FASHION.iterdir()):
        files = sorted(folder.glob("*.png"))
        (train / folder.name).mkdir(parents=True)
        (held_out / folder.name).mkdir(parents=True)
        for n, file in enumerate(files):
            shutil.copy(file, (held_out if n < 5 else train) / folder.name / file.name)
    home = root / "home"
    for args in (["ingest", str(train), "-c", "fashion"], ["recluster", "-c", "fashion", "--k", "10"]):
        result = runner.invoke(app, ["--data-dir", str(home), *args])
        assert result.exit_code == 0, result.stderr
    return home, held_out


def test_effnet_kmeans_reaches_nmi_floor_on_fashion_mnist(fashion_home):
    home, _ = fashion_home
    report = json.loads(runner.invoke(app, ["--data-dir", str(home), "report", "-c", "fashion", "--json"]).stdout)
    assert report["run"]["model"] == "effnet-lite0" and report["run"]["n_points"] == 550
    assert report["metrics"]["nmi"] >= 0.55
    # Clusters are named by their members' most frequent folders (labels): the first, and a second that names at
    # least a quarter of them. ImageNet's classes named them "hatchet" (sneakers) and "can opener" (trousers).
    exported = runner.invoke(app, ["--data-dir", str(home), "export", "-c", "fashion", "--out", "-"]).stdout
    members = [json.loads(line) for line in exported.splitlines()]
    for cluster in report["clusters"]:
        folders = Counter(m["label"] for m in members if m["cluster"] == cluster["id"]).most_common()
        assert cluster["keywords"] == [name for n, (name, count) in enumerate(folders[:2])
                                       if n == 0 or count >= cluster["size"] / 4]
        assert cluster["name"] == ", ".join(cluster["keywords"])
    assert len({c["keywords"][0] for c in report["clusters"]}) >= 6  # most clusters are one class


def test_images_in_one_folder_are_named_by_their_imagenet_classes(fashion_home, tmp_path):
    """One label for all says nothing: the members' most frequent ImageNet classes (one a member, from the forward
    pass) name the clusters."""
    from embc.ingest.image_models import imagenet_categories

    home, held_out = fashion_home
    for args in (["ingest", str(held_out / "sneaker"), str(held_out / "bag"), "--no-folder-labels", "-c", "few"],
                 ["recluster", "-c", "few", "--k", "2", "--projection", "none"]):
        result = runner.invoke(app, ["--data-dir", str(tmp_path), *args])
        assert result.exit_code == 0, result.stderr
    report = json.loads(runner.invoke(app, ["--data-dir", str(tmp_path), "report", "-c", "few", "--json"]).stdout)
    for cluster in report["clusters"]:
        assert cluster["keywords"] and set(cluster["keywords"]) <= set(imagenet_categories())
        assert cluster["name"] == ", ".join(cluster["keywords"])


def test_similar_image_finds_the_same_class_for_held_out_images(fashion_home):
    """50 queries through one Workspace, which loads the model once (a CLI process a query loads it each time)."""
    from embc import Workspace

    home, held_out = fashion_home
    ws = Workspace(home)
    queries = sorted(held_out.glob("*/*.png"))
    hits = sum(ws.similar("fashion", image=query, limit=1)[0].label == query.parent.name for query in queries)
    assert hits / len(queries) >= 0.7
    result = runner.invoke(app, ["--data-dir", str(home), "similar", "--image", str(queries[0]), "-c", "fashion",
                                 "-n", "1", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["label"] == queries[0].parent.name


def test_montage_is_a_png_with_a_row_per_cluster(fashion_home, tmp_path):
    home, _ = fashion_home
    out = tmp_path / "montage.png"
    result = runner.invoke(app, ["--data-dir", str(home), "plot", "montage", "-c", "fashion", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as figure:
        assert figure.format == "PNG" and figure.height > 10 * 100 and figure.width >= 8 * 100
    one = tmp_path / "one.png"
    assert runner.invoke(app, ["--data-dir", str(home), "plot", "montage", "-c", "fashion", "--cluster", "3",
                               "--out", str(one)]).exit_code == 0
    with Image.open(one) as figure:
        assert figure.height < 400
    missing = runner.invoke(app, ["--data-dir", str(home), "plot", "montage", "-c", "fashion", "--cluster", "99",
                                  "--out", str(one)])
    assert missing.exit_code == 1 and missing.stderr.startswith(
        "embc: error: no cluster 99 in collection 'fashion' (clusters: 0, 1, ")


def test_image_queries_on_a_text_collection_and_missing_images_are_clear_errors(fashion_home, tmp_path):
    home, _ = fashion_home
    result = runner.invoke(app, ["--data-dir", str(home), "similar", "--text", "a shoe", "-c", "fashion"])
    assert result.exit_code == 1
    assert "holds image items (effnet-lite0): it cannot be queried with a text" in result.stderr
    result = runner.invoke(app, ["--data-dir", str(home), "similar", "--image", str(tmp_path / "nope.png"),
                                 "-c", "fashion"])
    assert (result.exit_code, result.stderr) == (1, f"embc: error: no image file '{tmp_path / 'nope.png'}'\n")
